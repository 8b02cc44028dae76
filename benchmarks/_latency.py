"""Exact latency recorder: samples in seconds, nearest-rank percentiles, bounded samples in ms."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

SUMMARY_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


def nearest_rank(ordered: list[float], p: float) -> float:
    """The p-th percentile (0 < p <= 100) of sorted values by nearest rank; NaN when empty."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LatencyRecorder:
    """Every latency sample of a run (seconds), safe to record from many threads."""

    samples: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, seconds: float) -> None:
        with self._lock:
            self.samples.append(seconds)

    def extend(self, values: Iterable[float]) -> None:
        with self._lock:
            self.samples.extend(values)

    @classmethod
    def merged(cls, recorders: Iterable[LatencyRecorder]) -> LatencyRecorder:
        out = cls()
        for rec in recorders:
            out.extend(rec.samples)
        return out

    @property
    def count(self) -> int:
        return len(self.samples)

    def percentile(self, p: float) -> float:
        """The p-th percentile in seconds (nearest rank); NaN when nothing was recorded."""
        return nearest_rank(sorted(self.samples), p)

    def summary_ms(self) -> dict[str, float]:
        """count, mean, min, p50, p90, p99, p999 and max, in milliseconds (count is a number)."""
        ordered = sorted(self.samples)
        if not ordered:
            return {"count": 0}
        out = {"count": float(len(ordered)), "mean": sum(ordered) / len(ordered), "min": ordered[0]}
        out.update({k: nearest_rank(ordered, p) for k, p in SUMMARY_PERCENTILES.items()})
        out["max"] = ordered[-1]
        return {k: (int(v) if k == "count" else round(v * 1e3, 4)) for k, v in out.items()}

    def sample_ms(self, limit: int = 2000, seed: int = 0) -> list[float]:
        """At most `limit` samples in ms, drawn uniformly without replacement (seeded)."""
        values = self.samples
        if len(values) > limit:
            values = random.Random(seed).sample(values, limit)
        return [round(v * 1e3, 4) for v in values]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator rounded, or None when either is missing, NaN or not positive."""
    if numerator is None or denominator is None:
        return None
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return None
    return round(numerator / denominator, 4)
