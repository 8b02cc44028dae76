"""Duration distributions (parametric or empirical from a benchmark JSON), sampled by inversion."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["UNIT_MINUTES", "Distribution", "load_empirical"]

FloatArray = NDArray[np.float64]

#: Minutes per unit; the simulation clock runs in minutes.
UNIT_MINUTES: dict[str, float] = {
    "ms": 1.0 / 60_000.0,
    "s": 1.0 / 60.0,
    "min": 1.0,
    "h": 60.0,
    "d": 1440.0,
}

Kind = Literal[
    "constant", "exponential", "lognormal", "gamma", "uniform", "triangular", "empirical"
]
Unit = Literal["ms", "s", "min", "h", "d"]


class Distribution(BaseModel):
    """A non-negative duration.

    kinds and the keys they read: constant(value), exponential(mean),
    lognormal(mean and sd or cv), gamma(mean and sd or cv), uniform(low, high),
    triangular(low, mode, high), empirical(path[, field]). ``unit`` says what the numbers mean
    (ms, s, min, h, d); empirical files carry their own unit (see :func:`load_empirical`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    value: float | None = Field(default=None, ge=0)
    mean: float | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, ge=0)
    cv: float | None = Field(default=None, ge=0)
    low: float | None = Field(default=None, ge=0)
    mode: float | None = Field(default=None, ge=0)
    high: float | None = Field(default=None, ge=0)
    path: str | None = None
    field: str | None = None
    unit: Unit = "min"

    @model_validator(mode="after")
    def _check_parameters(self) -> Distribution:
        need: dict[str, tuple[str, ...]] = {
            "constant": ("value",),
            "exponential": ("mean",),
            "lognormal": ("mean",),
            "gamma": ("mean",),
            "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high"),
            "empirical": ("path",),
        }
        missing = [k for k in need[self.kind] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"{self.kind} distribution needs {', '.join(missing)}")
        if self.kind in ("lognormal", "gamma") and (self.sd is None) == (self.cv is None):
            raise ValueError(f"{self.kind} distribution needs exactly one of sd or cv")
        if self.kind == "gamma" and self.spread_cv() == 0:
            raise ValueError("gamma distribution needs sd or cv > 0")
        if self.kind in ("uniform", "triangular"):
            assert self.low is not None and self.high is not None
            if self.high < self.low:
                raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
            if self.mode is not None and not self.low <= self.mode <= self.high:
                raise ValueError(f"mode ({self.mode}) must lie in [low, high]")
        if self.kind == "empirical":
            assert self.path is not None
            load_empirical(self.path, self.field)  # fail at validation, not mid-run
        return self

    def spread_cv(self) -> float:
        """Coefficient of variation for the mean/spread families."""
        if self.cv is not None:
            return self.cv
        assert self.mean is not None and self.sd is not None
        return self.sd / self.mean

    def mean_minutes(self) -> float:
        """Expected value in minutes."""
        k = UNIT_MINUTES[self.unit]
        if self.kind == "constant":
            assert self.value is not None
            return self.value * k
        if self.kind in ("exponential", "lognormal", "gamma"):
            assert self.mean is not None
            return self.mean * k
        if self.kind == "uniform":
            assert self.low is not None and self.high is not None
            return (self.low + self.high) / 2 * k
        if self.kind == "triangular":
            assert self.low is not None and self.mode is not None and self.high is not None
            return (self.low + self.mode + self.high) / 3 * k
        u = (np.arange(20_000) + 0.5) / 20_000
        return float(np.mean(self.ppf_minutes(u)))

    def ppf_minutes(self, u: FloatArray) -> FloatArray:
        """Quantile function in minutes: inversion keeps common random numbers aligned."""
        k = UNIT_MINUTES[self.unit]
        if self.kind == "constant":
            assert self.value is not None
            return np.full_like(u, self.value * k)
        if self.kind == "exponential":
            assert self.mean is not None
            return -self.mean * k * np.log1p(-u)
        if self.kind == "lognormal":
            assert self.mean is not None
            s2 = math.log1p(self.spread_cv() ** 2)
            mu = math.log(self.mean) - s2 / 2
            from scipy.special import ndtri  # scipy loads only for the families that need it

            return np.asarray(np.exp(mu + math.sqrt(s2) * ndtri(u)) * k, dtype=float)
        if self.kind == "gamma":
            assert self.mean is not None
            shape = 1.0 / self.spread_cv() ** 2
            from scipy.stats import gamma

            return np.asarray(gamma.ppf(u, shape, scale=self.mean / shape), float) * k
        if self.kind == "uniform":
            assert self.low is not None and self.high is not None
            return (self.low + u * (self.high - self.low)) * k
        if self.kind == "triangular":
            assert self.low is not None and self.mode is not None and self.high is not None
            a, c, b = self.low, self.mode, self.high
            if b == a:
                return np.full_like(u, a * k)
            f = (c - a) / (b - a)
            left = a + np.sqrt(u * (b - a) * (c - a))
            right = b - np.sqrt((1 - u) * (b - a) * (b - c))
            return np.where(u < f, left, right) * k
        assert self.path is not None
        probs, values_min = load_empirical(self.path, self.field)
        return np.interp(u, probs, values_min)


