"""PNG plots over all replications (matplotlib, Agg): means with confidence bands or bars."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from simulator.plot_data import (
    Band,
    categories,
    completions_by_hour_band,
    metric_values,
    queue_band,
    resource_values,
    wait_cdf_band,
)
from simulator.recorder import RunResult
from simulator.statistics import Estimate

__all__ = ["plot_all", "plot_queues", "plot_throughput", "plot_utilisation", "plot_waits"]


def plot_queues(runs: Sequence[RunResult], path: str | Path, level: float = 0.95) -> Path:
    """Mean queue length at each region's windows over time, one panel per region, with band."""
    visited = _regions_with(runs, "visits")
    bands = {code: queue_band(runs, f"clerks.{code}", level) for code in visited}
    drawn = {region: band for region, band in bands.items() if band is not None}
    fig, axes = plt.subplots(
        max(len(drawn), 1), 1, figsize=(10, 1.6 + 1.7 * max(len(drawn), 1)), sharex=True
    )
    axes = np.atleast_1d(axes)
    for ax, (region, band) in zip(axes, drawn.items(), strict=False):
        _draw_band(ax, band, region)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(f"{region}: applicants")
    if not drawn:
        axes[0].text(0.5, 0.5, "no data", ha="center", va="center", transform=axes[0].transAxes)
    axes[-1].set_xlabel("time since the start of the run (days)")
    interval = _interval(runs)
    what = f"applicants waiting for a clerk (mean over {interval:g}-min intervals)"
    fig.suptitle(_heading(runs, what, level), fontsize="medium")
    left_out = [f"{c} (no applicants)" for c in _regions(runs) if c not in visited]
    left_out += [f"{c} (no queue data)" for c, b in bands.items() if b is None]
    return _save(fig, path, left_out)


