"""What the plots draw, computed over all replications: means with t confidence bands."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from simulator.recorder import RunResult, metric
from simulator.statistics import Estimate, confidence_interval

__all__ = [
    "Band",
    "band_over_runs",
    "categories",
    "completions_by_hour_band",
    "metric_values",
    "queue_band",
    "resource_values",
    "wait_cdf_band",
]

Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Band:
    """A curve averaged over replications; ``low``/``high`` are nan where fewer than 2 runs."""

    x: Floats
    mean: Floats
    low: Floats
    high: Floats
    runs: int  # replications with data for this curve


def band_over_runs(x: Floats, curves: Sequence[Floats], level: float = 0.95) -> Band:
    """Pointwise mean and t interval of curves (one per replication; nan where undefined)."""
    ys = np.vstack(curves) if curves else np.full((0, x.size), math.nan)
    have = np.sum(~np.isnan(ys), axis=0)
    filled = np.nan_to_num(ys, nan=0.0)
    mean = np.full(x.size, math.nan)
    half = np.full(x.size, math.nan)
    some, many = have >= 1, have >= 2  # points where a mean, and an interval, exist
    mean[some] = filled[:, some].sum(axis=0) / have[some]
    squares = np.where(np.isnan(ys), 0.0, (ys - mean) ** 2)[:, many].sum(axis=0)
    sd = np.sqrt(squares / (have[many] - 1))
    half[many] = stats.t.ppf(0.5 + level / 2, have[many] - 1) * sd / np.sqrt(have[many])
    return Band(x, mean, mean - half, mean + half, len(curves))


def _series_at(series: dict[str, Any], at_min: Floats) -> Floats:
    """A replication's bucketed queue series as a step function, nan outside its range."""
    values = np.asarray(series["mean_queue"], dtype=float)
    width, start = float(series["interval_min"]), float(series["start_min"])
    idx = np.floor((at_min - start) / width).astype(np.int64)
    inside = (idx >= 0) & (idx < values.size)
    out = np.full(at_min.size, math.nan)
    out[inside] = values[idx[inside]]
    return out


def queue_band(runs: Sequence[RunResult], pool: str, level: float = 0.95) -> Band | None:
    """Mean queue length of a pool over time (x in days), or None if no run sampled it."""
    series = [
        r.data["resources"][pool]["queue_series"]
        for r in runs
        if pool in r.data["resources"] and r.data["resources"][pool]["queue_series"]["mean_queue"]
    ]
    if not series:
        return None
    width = max(float(s["interval_min"]) for s in series)
    start = min(float(s["start_min"]) for s in series)
    end = max(
        float(s["start_min"]) + len(s["mean_queue"]) * float(s["interval_min"]) for s in series
    )
    count = max(math.ceil((end - start) / width), 1)
    mids = np.asarray(start + (np.arange(count) + 0.5) * width, dtype=np.float64)
    return band_over_runs(mids / 1440.0, [_series_at(s, mids) for s in series], level)


def _cdf_at(cdf: dict[str, list[float]], x: Floats) -> Floats:
    """A replication's empirical CDF (non-empty histogram bins) evaluated at x."""
    xs, ps = np.asarray(cdf["x"], dtype=float), np.asarray(cdf["p"], dtype=float)
    idx = np.searchsorted(xs, x, side="right") - 1
    return np.where(idx >= 0, ps[np.clip(idx, 0, None)], 0.0)


def wait_cdf_band(runs: Sequence[RunResult], region: str, level: float = 0.95) -> Band | None:
    """P(wait <= x) for a region's windows, or None if nobody waited there in any run."""
    cdfs = [
        cdf
        for r in runs
        if (cdf := r.data["regions"].get(region, {}).get("wait", {}).get("cdf")) and cdf["x"]
    ]
    if not cdfs:
        return None
    x = np.unique(np.concatenate([np.asarray(c["x"], dtype=float) for c in cdfs]))
    return band_over_runs(x, [_cdf_at(c, x) for c in cdfs], level)


def completions_by_hour_band(
    runs: Sequence[RunResult], region: str, level: float = 0.95
) -> Band | None:
    """Completed visits per hour at each hour of day on open days (x: 0..24), or None."""
    curves = []
    for r in runs:
        group = r.data["regions"].get(region)
        if group is None or not group["completed"]:
            continue
        rate = np.asarray(group["throughput_by_hour_of_day"], dtype=float)
        curves.append(np.append(rate, rate[-1]))  # the last hour ends at 24
    if not curves:
        return None
    return band_over_runs(np.arange(25, dtype=float), curves, level)


def categories(
    values: dict[str, list[float]], level: float = 0.95
) -> tuple[dict[str, Estimate], list[str]]:
    """Estimates per category (values: one per replication, nan where the run had none),
    and the categories left out because no replication had a value."""
    shown: dict[str, Estimate] = {}
    missing: list[str] = []
    for name, per_run in values.items():
        est = confidence_interval(per_run, level)
        if est.n == 0:
            missing.append(name)
        else:
            shown[name] = est
    return shown, missing


def metric_values(runs: Sequence[RunResult], path: str) -> list[float]:
    """A metric of every replication by dotted path, nan where a run does not have it."""
    out = []
    for run in runs:
        try:
            out.append(metric(run.data, path))
        except KeyError:
            out.append(math.nan)
    return out


def resource_values(runs: Sequence[RunResult], name: str, field: str) -> list[float]:
    """A field of one resource (its name has dots, so no metric path) in every replication."""
    out = []
    for run in runs:
        value = run.data["resources"].get(name, {}).get(field)
        out.append(math.nan if value is None else float(value))
    return out
