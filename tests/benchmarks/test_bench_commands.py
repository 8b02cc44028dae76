"""Each node benchmark answers --help as a script and through `yrd bench NAME -- --help`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nodes.cli.tools import bench

ROOT = Path(__file__).resolve().parents[2]
OWN_OPTIONS = {
    "identity": ["--requests", "--rate"],
    "licence": ["--requests", "--rate", "--local-requests", "--licences"],
    "case": ["--requests", "--rate", "--applicants"],
}
SHARED_OPTIONS = ["--concurrency", "--rounds", "--warmup", "--open-workers", "--quick", "--out"]


@pytest.mark.parametrize("name", sorted(OWN_OPTIONS))
def test_script_help(name: str) -> None:
    script = ROOT / "benchmarks" / f"{name}_bench.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"usage: {name}_bench.py")
    for option in [*OWN_OPTIONS[name], *SHARED_OPTIONS]:
        assert option in proc.stdout, option


@pytest.mark.parametrize("name", sorted(OWN_OPTIONS))
def test_yrd_bench_help(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # `yrd bench` sets it for the script
    result = CliRunner().invoke(bench, [name, "--", "--help"])
    assert result.exit_code == 0, result.output
    for option in [*OWN_OPTIONS[name], *SHARED_OPTIONS]:
        assert option in result.output, option


def test_bad_sizes_are_refused_before_any_federation_starts() -> None:
    script = ROOT / "benchmarks" / "licence_bench.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--licences", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--licences >= 2" in proc.stderr
