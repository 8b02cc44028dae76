"""Smoke test of the simulator benchmark script (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "simulator_bench.py"


def test_quick_benchmark_prints_a_json_report() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    report = json.loads(out.stdout)
    assert [r["servers"] for r in report["mmc"]] == [1, 8, 40, 100]
    for row in report["mmc"]:
        assert row["bare_simpy_customers_per_s"] > 0 and row["engine_customers_per_s"] > 0
        assert row["engine_kernel"] == "fast"
    assert report["yrd_default"]["applicants"] > 0
    assert len(report["memory"]) == 2
