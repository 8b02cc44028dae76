"""The integrators' client: the README example runs against real nodes; every method documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import nodes.client
from nodes.client import FederationClient
from nodes.client.cases import CaseCalls
from nodes.ops.supervisor import Federation

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    section = README.read_text(encoding="utf-8").split("## Python client", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the Python client section holds exactly one example"
    return str(blocks[0])


def test_readme_example_runs_against_real_nodes(
    small_fed: tuple[Path, Federation],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    directory, _ = small_fed
    monkeypatch.setenv("YRD_FEDERATION_DIR", str(directory))
    code = compile(readme_example(), str(README), "exec")
    exec(code, {"__name__": "readme_example"})
    exec(code, {"__name__": "readme_example"})  # again: registered already, logs in anew
    out = capsys.readouterr().out
    assert "ALREADY_EXISTS" in out
    assert "330106198805171242" in out


def _public_methods(cls: type) -> dict[str, object]:
    return {
        name: fn
        for name, fn in vars(cls).items()
        if inspect.isfunction(fn) and (not name.startswith("_") or name == "__init__")
    }


def _undocumented_or_untyped(cls: type) -> list[str]:
    problems = []
    for name, fn in _public_methods(cls).items():
        assert inspect.isfunction(fn)
        if not inspect.getdoc(fn):
            problems.append(f"{name}: no docstring")
        signature = inspect.signature(fn)
        if signature.return_annotation is inspect.Signature.empty:
            problems.append(f"{name}: no return type")
        for param in list(signature.parameters.values())[1:]:
            if param.annotation is inspect.Parameter.empty:
                problems.append(f"{name}({param.name}): no type")
    return problems


def test_every_public_client_method_is_typed_and_documented() -> None:
    assert inspect.getdoc(FederationClient)
    assert _undocumented_or_untyped(FederationClient) == []
    assert inspect.getdoc(nodes.client.to_dict)
    assert nodes.client.__all__ == sorted(nodes.client.__all__)


def test_every_public_case_call_is_documented() -> None:
    assert _undocumented_or_untyped(CaseCalls) == []
    for name in nodes.client.__all__:
        assert inspect.getdoc(getattr(nodes.client, name)), name
