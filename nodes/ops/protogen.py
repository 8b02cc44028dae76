"""Regenerate the committed protobuf/gRPC code in nodes/pb/v1 from protos/ (`make protos`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: nodes/ops/protogen.py
PROTO_ROOT = ROOT / "protos"
PROTO_DIR = PROTO_ROOT / "nodes" / "pb" / "v1"


def generate(out_dir: Path) -> list[Path]:
    """Run protoc (grpcio-tools) with mypy-protobuf into `out_dir`; returns written files."""
    from grpc_tools import protoc  # dev dependency, exact-pinned in pyproject

    # protoc finds the mypy-protobuf plugins on PATH, next to this interpreter.
    bindir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    protos = sorted(PROTO_DIR.glob("*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_DIR}")
    out_dir.mkdir(parents=True, exist_ok=True)
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *[str(p) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p for p in (out_dir / "nodes" / "pb" / "v1").iterdir() if p.is_file())


def main() -> None:
    written = generate(ROOT)
    print("\n".join(str(p.relative_to(ROOT)) for p in written))


if __name__ == "__main__":
    main()