def _select(doc: Any, field: str | None) -> Any:
    if not field:
        return doc
    for part in field.split("."):
        if not isinstance(doc, dict) or part not in doc:
            raise ValueError(f"field {field!r}: key {part!r} not found in benchmark JSON")
        doc = doc[part]
    return doc


@lru_cache(maxsize=64)
def load_empirical(path: str, field: str | None = None) -> tuple[FloatArray, FloatArray]:
    """Read a benchmark latency file; return (cumulative probabilities, values in minutes).

    The object (after following the dotted ``field``, if any) must hold one of:
    ``samples_ms`` (list of latencies in ms; the empirical quantile function is used), or
    ``percentiles_ms`` (mapping like {"p50": 12.1, "p90": 20.4, "p99": 41.0}, optionally
    "min"/"max"; linear interpolation between them, p0 = min or 0, p100 = max or the top
    percentile). ``samples_s`` and ``percentiles_s`` are read the same way in seconds.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"empirical latency file {path!r} does not exist")
    try:
        doc = _select(json.loads(p.read_text()), field)
    except json.JSONDecodeError as exc:
        raise ValueError(f"empirical latency file {path!r} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected an object with samples_ms or percentiles_ms")
    for unit in ("ms", "s"):
        k = UNIT_MINUTES[unit]
        samples = doc.get(f"samples_{unit}")
        if samples is not None:
            values = np.sort(np.asarray(samples, dtype=float))
            if values.size == 0 or not np.all(np.isfinite(values)) or values[0] < 0:
                raise ValueError(f"{path}: samples_{unit} must be non-empty, finite and >= 0")
            probs = (np.arange(values.size) + 0.5) / values.size
            probs = np.concatenate(([0.0], probs, [1.0]))
            values = np.concatenate(([values[0]], values, [values[-1]]))
            return probs, values * k
        pct = doc.get(f"percentiles_{unit}")
        if pct is not None:
            return _from_percentiles(path, pct, unit)
    raise ValueError(f"{path}: expected samples_ms, samples_s, percentiles_ms or percentiles_s")


def _from_percentiles(path: str, pct: Any, unit: str) -> tuple[FloatArray, FloatArray]:
    if not isinstance(pct, dict) or not pct:
        raise ValueError(f"{path}: percentiles_{unit} must be a non-empty mapping")
    points: dict[float, float] = {}
    for key, value in pct.items():
        if key == "min":
            q = 0.0
        elif key == "max":
            q = 1.0
        elif isinstance(key, str) and key.startswith("p"):
            try:
                q = float(key[1:]) / 100.0
            except ValueError as exc:
                raise ValueError(f"{path}: bad percentile key {key!r}") from exc
        else:
            raise ValueError(f"{path}: bad percentile key {key!r}")
        if not 0 <= q <= 1 or float(value) < 0:
            raise ValueError(f"{path}: percentile {key!r} out of range")
        points[q] = float(value)
    points.setdefault(0.0, 0.0)
    points.setdefault(1.0, max(points.values()))
    qs = np.array(sorted(points))
    vs = np.maximum.accumulate(np.array([points[q] for q in qs]))
    return qs, vs * UNIT_MINUTES[unit]
