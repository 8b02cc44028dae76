"""Replications, t-based confidence intervals, warm-up deletion, precision targets, CRN."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.engine import Kernel, simulate
from simulator.recorder import RunResult
from simulator.scenario import Scenario

__all__ = [
    "Estimate",
    "compare",
    "confidence_interval",
    "estimate_warmup",
    "littles_law_holds",
    "mser5",
    "replicate",
    "run_until_precision",
    "summarise",
    "with_warmup",
]


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean of replications with a two-sided t confidence interval."""

    mean: float
    half_width: float
    n: int
    sd: float
    level: float = 0.95

    @property
    def low(self) -> float:
        """Lower end of the interval."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the interval."""
        return self.mean + self.half_width

    @property
    def relative_precision(self) -> float:
        """Half-width over |mean| (inf when the mean is 0)."""
        return self.half_width / abs(self.mean) if self.mean else math.inf

    def contains(self, value: float) -> bool:
        """Whether value lies in the interval."""
        return self.low <= value <= self.high

    def as_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {
            "mean": self.mean,
            "half_width": self.half_width,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "sd": self.sd,
        }


def confidence_interval(values: Sequence[float], level: float = 0.95) -> Estimate:
    """t-based interval for the mean of independent replications (nan values dropped)."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    n = int(x.size)
    if n == 0:
        return Estimate(math.nan, math.nan, 0, math.nan, level)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, math.inf, 1, math.nan, level)
    sd = float(x.std(ddof=1))
    # scipy.special's t quantile (what scipy.stats.t.ppf calls) loads in a third of the time.
    from scipy.special import stdtrit

    half = float(stdtrit(n - 1, 0.5 + level / 2)) * sd / math.sqrt(n)
    return Estimate(mean, half, n, sd, level)


def mser5(series: Sequence[float], batch: int = 5) -> int:
    """MSER-5 truncation point, as a count of raw observations to delete.

    ``series`` holds batch means (5 observations each by default, or whatever ``batch``
    says); the deletion d minimises the squared standard error of the remaining mean,
    searched over the first half as the rule prescribes.
    """
    y = np.asarray(series, dtype=float)
    n = y.size
    if n < 4:
        return 0
    tail_sum = np.cumsum(y[::-1])[::-1]
    tail_sq = np.cumsum((y * y)[::-1])[::-1]
    counts = np.arange(n, 0, -1, dtype=float)
    mean = tail_sum / counts
    sse = tail_sq - counts * mean * mean
    score = sse / counts**2
    d = int(np.argmin(score[: n // 2 + 1]))
    return d * batch


def replicate(
    scenario: Scenario, replications: int, kernel: Kernel = "auto", first: int = 0
) -> list[RunResult]:
    """Independent replications; replication r always uses the same streams (CRN)."""
    return [simulate(scenario, r, kernel) for r in range(first, first + replications)]


def summarise(results: Iterable[RunResult], metrics: Sequence[str]) -> dict[str, Estimate]:
    """Confidence intervals for each metric path across replications."""
    runs = list(results)
    return {m: confidence_interval([r.metric(m) for r in runs]) for m in metrics}


def estimate_warmup(scenario: Scenario, pilots: int = 3, kernel: Kernel = "auto") -> float:
    """MSER-5 warm-up on pilot runs: the largest deletion over the pilots.

    Returns minutes for horizon runs and a number of arrivals for count-limited runs.
    """
    pilot = scenario.model_copy(
        update={"run": scenario.run.model_copy(update={"warmup_days": 0.0, "warmup_arrivals": 0})}
    )
    worst = 0.0
    for r in range(pilots):
        res = simulate(pilot, r, kernel)
        mser = res.data["mser"]
        means, times, batch = mser["means"], mser["times"], mser["batch"]
        cut = mser5(means, batch) // batch
        if scenario.run.horizon_days is None:
            worst = max(worst, float(cut * batch))
        elif cut > 0:
            worst = max(worst, float(times[cut - 1]))
    return worst


def with_warmup(scenario: Scenario, warmup: float) -> Scenario:
    """The scenario with a warm-up as returned by :func:`estimate_warmup`."""
    run = scenario.run
    update: dict[str, float | int]
    if run.horizon_days is None:
        cap = (run.max_arrivals or 1) - 1
        update = {"warmup_arrivals": int(min(warmup, cap))}
    else:
        update = {"warmup_days": min(warmup / 1440.0, run.horizon_days / 2)}
    return scenario.model_copy(update={"run": run.model_copy(update=update)})


def run_until_precision(
    scenario: Scenario,
    metric: str,
    relative_precision: float = 0.05,
    min_replications: int = 3,
    max_replications: int = 50,
    kernel: Kernel = "auto",
    done: Sequence[RunResult] = (),
) -> tuple[list[RunResult], Estimate]:
    """Add replications until the CI half-width is within the relative precision.

    ``done`` holds replications 0..k-1 already run; they are kept, not repeated.
    """
    results = list(done)
    results += replicate(scenario, max(min_replications - len(results), 0), kernel, len(results))
    est = confidence_interval([r.metric(metric) for r in results])
    while est.relative_precision > relative_precision and len(results) < max_replications:
        results.append(simulate(scenario, len(results), kernel))
        est = confidence_interval([r.metric(metric) for r in results])
    return results, est


def compare(
    baseline: Scenario,
    variant: Scenario,
    metric: str,
    replications: int,
    kernel: Kernel = "auto",
    run: Callable[[Scenario, int, Kernel], RunResult] = simulate,
) -> Estimate:
    """Paired difference variant - baseline under common random numbers.

    Both scenarios must share run.seed: replication r of each then draws every source
    (arrivals, service, patience, ...) from the same stream, so the difference has far
    less variance than comparing independent runs.
    """
    if baseline.run.seed != variant.run.seed:
        raise ValueError("common random numbers need the same run.seed in both scenarios")
    diffs = [
        run(variant, r, kernel).metric(metric) - run(baseline, r, kernel).metric(metric)
        for r in range(replications)
    ]
    return confidence_interval(diffs)


def littles_law_holds(result: RunResult) -> bool:
    """L = lambda W for every window queue, within the run's own edge-effect tolerance.

    ``carry_in`` is the exact share of L due to applicants already waiting when the warm-up
    ended (their waits are not recorded); only the end edge is left to the tolerance.
    """
    for check in result.data["little"].values():
        carry_in = check.get("carry_in", 0.0)
        if abs(check["L"] - carry_in - check["lambda_W"]) > check["tolerance"]:
            return False
    return True
