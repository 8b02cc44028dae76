"""Smoke test: the case benchmark runs end to end in --quick mode and reports sane JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks._reports import PROVENANCE_KEYS, RUN_OPTION_KEYS

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "case_bench.py"
PHASES = ("closed_c1", "closed_c4", "open_loop")
STEPS = ("submit", "start_review", "approve")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "case.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
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
    assert report["benchmark"] == "case_bench"
    assert "--quick" in report["command"]
    assert report["timestamp"]
    assert report["machine"]["cpu_count"] >= 1
    assert isinstance(report["warnings"], list)
    setup = report["setup"]
    assert setup["item"] == "YRD-JS-QY-0101"
    assert setup["face_checks"] >= 3 * setup["requests"]  # one fresh assertion per case


@pytest.mark.slow
def test_every_phase_closes_every_case_beside_the_echo(report: dict[str, Any]) -> None:
    phases = report["phases"]
    assert set(PHASES) <= set(phases)
    for name in PHASES:
        for t in ("echo", "case"):
            result = phases[name][t]
            assert result["completed"] > 0, (name, t)
            assert result["errors"] == 0, (name, t, result.get("first_error"))
            assert result["throughput_per_s"] > 0
            check_latency(result["latency_ms"])
        assert phases[name]["case"]["completed"] == report["setup"]["requests"]
        ratio = phases[name]["ratios"]["case/echo"]
        assert ratio["p50"] is not None and ratio["p50"] > 0
    lag = phases["open_loop"]["case"]["send_lag_ms"]
    assert lag["count"] > 0 and 0 <= lag["p50"] <= lag["p99"] <= lag["max"]


@pytest.mark.slow
def test_summary_breakdown_and_samples(report: dict[str, Any]) -> None:
    summary = report["summary"]
    for name in PHASES:
        case = summary["case"][name]
        lat = case["latency_ms"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert case["cases_per_s"] > 0
        steps = summary["breakdown_ms"][name]
        for step in STEPS:
            assert steps[step]["count"] == case["completed"]
            assert 0 < steps[step]["p50"] <= steps[step]["p99"] <= steps[step]["max"]
        share = steps["share_of_mean"]
        assert abs(share["submit"] + share["decisions"] - 1.0) < 0.01
        by_step = steps["steps"]
        assert abs(sum(by_step[s]["share_of_mean"] for s in STEPS) - 1.0) < 0.01
        assert all(by_step[s]["p50_ms"] == steps[s]["p50"] for s in STEPS)
    assert summary["network_floor_ms"] > 0 and summary["case_p50_over_network_floor"] > 0
    (name, line), *others = report["targets"].items()
    assert name == "case_e2e_p50_over_echo_c1" and not others
    assert line["value"] == summary["ratios_case_over_echo"]["closed_c1"]["p50"]
    assert line["limit"] == 8.0 and line["comparison"] == "<="
    assert report["all_targets_met"] is line["met"]
    samples = report["latency_samples_ms"]
    for t in ("echo", "case"):
        assert 0 < len(samples[t]) <= 2000
        assert all(v > 0 for v in samples[t])


TOP_KEYS = [
    *PROVENANCE_KEYS,
    "setup",
    "summary",
    "targets",
    "all_targets_met",
    "targets_note",
    "warnings",
    "phases",
    "latency_samples_source",
    "latency_samples_ms",
]
SUMMARY_KEYS = [
    "echo",
    "case",
    "breakdown_ms",
    "ratios_case_over_echo",
    "network_floor_ms",
    "case_p50_over_network_floor",
]
SETUP_KEYS = (
    {
        "window_region",
        "owner_region",
        "identity_card_region",
        "applicant_home_region",
        "item",
        "flow",
        "rpc_hops_per_case",
        "server_pids",
        "server_cpu",
        "federation_dir",
        "load_average_at_start",
        "store",
        "untimed_per_case",
        "echo_payload_bytes",
        "setup_s",
        "readiness",
        "prepare_s",
        "face_checks",
        "licences_issued",
        "oldest_input_age_s",
        "open_loop_rate_per_s",
        "open_loop_rate_source",
    }
    | RUN_OPTION_KEYS
    | {"applicants"}
)


@pytest.mark.slow
def test_report_keeps_its_keys(report: dict[str, Any]) -> None:
    """The report's shape is a contract with whoever reads it: the same keys, in order."""
    assert list(report) == TOP_KEYS
    assert list(report["summary"]) == SUMMARY_KEYS
    assert list(report["targets"]) == ["case_e2e_p50_over_echo_c1"]
    assert set(report["setup"]) == SETUP_KEYS
    assert list(report["setup"]["prepare_s"]) == list(PHASES)
    for part in ("echo", "case", "breakdown_ms", "ratios_case_over_echo"):
        assert list(report["summary"][part]) == list(PHASES), part
    for name in PHASES:
        breakdown = report["summary"]["breakdown_ms"][name]
        assert list(breakdown) == [*STEPS, "steps", "share_of_mean"]
        assert list(report["summary"]["case"][name]) == [
            "latency_ms",
            "cases_per_s",
            "completed",
            "errors",
            "server_cpu_ms_per_case",
        ]
