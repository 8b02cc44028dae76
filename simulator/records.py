"""Immutable per-case records and streaming summaries whose memory does not grow with cases."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "BatchMeans",
    "CaseRecord",
    "Summary",
    "TimeWeighted",
]

# Log-spaced histogram: exact zeros, then (0, 1e-4), then 48 bins per decade up to 1e7 min.
_BINS_PER_DECADE = 48
_LOW, _HIGH = -4, 7
_EDGES = np.concatenate(([0.0], np.logspace(_LOW, _HIGH, (_HIGH - _LOW) * _BINS_PER_DECADE + 1)))
_NBINS = len(_EDGES) + 1
_FLUSH = 2048
QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)


class CaseRecord(NamedTuple):
    """What happened to one applicant visit (times in minutes; nan where not applicable)."""

    case_id: int
    visit: int
    origin: str
    dest: str
    kind: str  # local | contact | remote
    priority: int  # 0 green channel, 1 appointment, 2 walk-in
    arrival: float
    wait: float  # queue time for a clerk (until served or leaving)
    sojourn: float  # time in the hall
    first_response: float  # wait for the remote reviewer to join
    outcome: str  # served | balked | reneged | approved | returned | rejected
    face: str  # none | hub | manual | quota
    fetch_failures: int
    result_time: float  # arrival -> result delivered


class Summary:
    """Streaming count/mean/sd/min/max and quantiles from a fixed log-spaced histogram.

    Quantiles are within one bin (about 5% relative) of the exact value; ``le`` counts for the
    service-level thresholds are exact.
    """

    __slots__ = ("_buf", "counts", "hi", "le_counts", "lo", "n", "sq", "thresholds", "total")

    def __init__(self, thresholds: Sequence[float] = ()) -> None:
        self.thresholds = tuple(thresholds)
        self._buf: list[float] = []
        self.counts = np.zeros(_NBINS, dtype=np.int64)
        self.le_counts = [0] * len(self.thresholds)
        self.n = 0
        self.total = 0.0
        self.sq = 0.0
        self.lo = math.inf
        self.hi = -math.inf

    def add(self, x: float) -> None:
        """Add one value (flushed to the histogram in batches)."""
        buf = self._buf
        buf.append(x)
        if len(buf) >= _FLUSH:
            self.flush()

    def add_many(self, values: np.ndarray[Any, Any]) -> None:
        """Add an array of values."""
        self.flush()
        self._absorb(np.asarray(values, dtype=float))

    def flush(self) -> None:
        """Fold buffered values into the histogram."""
        if self._buf:
            arr = np.asarray(self._buf, dtype=float)
            self._buf = []
            self._absorb(arr)

    def _absorb(self, arr: np.ndarray[Any, Any]) -> None:
        if arr.size == 0:
            return
        self.n += int(arr.size)
        self.total += float(arr.sum())
        self.sq += float(np.dot(arr, arr))
        self.lo = min(self.lo, float(arr.min()))
        self.hi = max(self.hi, float(arr.max()))
        idx = np.searchsorted(_EDGES, arr, side="left")
        self.counts += np.bincount(idx, minlength=_NBINS)[:_NBINS]
        for k, t in enumerate(self.thresholds):
            self.le_counts[k] += int(np.count_nonzero(arr <= t))

    def merge(self, other: Summary) -> None:
        """Fold another summary (same thresholds) into this one."""
        self.flush()
        other.flush()
        self.n += other.n
        self.total += other.total
        self.sq += other.sq
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)
        self.counts += other.counts
        self.le_counts = [a + b for a, b in zip(self.le_counts, other.le_counts, strict=True)]

    @property
    def mean(self) -> float:
        """Mean (nan when empty)."""
        self.flush()
        return self.total / self.n if self.n else math.nan

    def quantile(self, q: float) -> float:
        """Approximate q-quantile, interpolated geometrically inside its bin."""
        self.flush()
        if self.n == 0:
            return math.nan
        target = q * self.n
        cum = np.cumsum(self.counts)
        b = int(np.searchsorted(cum, target, side="left"))
        if b == 0:
            return 0.0
        below = float(cum[b - 1])
        inside = float(self.counts[b])
        frac = 0.0 if inside == 0 else (target - below) / inside
        lo_edge = float(_EDGES[b - 1]) if b - 1 < len(_EDGES) else self.hi
        hi_edge = float(_EDGES[b]) if b < len(_EDGES) else self.hi
        # Linear in the first bin (it starts at 0), geometric in the log-spaced ones.
        value = hi_edge * frac if lo_edge <= 0 else lo_edge * (hi_edge / lo_edge) ** frac
        return min(max(value, self.lo), self.hi)

    def cdf_points(self) -> tuple[list[float], list[float]]:
        """(upper bin edge, cumulative share) for non-empty bins, for plots."""
        self.flush()
        if self.n == 0:
            return [], []
        cum = np.cumsum(self.counts) / self.n
        xs, ys = [], []
        for b in np.nonzero(self.counts)[0]:
            edge = float(_EDGES[b]) if b < len(_EDGES) else self.hi
            xs.append(min(edge, self.hi))
            ys.append(float(cum[b]))
        return xs, ys

    def to_dict(self, with_cdf: bool = False) -> dict[str, Any]:
        """JSON-ready summary; ``with_cdf`` adds the histogram's CDF points for plots."""
        self.flush()
        n = self.n
        var = max(self.sq / n - (self.total / n) ** 2, 0.0) if n else math.nan
        out: dict[str, Any] = {
            "count": n,
            "mean": self.mean,
            "sd": math.sqrt(var) if n else math.nan,
            "min": self.lo if n else math.nan,
            "max": self.hi if n else math.nan,
        }
        for q in QUANTILES:
            out[f"p{round(q * 100)}"] = self.quantile(q)
        out["le"] = {
            f"{t:g}": (c / n if n else math.nan)
            for t, c in zip(self.thresholds, self.le_counts, strict=True)
        }
        if with_cdf:
            xs, ys = self.cdf_points()
            out["cdf"] = {"x": xs, "p": ys}
        return out


