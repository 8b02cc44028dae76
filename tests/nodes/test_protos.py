"""The committed generated code matches what `make protos` produces from protos/."""

from __future__ import annotations

from pathlib import Path

from nodes.ops.protogen import ROOT, generate


def test_generated_code_has_not_drifted(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    assert fresh, "protoc produced nothing"
    committed_dir = ROOT / "nodes" / "pb" / "v1"
    generated_names = {p.name for p in fresh if p.name != "__init__.py"}
    committed_names = {
        p.name for p in committed_dir.iterdir() if p.suffix in (".py", ".pyi") and "_pb2" in p.name
    }
    assert generated_names == committed_names, "run `make protos` and commit the result"
    for path in fresh:
        if path.name == "__init__.py":
            continue
        committed = (committed_dir / path.name).read_text()
        assert committed == path.read_text(), f"{path.name} drifted: run `make protos`"
