"""Smoke test: the scale benchmark runs end to end in --quick mode and reports sane JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "scale_bench.py"
TARGETS = (
    "verify_throughput_2w_over_1w",
    "echo_throughput_2w_over_1w",
    "verify_server_cpu_per_request_2w_over_1w",
    "echo_server_cpu_per_request_2w_over_1w",
    "verify_server_cpu_per_request_over_echo_1w",
    "verify_server_cpu_per_request_over_echo_2w",
    "verify_throughput_over_echo_1w",
    "verify_throughput_over_echo_2w",
    "verify_open_loop_p50_2w_over_1w",
    "verify_open_loop_p99_2w_over_1w",
)
PHASES = {f"{w}_workers_{kind}" for w in (1, 2) for kind in ("closed", "open_loop")}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "scale.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert json.loads(proc.stdout) == data  # the same report on stdout and in the file
    return data


@pytest.mark.slow
def test_every_target_is_a_ratio_measured_in_the_run(report: dict[str, Any]) -> None:
    assert report["benchmark"] == "scale_bench" and "--quick" in report["command"]
    assert set(report["targets"]) == set(TARGETS)
    for name, line in report["targets"].items():
        assert isinstance(line["value"], float) and line["value"] > 0, name
        assert line["comparison"] in ("<=", ">=") and isinstance(line["met"], bool)
    assert report["all_targets_met"] == all(t["met"] for t in report["targets"].values())


@pytest.mark.slow
def test_both_worker_counts_answer_every_request_spread_over_the_workers(
    report: dict[str, Any],
) -> None:
    phases = report["phases"]
    assert set(phases) == PHASES
    for phase in phases.values():
        for name in ("echo", "verify_token"):
            result = phase[name]
            assert result["errors"] == 0 and result["completed"] == result["requests"] > 0
            assert result["server_cpu_ms_per_request"] is not None
    spread = report["setup"]["connections_per_worker"]
    assert spread["slot0_1w"] == [8] and spread["slot1_2w"] == [4, 4]
    summary = report["summary"]
    for key in ("echo_1w", "echo_2w", "verify_token_1w", "verify_token_2w"):
        assert summary[key]["throughput_per_s"] > 0
        assert summary[key]["open_loop_latency_ms"]["p50"] > 0
    assert report["setup"]["open_loop_rate_per_s"] >= 10
