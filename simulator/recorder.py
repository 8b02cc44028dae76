"""Fold case records into per-region and per-OD summaries; build the run result."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from simulator.calendar import OpenTime
from simulator.group_stats import GroupStats
from simulator.records import BatchMeans, CaseRecord, TimeWeighted

__all__ = ["PoolStats", "Recorder", "RunResult", "TraceWriter", "metric"]


class PoolStats(Protocol):
    """What the recorder reads from a staff pool or service station."""

    name: str
    busy: TimeWeighted
    queue_len: TimeWeighted
    on_duty: TimeWeighted


class TraceWriter:
    """Per-case trace, one line per visit, CSV or JSON Lines by file suffix."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = self.path.open("w", newline="", buffering=1 << 16)
        self._jsonl = self.path.suffix in (".jsonl", ".json")
        self._csv = None if self._jsonl else csv.writer(self._fh)
        if self._csv is not None:
            self._csv.writerow(CaseRecord._fields)

    def write(self, rec: CaseRecord) -> None:
        """Append one record."""
        if self._csv is not None:
            self._csv.writerow(rec)
        else:
            self._fh.write(json.dumps(rec._asdict()) + "\n")

    def close(self) -> None:
        """Flush and close the file."""
        self._fh.close()


def metric(data: dict[str, Any], path: str) -> float:
    """Read a number from a result by dotted path, e.g. 'regions.SH.wait.mean'."""
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"metric {path!r}: no {part!r} here")
        node = node[part]
    if not isinstance(node, int | float):
        raise KeyError(f"metric {path!r} is not a number")
    return float(node)


@dataclass(frozen=True)
class RunResult:
    """One replication's report (JSON-ready) and its identity."""

    scenario: str
    replication: int
    seed: int
    data: dict[str, Any] = field(repr=False)

    def metric(self, path: str) -> float:
        """A number from the report by dotted path."""
        return metric(self.data, path)


class Recorder:
    """Receives every visit record after warm-up; memory bounded by regions x OD pairs."""

    def __init__(
        self,
        regions: tuple[str, ...],
        thresholds: tuple[float, ...],
        response_target: float,
        warmup_time: float = 0.0,
        warmup_arrivals: int = 0,
        trace: TraceWriter | None = None,
    ) -> None:
        self.thresholds = thresholds
        self.response_target = response_target
        self.warmup_time = warmup_time
        self.warmup_arrivals = warmup_arrivals
        self.obs_start = warmup_time
        self.trace = trace
        self.total = GroupStats(thresholds, response_target)
        self.regions = {r: GroupStats(thresholds, response_target) for r in regions}
        self.od: dict[tuple[str, str], GroupStats] = {}
        self.wait_series = BatchMeans()
        self.quota_events: list[dict[str, Any]] = []
        self.quota_event_count = 0

    def record(self, rec: CaseRecord) -> None:
        """Fold one visit in (warm-up visits only feed the MSER series and the trace)."""
        if self.trace is not None:
            self.trace.write(rec)
        if rec.outcome != "balked":
            self.wait_series.add(rec.arrival, rec.wait)
        if rec.arrival < self.warmup_time or rec.case_id < self.warmup_arrivals:
            return
        key = (rec.origin, rec.dest)
        group = self.od.get(key)
        if group is None:
            group = self.od[key] = GroupStats(self.thresholds, self.response_target)
        group.add(rec)  # region and total groups are merged from the OD groups at the end

    def quota_exhausted(self, t: float, region: str, day: int) -> None:
        """Note that a region's face-verification quota ran out (first 1000 kept)."""
        self.quota_event_count += 1
        if len(self.quota_events) < 1000:
            self.quota_events.append({"time_min": t, "day": day, "region": region})

    def result(
        self,
        t_end: float,
        pools: list[PoolStats],
        clerk_pools: dict[str, PoolStats],
        open_time: OpenTime,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON-ready report of the run, observed over [obs_start, t_end]."""
        if self.trace is not None:
            self.trace.close()
        for (origin, _), group in self.od.items():
            if group is not self.regions[origin]:
                self.regions[origin].merge(group)
        for region in self.regions.values():
            self.total.merge(region)
        span = max(t_end - self.obs_start, 0.0)
        days = span / 1440.0
        resources = {}
        for pool in pools:
            for tw in (pool.busy, pool.queue_len, pool.on_duty):
                tw.set(t_end, tw.value)
            duty = pool.on_duty.mean(t_end)
            busy = pool.busy.mean(t_end)
            resources[pool.name] = {
                "utilisation": busy / duty if duty and duty > 0 else math.nan,
                "mean_busy": busy,
                "mean_on_duty": duty,
                "mean_queue": pool.queue_len.mean(t_end),
                "max_queue": pool.queue_len.peak,
                "queue_series": {
                    "start_min": pool.queue_len.start,
                    "interval_min": pool.queue_len.width,
                    "mean_queue": list(pool.queue_len.series or []),
                },
            }
        little = {}
        for code, pool in clerk_pools.items():
            group = self.regions[code]
            waited = group.wait
            waited.flush()
            area_l = pool.queue_len.mean(t_end)
            lam_w = waited.total / span if span > 0 else math.nan
            # Applicants still waiting or in service at the end have no recorded wait yet; bound
            # their share of the area by the longest recorded wait.
            edge = (pool.queue_len.value + pool.busy.value) * (waited.hi if waited.n else 0.0)
            little[code] = {
                "L": area_l,
                "lambda_W": lam_w,
                "carry_in": _carry_in(pool, t_end) / span if span > 0 else 0.0,
                "tolerance": (edge / span if span > 0 else math.inf) + 1e-9 * max(area_l, 1.0),
            }
        return {
            "observed_min": span,
            "observed_days": days,
            "open_days": open_time.days,
            "open_hours": open_time.any_region / 60.0,
            "total": self.total.to_dict(
                span, days, open_time.any_region, open_time.hours_of_day_any
            ),
            "regions": {
                r: g.to_dict(span, days, open_time.by_region[r], open_time.hours_of_day[r])
                for r, g in self.regions.items()
            },
            "od": {
                f"{o}->{d}": g.to_dict(
                    span, days, open_time.by_region[o], open_time.hours_of_day[o]
                )
                for (o, d), g in sorted(self.od.items())
            },
            "resources": resources,
            "quota_exhaustion": {"count": self.quota_event_count, "events": self.quota_events},
            "little": little,
            "mser": {
                "batch": self.wait_series.batch,
                "means": self.wait_series.means,
                "times": self.wait_series.times,
            },
            **(extra or {}),
        }


def _carry_in(pool: PoolStats, t_end: float) -> float:
    """Queue-minutes after the observation start of applicants who arrived in the warm-up.

    They are in the queue-length integral but their waits are not recorded (they are not
    observed), so Little's law over the window is L = carry_in + lambda W exactly, up to the
    end edge. Both kernels measure it exactly: their residual waits are not bounded by the
    longest recorded wait (e.g. when the arrivals behind them balk at a full queue).
    """
    area = getattr(pool, "carry_in_area", None)
    return float(area(t_end)) if callable(area) else 0.0
