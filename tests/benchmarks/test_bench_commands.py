"""Each node benchmark answers --help as a script and through `yrd bench NAME -- --help`."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from nodes.cli.tools import bench
from tests.benchmarks._reports import run_script

OWN_OPTIONS = {
    "identity": ["--requests", "--rate"],
    "licence": ["--requests", "--rate", "--local-requests", "--licences"],
    "case": ["--requests", "--rate", "--applicants"],
    "scale": ["--requests", "--rate"],
}
SHARED_OPTIONS = ["--concurrency", "--rounds", "--warmup", "--open-workers", "--quick", "--out"]


@pytest.mark.parametrize("name", sorted(OWN_OPTIONS))
def test_script_help(name: str) -> None:
    proc = run_script(f"{name}_bench", "--help")
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
    proc = run_script("licence_bench", "--licences", "1")
    assert proc.returncode == 2
    assert "--licences >= 2" in proc.stderr
