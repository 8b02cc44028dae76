"""Smoke test: the identity benchmark runs end to end in --quick mode and reports sane JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness import LatencyRecorder, Supply, SupplyExhausted, run_open_loop

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "identity_bench.py"
PHASES = ("sequential", "closed_c1", "closed_c8", "open_loop")
TARGETS = ("echo", "verify_token")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "identity.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert json.loads(proc.stdout) == data  # the same report on stdout and in the file
    return data


def check_latency(summary: dict[str, Any]) -> None:
    assert summary["count"] > 0
    assert 0 < summary["min"] <= summary["p50"] <= summary["p90"] <= summary["p99"]
    assert summary["p99"] <= summary["max"]
    assert summary["min"] <= summary["mean"] <= summary["max"]


@pytest.mark.slow
def test_report_has_provenance(report: dict[str, Any]) -> None:
    assert report["benchmark"] == "identity_bench"
    assert "--quick" in report["command"]
    assert report["timestamp"]
    machine = report["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["python"] and machine["grpcio"]


@pytest.mark.slow
def test_every_phase_measures_both_targets(report: dict[str, Any]) -> None:
    phases = report["phases"]
    assert set(PHASES) <= set(phases)
    for name in PHASES:
        for t in TARGETS:
            result = phases[name][t]
            assert result["completed"] > 0, (name, t)
            assert result["errors"] == 0, (name, t, result.get("first_error"))
            assert result["throughput_per_s"] > 0
            check_latency(result["latency_ms"])
        ratios = phases[name]["ratios"]["verify_token/echo"]
        assert ratios["p50"] is not None and ratios["p50"] > 0
        assert ratios["throughput"] is not None and ratios["throughput"] > 0
    assert phases["open_loop"]["echo"]["rate_per_s"] > 0
    lag = phases["open_loop"]["verify_token"]["send_lag_ms"]
    assert lag["count"] > 0 and 0 <= lag["p50"] <= lag["p99"] <= lag["max"]


@pytest.mark.slow
def test_summary_targets_and_samples(report: dict[str, Any]) -> None:
    summary = report["summary"]
    for t in TARGETS:
        seq = summary[t]["sequential_latency_ms"]
        assert 0 < seq["p50"] <= seq["p90"] <= seq["p99"] <= seq["max"]
        assert summary[t]["throughput_c8_per_s"] > 0
    assert summary["ratios_verify_over_echo"]["closed_c8"]["throughput"] > 0
    targets = report["targets"]
    assert set(targets) == {"verify_p50_over_echo_p50", "verify_throughput_over_echo_c8"}
    for line in targets.values():  # whether they are met is a finding, never asserted here
        assert isinstance(line["met"], bool)
        assert line["value"] > 0
    assert isinstance(report["all_targets_met"], bool)
    assert isinstance(report["warnings"], list)
    samples = report["latency_samples_ms"]
    for t in TARGETS:
        values = samples[t]
        assert 0 < len(values) <= 2000
        assert all(v > 0 for v in values)


def test_percentiles_are_nearest_rank() -> None:
    rec = LatencyRecorder()
    rec.extend([i / 1000 for i in range(100, 0, -1)])  # 1..100 ms, unsorted
    summary = rec.summary_ms()
    assert summary["count"] == 100
    assert (summary["p50"], summary["p90"], summary["p99"]) == (50.0, 90.0, 99.0)
    assert (summary["min"], summary["max"]) == (1.0, 100.0)
    assert len(rec.sample_ms(10)) == 10
    assert LatencyRecorder().summary_ms() == {"count": 0}


def test_supply_hands_each_item_out_once() -> None:
    supply = Supply(["a", "b"])
    assert [supply.take(), supply.take()] == ["a", "b"]
    assert supply.remaining() == 0
    with pytest.raises(SupplyExhausted):
        supply.take()


def test_open_loop_charges_a_stall_to_the_requests_queued_behind_it() -> None:
    """Coordinated omission: with one worker stalled 0.2 s, the requests scheduled during the
    stall must count the wait from their intended send time (a lower bound, not a timing limit)."""
    import time

    calls = [0]

    def call() -> None:
        calls[0] += 1
        if calls[0] == 1:
            time.sleep(0.2)

    result = run_open_loop(call, rate_per_s=100.0, requests=20, workers=1)
    assert result.completed == 20
    slow = [s for s in result.latency.samples if s >= 0.1]
    # requests 0..10 were due within the first 0.1 s, so they all waited at least 0.1 s
    assert len(slow) >= 10
    assert result.send_lag is not None and max(result.send_lag.samples) >= 0.1
