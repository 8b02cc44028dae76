"""`yrd sim run/sweep --latency-from` and `yrd sim latency-compare` on the shipped example."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import sim
from simulator.measured_latency import load_report, report_path

SHORT = ["--set", "run.horizon_days=1"]


def test_help_documents_the_options() -> None:
    for command in ("run", "sweep"):
        out = CliRunner().invoke(sim, [command, "--help"])
        assert out.exit_code == 0
        assert "--latency-from" in out.output and "--failure-from-report" in out.output
    out = CliRunner().invoke(sim, ["latency-compare", "--help"])
    assert out.exit_code == 0 and "--plot" in out.output


def test_the_shipped_example_is_a_valid_measured_report() -> None:
    report = load_report("example")
    assert len(report.links) == 12  # every directed link between the four regions
    assert len(report.ignored) == 8  # to and from the hub
    doc = json.loads(report_path("example").read_text())
    assert doc["schema"] == "yrd-lab-report/1" and doc["generated_at"]
    for entry in doc["links"].values():
        assert entry["operation"] and entry["count"] == len(entry["samples_ms"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read lab report"),
        ('{"schema": "yrd-lab-report/1"}', "no `links` section"),
        ('{"links": {"310000->320000": {"operation": "echo", "samples_ms": []}}}', "empty"),
        ('{"links": {"310000->123456": {}}}', "region codes"),
    ],
)
def test_a_bad_report_is_a_json_error_with_a_hint(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    for command in (["run", "default"], ["latency-compare", "default"]):
        out = CliRunner().invoke(sim, [*command, *SHORT, "--latency-from", str(path)])
        assert out.exit_code == 2
        error = json.loads(out.stderr)
        assert error["error"] == "BAD_LATENCY_REPORT"
        assert message in error["message"] and error["hint"]
        assert out.stdout == ""  # nothing ran


def test_failure_flag_without_a_report_is_a_usage_error() -> None:
    out = CliRunner().invoke(sim, ["run", "default", *SHORT, "--failure-from-report"])
    assert out.exit_code == 2
    assert json.loads(out.stderr)["error"] == "USAGE"


def test_run_records_the_report_and_which_links_were_measured(tmp_path: Path) -> None:
    report = tmp_path / "lab.json"
    samples = [3.0, 4.0, 5.0]
    entry = {"operation": "echo", "unit": "ms", "errors": 1, "samples_ms": samples}
    doc = {"generated_at": "2026-12-02T11:00:00+08:00", "links": {"310000->320000": entry}}
    report.write_text(json.dumps(doc))
    out_dir = tmp_path / "out"
    args = ["run", "default", *SHORT, "--no-plots", "--out", str(out_dir)]
    out = CliRunner().invoke(sim, [*args, "--latency-from", str(report), "--failure-from-report"])
    assert out.exit_code == 0, out.output
    assert "measured links: SH->JS" in out.stdout and "assumed links:  SH->ZJ" in out.stdout
    summary = json.loads((out_dir / "summary.json").read_text())
    used = summary["latency_from"]
    assert used["source"]["sha256"] == hashlib.sha256(report.read_bytes()).hexdigest()
    assert used["source"]["path"] == str(report.resolve())
    assert used["source"]["generated_at"] == doc["generated_at"]
    assert used["measured"] == ["SH->JS"] and "JS->SH" in used["assumed"]
    sh_js = next(u for u in used["links"] if u["link"] == "SH->JS")
    assert sh_js["mean_ms"] == pytest.approx(4.0, rel=1e-3)
    assert sh_js["failure_prob"] == pytest.approx(0.25)
    link = summary["scenario"]["materials"]["links"]["SH->JS"]
    assert link["latency"]["field"] == "links.310000->320000"


def test_sweep_rows_name_the_report() -> None:
    args = ["sweep", "default", *SHORT, "--grid", "run.seed=1", "-n", "1", "--workers", "1"]
    out = CliRunner().invoke(sim, [*args, "--no-progress", "--latency-from", "example"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 1
    assert rows[0]["latency_from_sha256"] == load_report("example").sha256
    assert "measured links:" in out.stderr


def test_latency_compare_prints_quantiles_effects_and_writes_json_and_plot(
    tmp_path: Path,
) -> None:
    out_json, plot = tmp_path / "cmp.json", tmp_path / "cmp.png"
    args = ["latency-compare", "default", *SHORT, "--latency-from", "example", "-n", "2"]
    out = CliRunner().invoke(sim, [*args, "--out", str(out_json), "--plot", str(plot)])
    assert out.exit_code == 0, out.output
    assert "SH->JS   measured echo" in out.stdout
    assert "total.sojourn.mean" in out.stdout and "difference" in out.stdout
    result = json.loads(out_json.read_text())
    example = load_report("example").links["SH->JS"].summary()
    row = next(r for r in result["links"] if r["link"] == "SH->JS")
    assert row["measured"]["mean_ms"] == pytest.approx(example["mean_ms"], rel=1e-3)
    assert row["assumed"]["mean_ms"] == pytest.approx(150.0, rel=1e-3)  # the shipped default
    effect = result["effects"]["total.sojourn.mean"]
    assert effect["difference"]["n"] == 2
    assert plot.stat().st_size > 0
