"""Smoke tests of the simulator and start-up benchmark scripts (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
TARGET_KEYS = ["target", "value", "limit", "comparison", "met"]


def _report(script: str, *args: str) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    report: dict = json.loads(out.stdout)  # type: ignore[type-arg]
    return report


def test_quick_benchmark_reports_both_kernels_beside_bare_simpy() -> None:
    report = _report("simulator_bench.py", "--quick")
    assert [r["servers"] for r in report["mmc"]] == [1, 8, 40, 100]
    for row in report["mmc"]:
        assert row["model"] == "M/M/c" and row["rho"] == 0.9
        assert row["bare_simpy"]["kernel"] == "bare"
        assert row["simpy_kernel"]["kernel"] == "simpy"
        assert row["fast_heap_kernel"]["kernel"] == "fast"
        for name in ("bare_simpy", "simpy_kernel", "fast_heap_kernel"):
            assert row[name]["customers_per_s"] > 0
        assert row["simpy_kernel_ratio"] > 0 and row["fast_heap_kernel_ratio"] > 0
    ratio_lines = [t for t in report["targets"] if "over bare SimPy" in t["target"]]
    assert len(ratio_lines) == 2 * len(report["mmc"])
    for line in ratio_lines:
        assert list(line) == TARGET_KEYS
        assert line["target"].split()[0] in ("simpy_kernel", "fast_heap_kernel")
        assert "c=" in line["target"] and "rho=0.9" in line["target"]
        assert "customers" in line["target"]
    assert report["yrd_default"]["applicants"] > 0
    assert len(report["memory"]) == 2


def test_quick_startup_benchmark_names_each_command_it_timed() -> None:
    report = _report("startup_bench.py", "--quick")
    commands = [row["command"] for row in report["commands"]]
    assert commands[:3] == ["python -c pass", "yrd --help", "yrd sim --help"]
    assert any(c.startswith("yrd sim mmc -c") for c in commands)
    for row in report["commands"]:
        assert row["runs"] == 3 and row["median_s"] > 0
        assert "grpc" not in row["imports"]
    for line in report["targets"]:
        assert list(line) == TARGET_KEYS
        assert line["target"].startswith("`yrd ") and "median of 3" in line["target"]