def plot_waits(runs: Sequence[RunResult], path: str | Path, level: float = 0.95) -> Path:
    """Distribution of the wait for a clerk per region: P(wait <= x) with its band."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    regions = _regions(runs)
    bands = {code: wait_cdf_band(runs, code, level) for code in regions}
    for code, band in bands.items():
        if band is not None:
            _draw_band(ax, band, code, step=True)
    ax.set_xlabel("wait for a clerk (min)")
    ax.set_ylabel("share of applicants waiting at most x")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    _title(ax, runs, "distribution of the wait for a clerk, by region", level)
    _legend_or_no_data(ax)
    return _save(fig, path, [f"{c} (nobody waited)" for c, b in bands.items() if b is None])


def plot_utilisation(runs: Sequence[RunResult], path: str | Path, level: float = 0.95) -> Path:
    """Mean utilisation (busy / on duty) of each staff pool and shared service, with CIs."""
    names = sorted({n for r in runs for n in r.data["resources"]})
    used = [n for n in names if any(b > 0 for b in resource_values(runs, n, "mean_busy"))]
    shown, no_duty = categories({n: resource_values(runs, n, "utilisation") for n in used}, level)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(shown) + 2), 4.5))
    _bars(ax, {n: _scaled(e, 100.0) for n, e in shown.items()}, _percent)
    ax.set_ylabel("utilisation: busy / on duty (%)")
    ax.set_ylim(0, 105)
    _title(ax, runs, "utilisation of staff pools and the face-check hub", level)
    left_out = [f"{n} (never used)" for n in names if n not in used] + [
        f"{n} (never on duty)" for n in no_duty
    ]
    return _save(fig, path, left_out)


def plot_throughput(runs: Sequence[RunResult], path: str | Path, level: float = 0.95) -> Path:
    """Completed visits per hour the windows are open, per region, and by hour of day."""
    regions = _regions_with(runs, "completed")
    paths = {"all": "total.throughput_per_open_hour"}
    paths.update({code: f"regions.{code}.throughput_per_open_hour" for code in regions})
    shown, missing = categories({k: metric_values(runs, p) for k, p in paths.items()}, level)
    missing += [c for c in _regions(runs) if c not in regions]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), width_ratios=(1, 2))
    _bars(left, shown, "{:.1f}".format)
    left.set_ylabel("completed visits per open hour (1/h)")
    left.set_title("per hour the windows are open", fontsize="medium")
    hourly = {code: completions_by_hour_band(runs, code, level) for code in regions}
    for code, band in hourly.items():
        if band is not None:
            _draw_band(right, band, code, step=True)
    right.set_xlabel("hour of day (completion time)")
    right.set_ylabel("completed visits per hour on open days (1/h)")
    right.set_xlim(0, 24)
    right.set_xticks(range(0, 25, 3))
    right.set_ylim(bottom=0)
    right.set_title("by hour of day", fontsize="medium")
    if right.lines:
        right.legend(loc="upper right", fontsize="small")
    fig.suptitle(_heading(runs, "throughput: completed visits", level), fontsize="medium")
    return _save(fig, path, [f"{c} (no completed visits)" for c in missing])


def plot_all(runs: Sequence[RunResult], out_dir: str | Path, level: float = 0.95) -> list[Path]:
    """All four plots into out_dir, each over every replication in ``runs``."""
    if not runs:
        raise ValueError("plots need at least one replication")
    out = Path(out_dir)
    return [
        plot_queues(runs, out / "queue_length.png", level),
        plot_waits(runs, out / "waits.png", level),
        plot_utilisation(runs, out / "utilisation.png", level),
        plot_throughput(runs, out / "throughput.png", level),
    ]


# ---------------------------------------------------------------------- helpers
def _heading(runs: Sequence[RunResult], what: str, level: float) -> str:
    n = len(runs)
    scenario = runs[0].scenario if runs else "?"
    if n < 2:
        how = "1 replication (a confidence interval needs 2 or more)"
    else:
        how = f"mean of {n} replications, {level:.0%} confidence interval"
    return f"{scenario}: {what}\n{how}"


def _title(ax: Any, runs: Sequence[RunResult], what: str, level: float) -> None:
    ax.set_title(_heading(runs, what, level), fontsize="medium")


def _draw_band(ax: Any, band: Band, label: str, step: bool = False) -> None:
    where = {"step": "post"} if step else {}
    if step:
        (line,) = ax.step(band.x, band.mean, where="post", lw=1.2, label=label)
    else:
        (line,) = ax.plot(band.x, band.mean, lw=1.0, label=label)
    if band.runs >= 2:
        ax.fill_between(band.x, band.low, band.high, color=line.get_color(), alpha=0.25, **where)


def _percent(value: float) -> str:
    return f"{value:.0f}%" if value >= 9.5 else f"{value:.2g}%"  # small shares stay visible


def _bars(ax: Any, shown: dict[str, Estimate], fmt: Callable[[float], str]) -> None:
    """One bar per category with its CI as an error bar and its value written on it."""
    names = list(shown)
    means = [shown[n].mean for n in names]
    with_ci = any(shown[n].n >= 2 for n in names)
    errors = [shown[n].half_width if shown[n].n >= 2 else 0.0 for n in names] if with_ci else None
    bars = ax.bar(range(len(names)), means, yerr=errors, capsize=4, color="tab:blue")
    ax.bar_label(bars, [fmt(m) for m in means], padding=3, fontsize="small")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize="small")
    ax.set_xlim(-0.75, max(len(names), 3) - 0.25)  # one or two bars keep a bar's width
    if not names:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)


def _scaled(est: Estimate, factor: float) -> Estimate:
    return Estimate(est.mean * factor, est.half_width * factor, est.n, est.sd * factor, est.level)


def _regions(runs: Sequence[RunResult]) -> list[str]:
    return list(dict.fromkeys(code for r in runs for code in r.data["regions"]))


def _regions_with(runs: Sequence[RunResult], count: str) -> list[str]:
    """Regions where some replication counted any visits (or completed visits)."""
    return [c for c in _regions(runs) if any(r.data["regions"][c][count] for r in runs)]


def _interval(runs: Sequence[RunResult]) -> float:
    widths = [
        float(res["queue_series"]["interval_min"])
        for r in runs
        for res in r.data["resources"].values()
    ]
    return max(widths, default=0.0)


def _legend_or_no_data(ax: Any) -> None:
    if ax.lines:
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)


def _save(fig: Any, path: str | Path, left_out: Sequence[str] = ()) -> Path:
    """Say below the plot which categories were left out and why, then write the PNG."""
    bottom = 0.0
    if left_out:
        text = textwrap.fill("not shown: " + ", ".join(left_out), int(fig.get_figwidth() * 14))
        fig.text(0.01, 0.01, text, fontsize="small", va="bottom")
        bottom = (0.25 + 0.17 * (text.count("\n") + 1)) / fig.get_figheight()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p
