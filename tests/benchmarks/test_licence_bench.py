"""Smoke test: the licence benchmark runs end to end in --quick mode and reports sane JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks._reports import PROVENANCE_KEYS, RUN_OPTION_KEYS, TARGET_LINE_KEYS

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "licence_bench.py"
VERIFY_PHASES = ("verify_sequential", "verify_closed_c1", "verify_closed_c8", "verify_open_loop")
AGG_PHASES = ("aggregate_sequential", "aggregate_closed_c8")


# a smoke-sized run: the report's shape and consistency, not its figures
SMALL = ("--requests", "80", "--first-licences", "20", "--local-requests", "100")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "licence.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", *SMALL, "--out", str(out)],
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


def check_result(result: dict[str, Any], where: tuple[str, str]) -> None:
    assert result["completed"] > 0, where
    assert result["errors"] == 0, (*where, result.get("first_error"))
    assert result["throughput_per_s"] > 0, where
    check_latency(result["latency_ms"])


@pytest.mark.slow
def test_report_has_provenance(report: dict[str, Any]) -> None:
    assert report["benchmark"] == "licence_bench"
    assert "--quick" in report["command"]
    assert report["timestamp"]
    assert report["machine"]["cpu_count"] >= 1
    assert report["machine"]["python"] and report["machine"]["grpcio"]
    assert isinstance(report["warnings"], list)


@pytest.mark.slow
def test_local_verification(report: dict[str, Any]) -> None:
    local = report["local_verification"]
    assert local["verifications"] > 0 and local["distinct_licences"] >= 2
    assert local["per_s"] > 0 and local["us_per_verification"] > 0
    assert 0 < local["ed25519_verify_us"] < local["us_per_verification"]
    # a kept licence skips its signatures: cheaper than a first verification
    assert 0 < local["us_per_verification_kept"] < local["us_per_verification"]
    lat = local["latency_us"]
    assert lat["count"] == local["verifications"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]


@pytest.mark.slow
def test_first_verification_is_reported_beside_the_kept_path(report: dict[str, Any]) -> None:
    first = report["summary"]["first_verification"]
    assert first["licences"] == report["setup"]["first_licences"] == 20
    assert first["p50_ratio"] == pytest.approx(
        first["verify_ms"]["p50"] / first["echo_ms"]["p50"], rel=1e-3
    )
    assert "never" in report["targets"]["verify_first_p50_over_echo_p50"]["target"]
    # the verifier's own CPU per echo + first verification, read from /proc (coarse ticks)
    cpu = first["server_cpu_ms_per_echo_and_verification"]
    assert cpu is None or cpu >= 0


@pytest.mark.slow
def test_verification_phases_measure_echo_and_verify(report: dict[str, Any]) -> None:
    phases = report["phases"]
    for name in VERIFY_PHASES:
        for t in ("echo", "verify_licence"):
            check_result(phases[name][t], (name, t))
        r = phases[name]["ratios"]["verify_licence/echo"]
        assert r["p50"] is not None and r["p50"] > 0
        assert r["throughput"] is not None and r["throughput"] > 0
    lag = phases["verify_open_loop"]["verify_licence"]["send_lag_ms"]
    assert lag["count"] > 0 and 0 <= lag["p50"] <= lag["p99"] <= lag["max"]


@pytest.mark.slow
def test_aggregation_phases(report: dict[str, Any]) -> None:
    phases = report["phases"]
    targets = ("echo_ah", "single_hop", "three_hops_at_once", "aggregate", "relayed_read")
    for t in (*targets, "verify_licence"):
        check_result(phases["aggregate_sequential"][t], ("aggregate_sequential", t))
    for t in ("single_hop", "aggregate"):
        check_result(phases["aggregate_closed_c8"][t], ("aggregate_closed_c8", t))
    agg = report["summary"]["aggregation"]
    for phase in AGG_PHASES:
        fanout = agg["fanout_ms"][phase]
        assert fanout["count"] > 0 and 0 < fanout["p50"] <= fanout["p99"] <= fanout["max"]
    for name, seq in agg["sequential_latency_ms"].items():
        assert 0 < seq["p50"] <= seq["p90"] <= seq["p99"] <= seq["max"], name
    assert agg["throughput_c8_per_s"]["aggregate"] > 0
    assert agg["ratios_sequential"]["aggregate/relayed_read"]["p50"] > 0
    assert report["setup"]["aggregation_licences"] == 4
    floor = agg["floor"]
    seq = agg["sequential_latency_ms"]
    legs, hop = seq["three_hops_at_once"]["p50"], seq["single_hop"]["p50"]
    # the ratios are the sequential p50s' (rounded), not figures of their own
    assert floor["three_hops_at_once_p50_over_single_hop_p50"] == pytest.approx(
        legs / hop, rel=0.02
    )
    assert floor["echo_ah_plus_three_hops_at_once_p50_over_single_hop_p50"] == pytest.approx(
        (seq["echo_ah"]["p50"] + legs) / hop, rel=0.02
    )
    assert "three_hops_at_once" in floor["what"]


@pytest.mark.slow
def test_summary_targets_and_samples(report: dict[str, Any]) -> None:
    summary = report["summary"]
    for t in ("echo", "verify_licence"):
        seq = summary[t]["sequential_latency_ms"]
        assert 0 < seq["p50"] <= seq["p90"] <= seq["p99"] <= seq["max"]
        assert summary[t]["throughput_c1_per_s"] > 0 and summary[t]["throughput_c8_per_s"] > 0
    targets = report["targets"]
    assert set(targets) == {
        "verify_p50_over_echo_p50",
        "aggregate_p50_over_single_hop_p50",
        "verify_first_p50_over_echo_p50",
    }
    for line in targets.values():  # whether they are met is a finding, never asserted here
        assert isinstance(line["met"], bool)
        assert line["value"] > 0
    assert isinstance(report["all_targets_met"], bool)
    samples = report["latency_samples_ms"]
    assert set(samples) == {
        "echo",
        "verify_licence",
        "echo_ah",
        "single_hop",
        "aggregate",
        "relayed_read",
    }
    for values in samples.values():
        assert 0 < len(values) <= 2000
        assert all(v > 0 for v in values)


@pytest.mark.slow
def test_suites_measure_sm2_beside_ed25519(report: dict[str, Any]) -> None:
    suites = report["suites"]
    assert suites["suites"] == {"320000": "ed25519", "340000": "sm2"}
    kernels = suites["signature_kernels"]
    for alg in ("EdDSA", "SM2SM3", "ES256"):
        us = kernels[alg]["verify_us"]
        assert 0 < us["p50"] <= us["p90"] <= us["p99"], alg
        assert kernels[alg]["verify_per_s"] > 0 and kernels[alg]["sign_us_p50"] > 0
    local = suites["local_verification"]
    assert local["sm2"]["issuer_region"] == "340000" and local["sm2"]["per_s"] > 0
    assert local["ed25519"]["issuer_region"] == "320000" and local["ed25519"]["per_s"] > 0
    for t in ("echo", "verify_licence", "verify_licence_sm2"):
        check_result(suites["phases"]["suite_sequential"][t], ("suite_sequential", t))
    for t in ("verify_licence", "verify_licence_sm2"):
        check_result(suites["phases"]["suite_closed_c8"][t], ("suite_closed_c8", t))
    figures = suites["figures"]
    assert report["summary"]["suites"] == figures
    assert set(figures) == {
        "kernel_verify_us_p50_sm2sm3_over_eddsa",
        "kernel_verify_per_s_sm2sm3_over_eddsa",
        "kernel_verify_us_p50_es256_over_eddsa",
        "local_verify_licence_us_p50_sm2_over_ed25519",
        "grpc_verify_licence_p50_sm2_over_ed25519_sequential",
        "grpc_verify_licence_p99_sm2_over_ed25519_sequential",
        "grpc_verify_licence_throughput_sm2_over_ed25519_closed_c8",
        "grpc_verify_licence_server_cpu_per_request_sm2_over_ed25519_closed_c8",
    }
    for name, value in figures.items():  # ratios are findings: positive, never thresholds here
        assert value is None or value > 0, name


TOP_KEYS = [
    *PROVENANCE_KEYS,
    "setup",
    "summary",
    "targets",
    "all_targets_met",
    "warnings",
    "local_verification",
    "phases",
    "latency_samples_source",
    "latency_samples_ms",
    "suites",
]
SUMMARY_KEYS = [
    "local_verification",
    "echo",
    "verify_licence",
    "ratios_verify_over_echo",
    "aggregation",
    "first_verification",
    "suites",
]
AGGREGATION_KEYS = [
    "sequential_latency_ms",
    "fanout_ms",
    "throughput_c8_per_s",
    "latency_c8_ms",
    "ratios_sequential",
    "ratios_closed_c8",
    "floor",
]
SETUP_KEYS = (
    {
        "verifier_region",
        "issuer_region",
        "aggregator_region",
        "holder_home_region",
        "server_pids",
        "federation_dir",
        "load_average_at_start",
        "store",
        "channel",
        "server_cpu",
        "single_hop",
        "relayed_read",
        "aggregation_licences",
        "licence_pool",
        "sd_jwt_bytes_mean",
        "echo_payload_bytes",
        "setup_s",
        "readiness",
        "open_loop_rate_per_s",
        "open_loop_rate_source",
    }
    | RUN_OPTION_KEYS
    | {"local_requests", "licences", "first_licences"}
)


@pytest.mark.slow
def test_report_keeps_its_keys(report: dict[str, Any]) -> None:
    """The report's shape is a contract with whoever reads it: the same keys, in order."""
    assert list(report) == TOP_KEYS
    assert list(report["summary"]) == SUMMARY_KEYS
    assert list(report["summary"]["aggregation"]) == AGGREGATION_KEYS
    assert list(report["targets"]) == [
        "verify_p50_over_echo_p50",
        "aggregate_p50_over_single_hop_p50",
        "verify_first_p50_over_echo_p50",
    ]
    for line in report["targets"].values():
        assert list(line) == TARGET_LINE_KEYS
    assert set(report["setup"]) == SETUP_KEYS
    assert list(report["phases"]) == [*VERIFY_PHASES, *AGG_PHASES]
    assert list(report["summary"]["ratios_verify_over_echo"]) == [
        "sequential",
        "closed_c1",
        "closed_c8",
        "open_loop",
    ]
