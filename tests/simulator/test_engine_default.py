"""The full YRD model: every output, trace, rework, quota, shifts and common random numbers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from simulator.engine import simulate
from simulator.loading import default_scenario
from simulator.scenario import Scenario
from simulator.statistics import littles_law_holds


def test_default_scenario_produces_every_output(short_default: Scenario) -> None:
    res = simulate(short_default)
    data = res.data
    assert data["kernel"] == "simpy"
    assert set(data["regions"]) == {"SH", "JS", "ZJ", "AH"}
    assert "SH->JS" in data["od"] and "SH->SH" in data["od"]
    for group in [data["total"], *data["regions"].values()]:
        assert group["throughput_per_open_hour"] > group["throughput_per_clock_hour"] > 0
        for stat in ("mean", "p50", "p90", "p95", "p99"):
            assert math.isfinite(group["wait"][stat])
            assert math.isfinite(group["sojourn"][stat])
        assert set(group["wait"]["le"]) == {"10", "20"}
        assert 0 <= group["abandonment"]["rate"] <= 1
        assert len(group["completions_per_day_by_hour"]) == 24
    assert data["total"]["first_response"]["count"] > 0
    assert "1" in data["total"]["first_response"]["le"]
    for name in ("clerks.SH", "reviewers.JS", "hub.face"):
        r = data["resources"][name]
        assert 0 <= r["utilisation"] <= 1
        assert r["queue_series"]["mean_queue"]
    assert data["quota_exhaustion"]["count"] == 0
    assert littles_law_holds(res)
    json.dumps(data)  # JSON-ready (nan allowed by json.dumps; writers clean it)


def test_same_seed_same_result_and_replications_differ(short_default: Scenario) -> None:
    a = simulate(short_default, 0).data["total"]
    b = simulate(short_default, 0).data["total"]
    c = simulate(short_default, 1).data["total"]
    assert a == b
    assert a["wait"]["mean"] != c["wait"]["mean"]


def test_common_random_numbers_keep_arrivals_when_service_changes(
    short_default: Scenario,
) -> None:
    slower = default_scenario(["run.horizon_days=2", "case.local_service.mean=12"])
    a, b = simulate(short_default).data, simulate(slower).data
    assert a["arrivals"] == b["arrivals"]
    assert a["total"]["wait"]["mean"] < b["total"]["wait"]["mean"]


def test_quota_exhaustion_is_reported() -> None:
    sc = default_scenario(["run.horizon_days=2", "regions.JS.face_quota_per_day=1"])
    data = simulate(sc).data
    events = data["quota_exhaustion"]["events"]
    assert data["quota_exhaustion"]["count"] >= 1
    assert {e["region"] for e in events} == {"JS"}


def test_rework_loop_brings_applicants_back() -> None:
    sc = default_scenario(
        [
            "run.horizon_days=14",
            "case.formal_share=0.5",
            "case.decision={approve: 0.4, return: 0.5, reject: 0.1}",
        ]
    )
    data = simulate(sc).data
    assert data["total"]["rework_visits"] > 0
    assert data["total"]["outcomes"]["returned"] > 0
    assert data["total"]["result_time"]["count"] > 0
    assert 0.25 < data["total"]["first_time_success"] < 0.55


def test_clerk_not_held_frees_the_window() -> None:
    held = default_scenario(["run.horizon_days=3", "case.formal_share=0.6"])
    free = default_scenario(
        ["run.horizon_days=3", "case.formal_share=0.6", "case.clerk_held=false"]
    )
    a, b = simulate(held).data, simulate(free).data
    assert b["total"]["wait"]["mean"] < a["total"]["wait"]["mean"]


def test_green_channel_waits_less(tmp_path: Path) -> None:
    sc = default_scenario(["run.horizon_days=5", "behaviour.green_share=0.1"])
    simulate(sc, trace=str(tmp_path / "t.jsonl"))
    rows = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]

    def mean_wait(priority: int) -> float:
        waits = [r["wait"] for r in rows if r["priority"] == priority]
        return sum(waits) / len(waits)

    assert mean_wait(0) < mean_wait(2) / 3


def test_lunch_duty_reduces_staff_on_duty(short_default: Scenario) -> None:
    data = simulate(short_default).data
    r = data["resources"]["clerks.JS"]
    # 7 clerks for 6.5 h and 3 at lunch on open days; nobody at night.
    assert 0 < r["mean_on_duty"] < 7


def test_trace_file_csv_and_jsonl(tmp_path: Path, short_default: Scenario) -> None:
    res = simulate(short_default, trace=str(tmp_path / "trace.csv"))
    with (tmp_path / "trace.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == res.data["total"]["visits"]
    assert {"case_id", "origin", "dest", "wait", "outcome"} <= set(rows[0])
    simulate(short_default, trace=str(tmp_path / "trace.jsonl"))
    first = json.loads((tmp_path / "trace.jsonl").read_text().splitlines()[0])
    assert first["origin"] in {"SH", "JS", "ZJ", "AH"}


def test_warmup_days_cut_the_observation() -> None:
    sc = default_scenario(["run.horizon_days=3", "run.warmup_days=1"])
    data = simulate(sc).data
    assert data["observed_min"] == pytest.approx(2 * 1440)
