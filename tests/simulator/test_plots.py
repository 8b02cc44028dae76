"""Plots over all replications: bands, titles, units, and nothing drawn without data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import plots
from simulator.engine import simulate
from simulator.loading import default_scenario, mmc_scenario
from simulator.plot_data import (
    band_over_runs,
    categories,
    completions_by_hour_band,
    queue_band,
    wait_cdf_band,
)
from simulator.recorder import RunResult
from simulator.statistics import confidence_interval

Captured = dict[str, tuple[Any, list[str]]]


@pytest.fixture(scope="module")
def three_days() -> list[RunResult]:
    """Three replications of the default scenario over two days, AH without applicants."""
    sc = default_scenario(
        [
            "run.horizon_days=2",
            "regions.AH.arrivals.cross_per_hour=0",
            "regions.AH.arrivals.local_per_hour=0",
        ]
    )
    return [simulate(sc, r) for r in range(3)]


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Captured:
    """Keep each figure (and what it left out) instead of writing it."""
    seen: Captured = {}

    def keep(fig: Any, path: str | Path, left_out: Any = ()) -> Path:
        seen[Path(path).stem] = (fig, list(left_out))
        return Path(path)

    monkeypatch.setattr(plots, "_save", keep)
    return seen


def _texts(fig: Any) -> str:
    parts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        parts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
    return "\n".join(parts)


def test_titles_say_scenario_metric_replications_and_level(
    three_days: list[RunResult], captured: Captured, tmp_path: Path
) -> None:
    plots.plot_all(three_days, tmp_path)
    assert set(captured) == {"queue_length", "waits", "utilisation", "throughput"}
    for fig, _ in captured.values():
        text = _texts(fig)
        assert "yrd_default" in text
        assert "mean of 3 replications, 95% confidence interval" in text
    assert "(min)" in _texts(captured["waits"][0])
    assert "per open hour (1/h)" in _texts(captured["throughput"][0])
    assert "(%)" in _texts(captured["utilisation"][0])
    assert "(days)" in _texts(captured["queue_length"][0])


def test_regions_without_applicants_are_named_not_drawn(
    three_days: list[RunResult], captured: Captured, tmp_path: Path
) -> None:
    plots.plot_all(three_days, tmp_path)
    assert captured["queue_length"][1] == ["AH (no applicants)"]
    assert captured["waits"][1] == ["AH (nobody waited)"]
    assert captured["throughput"][1] == ["AH (no completed visits)"]
    bars_ax = captured["throughput"][0].axes[0]
    labels = [t.get_text() for t in bars_ax.get_xticklabels()]
    assert labels == ["all", "SH", "JS", "ZJ"]
    assert all(p.get_height() > 0 for p in bars_ax.patches)
    queue_fig = captured["queue_length"][0]
    assert [ax.get_ylabel() for ax in queue_fig.axes] == [
        "SH: applicants",
        "JS: applicants",
        "ZJ: applicants",
    ]


def test_unused_and_off_duty_resources_are_left_out(captured: Captured, tmp_path: Path) -> None:
    runs = [simulate(mmc_scenario(3, 2.4, 1.0, 2000, seed=r), kernel="simpy") for r in range(2)]
    plots.plot_utilisation(runs, tmp_path / "u.png")
    fig, left_out = captured["u"]
    assert left_out == ["hub.face (never used)", "reviewers.SH (never used)"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["clerks.SH"]


def test_one_replication_says_there_is_no_interval(captured: Captured, tmp_path: Path) -> None:
    run = simulate(mmc_scenario(2, 1.5, 1.0, 2000, seed=1))
    plots.plot_waits([run], tmp_path / "w.png")
    assert "1 replication (a confidence interval needs 2 or more)" in _texts(captured["w"][0])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(-1e3, 1e3), min_size=4, max_size=4),
        min_size=1,
        max_size=6,
    )
)
def test_band_is_the_t_interval_at_every_point(rows: list[list[float]]) -> None:
    x = np.arange(4, dtype=float)
    band = band_over_runs(x, [np.asarray(r) for r in rows])
    for i in range(4):
        est = confidence_interval([r[i] for r in rows])
        assert band.mean[i] == pytest.approx(est.mean, abs=1e-9)
        if len(rows) >= 2:
            assert band.high[i] - band.mean[i] == pytest.approx(est.half_width, abs=1e-6)
        else:
            assert np.isnan(band.low[i]) and np.isnan(band.high[i])


def test_band_skips_runs_without_a_value_at_a_point() -> None:
    band = band_over_runs(np.arange(2.0), [np.array([1.0, np.nan]), np.array([3.0, 5.0])])
    assert band.mean.tolist() == [2.0, 5.0]
    assert np.isnan(band.low[1])  # one value: a mean, no interval


def test_queue_and_wait_bands_cover_every_replication(three_days: list[RunResult]) -> None:
    queue = queue_band(three_days, "clerks.JS")
    assert queue is not None and queue.runs == 3
    assert queue.x[0] >= 0 and queue.x[-1] <= 2.0
    assert np.nanmax(queue.mean) > 0
    cdf = wait_cdf_band(three_days, "JS")
    assert cdf is not None and cdf.runs == 3
    assert np.all(np.diff(cdf.mean) >= -1e-12) and 0 <= cdf.mean[0] <= cdf.mean[-1] == 1.0
    assert wait_cdf_band(three_days, "AH") is None


def test_categories_leave_out_what_no_replication_measured() -> None:
    shown, missing = categories({"a": [1.0, 2.0], "b": [float("nan")] * 2})
    assert list(shown) == ["a"] and missing == ["b"]
    assert shown["a"].mean == 1.5


def test_hour_of_day_curve_adds_up_to_completions_per_open_day() -> None:
    sc = default_scenario(["run.horizon_days=7", "run.start_weekday=0"])
    runs = [simulate(sc, r) for r in range(2)]
    band = completions_by_hour_band(runs, "SH")
    assert band is not None and band.x.tolist() == list(range(25))
    per_open_day = np.mean([r.data["regions"]["SH"]["completed"] / 5 for r in runs])
    assert float(np.sum(band.mean[:24])) == pytest.approx(per_open_day)
    assert np.all(band.mean[:9] == 0) and np.all(band.mean[18:24] == 0)
