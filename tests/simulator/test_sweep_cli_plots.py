"""Sweeps (process pool and Dask), the `sim` command group and the PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import sim
from simulator.engine import simulate
from simulator.plots import plot_all
from simulator.scenario import ScenarioError
from simulator.sweep import grid_points, parse_grid, sweep

PNG = b"\x89PNG\r\n\x1a\n"
MMC_RAW = {
    "regions": {
        "SH": {
            "arrivals": {"local_per_hour": 120.0},
            "calendar": {"open": "00:00", "close": "24:00", "days": [0, 1, 2, 3, 4, 5, 6]},
            "clerks": {
                "shifts": [{"start": "00:00", "end": "24:00", "staff": 3}],
                "days": [0, 1, 2, 3, 4, 5, 6],
            },
        }
    },
    "case": {"local_service": {"kind": "exponential", "mean": 1.0}},
    "run": {"horizon_days": None, "max_arrivals": 2000, "seed": 3},
}


def test_grid_parsing() -> None:
    grid = parse_grid(["a.b=1,2", "c=x"])
    assert grid_points(grid) == [["a.b=1", "c=x"], ["a.b=2", "c=x"]]
    with pytest.raises(ScenarioError, match="key=v1,v2"):
        parse_grid(["oops"])


def test_sweep_on_process_pool() -> None:
    rows = sweep(
        MMC_RAW, {"regions.SH.clerks.shifts.0.staff": ["3", "4"]}, 2, workers=2, progress=False
    )
    assert [r["regions.SH.clerks.shifts.0.staff"] for r in rows] == ["3", "4"]
    assert rows[1]["total.wait.mean.mean"] < rows[0]["total.wait.mean.mean"]


def test_sweep_validates_every_point_before_running() -> None:
    with pytest.raises(ScenarioError, match=r"hub\.failure_prob"):
        sweep(MMC_RAW, {"hub.failure_prob": ["0.1", "7"]}, 1, progress=False)


def test_sweep_on_dask_local_cluster() -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        rows = sweep(
            MMC_RAW,
            {"regions.SH.clerks.shifts.0.staff": ["3", "5"]},
            1,
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert len(rows) == 2 and rows[1]["total.wait.mean.mean"] < rows[0]["total.wait.mean.mean"]


def test_plots_are_pngs(tmp_path: Path) -> None:
    from simulator.loading import default_scenario

    sc = default_scenario(["run.horizon_days=1"])
    runs = [simulate(sc, r) for r in range(2)]
    paths = plot_all(runs, tmp_path)
    assert [p.name for p in paths] == [
        "queue_length.png",
        "waits.png",
        "utilisation.png",
        "throughput.png",
    ]
    for path in paths:
        assert path.read_bytes()[:8] == PNG


def test_cli_help_explains_scenario_keys() -> None:
    out = CliRunner().invoke(sim, ["--help"]).output
    for key in ("face_quota_per_day", "hourly_profile", "clerk_held", "patience", "--set"):
        assert key in out


def test_cli_mmc_prints_one_json_line() -> None:
    res = CliRunner().invoke(
        sim,
        [
            "mmc",
            "--servers",
            "4",
            "--arrival-rate",
            "3",
            "--service-rate",
            "1",
            "--customers",
            "20000",
            "--warmup",
            "2000",
            "--seed",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["served"] == 20_000  # --customers counts served customers after the warm-up
    assert doc["mean_wait"] == pytest.approx(doc["erlang_c_wait"], rel=0.2)


def test_cli_run_writes_outputs(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        sim,
        [
            "run",
            "default",
            "-n",
            "2",
            "--out",
            str(tmp_path),
            "--set",
            "run.horizon_days=1",
            "--trace",
            str(tmp_path / "trace.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "total.wait.mean" in res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["replications"]) == 2
    for name in ("groups.csv", "resources.csv", "trace.csv"):
        assert (tmp_path / name).stat().st_size > 0
    for png in ("queue_length", "waits", "utilisation", "throughput"):
        assert (tmp_path / f"{png}.png").read_bytes()[:8] == PNG
    assert "total.throughput_per_open_hour" in res.output


def test_cli_run_mser_and_precision() -> None:
    res = CliRunner().invoke(
        sim,
        [
            "run",
            "default",
            "--set",
            "run.horizon_days=2",
            "--warmup",
            "mser5",
            "--precision",
            "0.5",
            "--no-plots",
        ],
    )
    assert res.exit_code == 0, res.output


def test_cli_bad_scenario_exits_2_naming_the_key() -> None:
    res = CliRunner().invoke(sim, ["run", "default", "--set", "regions.SH.od.JS=0.9"])
    assert res.exit_code == 2
    assert "regions.SH.od" in res.output and "sum to 1" in res.output


def test_cli_sweep(tmp_path: Path) -> None:
    scen = tmp_path / "mmc.json.yaml"
    scen.write_text(json.dumps(MMC_RAW))
    res = CliRunner().invoke(
        sim,
        [
            "sweep",
            str(scen),
            "--grid",
            "regions.SH.clerks.shifts.0.staff=3,4",
            "-n",
            "1",
            "--workers",
            "1",
            "--no-progress",
            "--out",
            str(tmp_path / "sweep.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(res.output.strip().splitlines()) == 2
    assert (tmp_path / "sweep.csv").exists()


def test_cli_validate_passes() -> None:
    res = CliRunner().invoke(sim, ["validate"])
    assert res.exit_code == 0, res.output
    assert "20/20 checks passed" in res.output
