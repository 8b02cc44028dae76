"""`yrd lab run` of the CI scenario end to end: five nodes behind 20 link proxies, Anhui cut
off for a while under an open-loop load; the report's structure and its verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nodes.lab.scenario import SCENARIOS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("lab")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nodes.cli",
            "lab",
            "run",
            str(SCENARIOS / "ci-smoke.toml"),
            "--dir",
            str(work / "lab"),
            "--out",
            str(work / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "fault start: partition AH" in done.stderr  # progress went to stderr
    printed = json.loads(done.stdout)
    assert printed["report"] == str(work / "report" / "report.json")
    body: dict[str, Any] = json.loads((work / "report" / "report.json").read_text())
    body["_plot_exists"] = all(Path(p).is_file() for p in body["plots"])
    lines = Path(body["samples_csv"]).read_text(encoding="utf-8").splitlines()
    body["_csv_rows"] = len(lines) - 1
    return body


def test_the_report_has_its_sections_and_the_fault_in_its_timeline(
    report: dict[str, Any],
) -> None:
    assert report["schema"] == "yrd-lab-report/1" and report["topology"] == "yrd-default"
    assert [(e["event"], e["fault"]) for e in report["timeline"]] == [
        ("start", "partition AH"),
        ("end", "partition AH"),
    ]
    assert [p["faults"] for p in report["phases"]] == [[], ["partition AH"], []]
    assert set(report["operations"]) == {
        "token_verify",
        "licence_verify",
        "aggregation",
        "case_submit",
    }
    for body in report["operations"].values():
        for stats in [body["overall"], *body["phases"].values()]:
            assert stats["attempted"] >= stats["ok"]
            if stats["ok"]:
                q = stats["latency_ms"]
                assert q["p50"] <= q["p90"] <= q["p99"] <= q["p99.9"] <= q["max"]
    assert report["_plot_exists"]
    attempted = sum(b["overall"]["attempted"] for b in report["operations"].values())
    probes_outside_faults = sum(v["count"] + v["errors"] for v in report["links"].values())
    assert report["_csv_rows"] > attempted + probes_outside_faults  # every request is a row
    overhead = report["proxy_overhead"]
    assert overhead["direct"]["count"] == overhead["proxied"]["count"] > 0
    assert {"ratio_p50", "added_p50_us", "added_p99_us"} <= set(overhead)


def test_no_acknowledged_case_is_lost(report: dict[str, Any]) -> None:
    acks = report["acknowledged_writes"]
    assert acks["acknowledged"] > 0
    assert acks["lost"] == 0 and acks["unverified"] == 0
    assert acks["found"] == acks["acknowledged"]


def test_the_cut_off_region_fails_its_operations_then_they_recover(
    report: dict[str, Any],
) -> None:
    for op in ("aggregation", "case_submit"):  # both need Anhui
        (row,) = report["operations"][op]["recovery"]
        assert row["impacted"] and row["availability_during"] < 1
        assert row["time_to_recover_s"] is not None
        assert row["availability_after_recovery"] == 1
        during = report["operations"][op]["phases"]["1: partition AH"]
        assert sum(during["errors_by_status"].values()) == during["attempted"] - during["ok"]
    for op in ("token_verify", "licence_verify"):  # Shanghai needs nobody for them
        assert report["operations"][op]["overall"]["availability"] == 1


def test_the_links_section_follows_the_lab_report_schema(report: dict[str, Any]) -> None:
    links = report["links"]
    assert len(links) == 20
    sh_js = links["310000->320000"]
    assert sh_js["operation"] == "echo" and sh_js["unit"] == "ms"
    assert sh_js["count"] == len(sh_js["samples_ms"]) > 0
    assert sh_js["p50_ms"] <= sh_js["p90_ms"] <= sh_js["p99_ms"]
    # only probes outside the fault are kept; the proxy held or refused Anhui's traffic
    proxy = report["proxies"]["310000->340000"]
    assert proxy["forward"]["stalled_s"] > 0 or proxy["refused"] > 0
    assert report["proxies"]["310000->320000"]["forward"]["stalled_s"] == 0


def test_the_nodes_metrics_and_a_sample_case_critical_path_are_in_the_report(
    report: dict[str, Any],
) -> None:
    metrics = report["metrics"]
    assert set(metrics) == {"100000", "310000", "320000", "330000", "340000"}
    sh = metrics["310000"]
    assert sh["available"] and any("SubmitCase" in k for k in sh["during_run"])
    by_phase = report["metrics_by_phase"]
    assert list(by_phase) == [p["name"] for p in report["phases"]]
    assert any(by_phase["0: no fault"].values())
    path = report["critical_path"]
    assert path["available"], path
    assert path["case_id"]
    services = {step["service"] for step in path["steps"]}
    assert {"yrd:sh:310000", "yrd:js:320000"} <= services  # window, then the owner
    assert path["steps"][0]["depth"] == 0
    assert sum(s["on_path_ms"] for s in path["steps"]) == pytest.approx(path["root_ms"], abs=0.01)