class TimeWeighted:
    """Time integral of a piecewise-constant level, with a bounded bucketed series.

    The series holds the time-average level per bucket; when it reaches ``max_points`` the
    buckets are merged pairwise and the bucket width doubles, so memory stays bounded.
    """

    __slots__ = (
        "_bucket_area",
        "_bucket_end",
        "area",
        "last",
        "max_points",
        "peak",
        "series",
        "start",
        "value",
        "width",
    )

    def __init__(self, t0: float, width: float = 0.0, max_points: int = 2048) -> None:
        self.start = t0
        self.last = t0
        self.value = 0.0
        self.area = 0.0
        self.peak = 0.0
        self.width = width
        self.max_points = max_points - max_points % 2
        self.series: list[float] | None = [] if width > 0 else None
        self._bucket_end = t0 + width
        self._bucket_area = 0.0

    def set(self, t: float, value: float) -> None:
        """The level becomes ``value`` at time t (t never decreases)."""
        dt = t - self.last
        if dt > 0:
            v = self.value
            self.area += v * dt
            if self.series is not None:
                self._advance(t, v)
            self.last = t
        self.value = value
        if value > self.peak:
            self.peak = value

    def _advance(self, t: float, v: float) -> None:
        last = self.last
        series = self.series
        assert series is not None
        while t >= self._bucket_end:
            self._bucket_area += v * (self._bucket_end - last)
            series.append(self._bucket_area / self.width)
            last = self._bucket_end
            self._bucket_area = 0.0
            self._bucket_end += self.width
            if len(series) >= self.max_points:
                series[:] = [(a + b) / 2 for a, b in zip(series[::2], series[1::2], strict=True)]
                self.width *= 2
                self._bucket_end = self.start + (len(series) + 1) * self.width
        self._bucket_area += v * (t - last)

    def restart(self, t: float) -> None:
        """Forget the past (warm-up deletion) but keep the current level."""
        self.set(t, self.value)
        self.area = 0.0
        self.start = t
        self.peak = self.value
        if self.series is not None:
            self.series = []
            self._bucket_end = t + self.width
            self._bucket_area = 0.0

    def mean(self, t: float) -> float:
        """Time average over [start, t]."""
        span = t - self.start
        if span <= 0:
            return math.nan
        return (self.area + self.value * max(t - self.last, 0.0)) / span


class BatchMeans:
    """Means of consecutive batches (for MSER-5); batches double when the list is full."""

    __slots__ = ("_acc", "_k", "batch", "max_points", "means", "times")

    def __init__(self, batch: int = 5, max_points: int = 1024) -> None:
        self.batch = batch
        self.max_points = max_points - max_points % 2
        self.means: list[float] = []
        self.times: list[float] = []
        self._acc = 0.0
        self._k = 0

    def add(self, t: float, x: float) -> None:
        """Add an observation made at time t."""
        self._acc += x
        self._k += 1
        if self._k >= self.batch:
            self._push(self._acc / self._k, t)

    def add_many(self, times: Sequence[float], values: Sequence[float]) -> None:
        """Add observations in order; whole batches are averaged with numpy."""
        i, n = 0, len(values)
        while i < n:
            room = self.batch - self._k
            if self._k == 0 and n - i >= self.batch:
                full = (n - i) // self.batch * self.batch
                block = np.asarray(values[i : i + full], dtype=float).reshape(-1, self.batch)
                ends = times[i + self.batch - 1 : i + full : self.batch]
                batch = self.batch
                for mean, t in zip(block.mean(axis=1).tolist(), ends, strict=True):
                    if self.batch != batch:  # compaction doubled the batch: finish one by one
                        break
                    self._push(mean, t)
                    i += batch
                continue
            take = min(room, n - i)
            self._acc += float(sum(values[i : i + take]))
            self._k += take
            i += take
            if self._k >= self.batch:
                self._push(self._acc / self._k, times[i - 1])

    def _push(self, mean: float, t: float) -> None:
        self.means.append(mean)
        self.times.append(t)
        self._acc = 0.0
        self._k = 0
        if len(self.means) >= self.max_points:
            m = self.means
            self.means = [(a + b) / 2 for a, b in zip(m[::2], m[1::2], strict=True)]
            self.times = self.times[1::2]
            self.batch *= 2
