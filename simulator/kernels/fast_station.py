"""Fast kernel: a scenario reduced to one FCFS window pool (M/G/c[/K][+G]), run on two heaps."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from heapq import heappop, heappush, heapreplace
from typing import Any

import numpy as np

from simulator.calendar import DAY, open_time, staff_changes
from simulator.group_stats import GroupStats
from simulator.recorder import Recorder
from simulator.records import CaseRecord, TimeWeighted
from simulator.scenario import Scenario, parse_clock
from simulator.streams import Streams

__all__ = ["Station", "reason_not_reducible", "run_fast_station"]

_CHUNK = 8192
_WALK_IN = 2


class Station:
    """Time-weighted levels of the single window pool, shaped like a staff pool."""

    def __init__(self, name: str, t0: float, interval: float, max_points: int) -> None:
        self.name = name
        self.busy = TimeWeighted(t0)
        self.queue_len = TimeWeighted(t0, interval, max_points)
        self.on_duty = TimeWeighted(t0)
        self._carry_in_leaves: list[float] = []  # when the applicants queued at obs start leave
        self._obs = t0

    def carry_in(self, obs: float, leaves: list[float]) -> None:
        """Note the observation start and when those already waiting then leave the queue."""
        self._obs = obs
        self._carry_in_leaves = [t for t in leaves if t > obs]

    def carry_in_area(self, t_end: float) -> float:
        """Queue-minutes inside [obs start, t_end] of applicants who arrived in the warm-up."""
        obs = self._obs
        return sum(min(t, t_end) - obs for t in self._carry_in_leaves if t_end > obs)


def reason_not_reducible(sc: Scenario) -> str | None:
    """Why the scenario needs the full SimPy model, or None if the fast kernel applies."""
    if len(sc.regions) != 1:
        return "more than one region"
    region = next(iter(sc.regions.values()))
    arr = region.arrivals
    checks = [
        (arr.cross_per_hour > 0, "cross-province arrivals (remote path)"),
        (arr.local_per_hour <= 0, "no arrivals"),
        (len(set(arr.hourly_profile)) != 1 or len(set(arr.day_factors)) != 1, "time-varying rate"),
        (arr.appointments.share > 0, "appointments"),
        (sc.behaviour.green_share > 0, "green-channel priority"),
        (parse_clock(region.calendar.open) != 0, "opening hours"),
        (parse_clock(region.calendar.close) != DAY, "opening hours"),
        (len(region.calendar.days) != 7, "closed days"),
    ]
    for failed, why in checks:
        if failed:
            return why
    initial, changes = staff_changes(region.clerks, sc.run.start_weekday)
    if changes or initial < 1:
        return "shifts change the number of clerks"
    return None


@dataclass(slots=True)
class _Draws:
    """Random numbers for the next chunk of arrivals (None where the source is unused)."""

    gaps: list[float]
    service: list[float]
    patience: list[float] | None
    balk: list[float] | None


class _Sources:
    """The station's random streams, drawn a chunk at a time (the SimPy model's names)."""

    def __init__(self, sc: Scenario, replication: int, code: str) -> None:
        arr = sc.region(code).arrivals
        self.rate = arr.local_per_hour / 60.0 * arr.hourly_profile[0] * arr.day_factors[0]
        streams = Streams(sc.run.seed, replication)
        self.arrivals = streams.uniform(f"arrivals.{code}")
        self.service = streams.sampler(f"service.local.{code}", sc.case.local_service)
        beh = sc.behaviour
        self.patience = None if beh.patience is None else streams.sampler("patience", beh.patience)
        self.balk = streams.uniform("balk")
        self.balks = beh.balk_queue is not None

    def draw(self, n: int) -> _Draws:
        """Exponential inter-arrival gaps, service times, patience and balk uniforms."""
        lam = self.rate
        gaps = (-np.log1p(-self.arrivals.array(n)) / lam).tolist() if lam > 0 else [math.inf] * n
        return _Draws(
            gaps,
            self.service.array(n).tolist(),
            self.patience.array(n).tolist() if self.patience is not None else None,
            self.balk.array(n).tolist() if self.balks else None,
        )


@dataclass(slots=True)
class _Chunk:
    """Observed customers of one chunk, folded into the summaries in one vectorised step."""

    waits: list[float] = field(default_factory=list)
    wait_times: list[float] = field(default_factory=list)
    sojourns: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)


class _StationRun:
    """One replication of the station: clerks' free times, queue leave times, counts.

    With one pool, first-come-first-served order, homogeneous Poisson arrivals and a constant
    head-count, the next event of every customer is known on arrival: the earliest free clerk
    (a heap of free times) fixes the wait, abandonment happens at arrival + patience if that
    comes first, and a balk depends on the queue, whose leave times sit in a second heap.
    This is the event calendar of the SimPy model with the redundant events removed; it is
    validated against Erlang C, M/M/c/K and Erlang A like the SimPy kernel.
    """

    def __init__(self, sc: Scenario, recorder: Recorder) -> None:
        ((code, region),) = sc.regions.items()
        self.code: str = code
        self.clerks, _ = staff_changes(region.clerks, sc.run.start_weekday)
        run, beh, out = sc.run, sc.behaviour, sc.output
        self.limit = run.max_arrivals if run.max_arrivals is not None else math.inf
        self.horizon = run.horizon_days * DAY if run.horizon_days is not None else math.inf
        self.warm_n, self.warm_t = run.warmup_arrivals, run.warmup_days * DAY
        self.balk_queue, self.balk_prob = beh.balk_queue, beh.balk_prob
        self.station = Station(
            f"clerks.{code}", 0.0, out.sample_interval_min, out.max_series_points
        )
        self.scenario = sc
        self.recorder = recorder
        self.group = recorder.regions[code]
        recorder.od[(code, code)] = self.group
        self.servers = [0.0] * self.clerks  # heap of the times each clerk becomes free
        self.leave: list[float] = []  # heap of the times waiting applicants leave the queue
        self.queue = 0
        self.t = 0.0
        self.idle = 0.0  # idle clerk-minutes inside the observation window
        self.obs = math.inf  # observation start, known once the warm-up ends
        self.observing = False
        self.arrived = 0
        self.counts = {"served": 0, "balked": 0, "reneged": 0}

    # ------------------------------------------------------------------ the run
    def run(self, sources: _Sources) -> dict[str, Any]:
        """Feed arrivals chunk by chunk until the arrival limit or the horizon; report."""
        while self.arrived < self.limit:
            n = int(min(_CHUNK, self.limit - self.arrived))
            chunk = _Chunk()
            horizon_reached = self._run_chunk(sources.draw(n), chunk)
            _absorb(self.recorder, self.group, chunk)
            if horizon_reached:
                break
        return self._report()

    def _run_chunk(self, draws: _Draws, chunk: _Chunk) -> bool:
        """Admit the chunk's arrivals in order; True once an arrival falls past the horizon."""
        pat, bal = draws.patience, draws.balk
        for k, gap in enumerate(draws.gaps):
            self.t += gap
            if self.t > self.horizon:
                return True
            self._arrive(
                draws.service[k],
                pat[k] if pat is not None else None,
                bal[k] if bal is not None else 1.0,
                chunk,
            )
        return False

    def _arrive(self, service: float, patience: float | None, balk_u: float, chunk: _Chunk) -> None:
        """One arrival at time self.t: served at once, balks, reneges or waits its turn."""
        t = self.t
        if not self.observing and self.arrived >= self.warm_n and t >= self.warm_t:
            self._start_observation()
        self._leave_queue_until(t)
        self.arrived += 1
        free = self.servers[0]
        if free <= t:
            self._count_idle(t, free)
            heapreplace(self.servers, t + service)
            self._served(t, 0.0, service, chunk)
        elif self._balks(balk_u):
            self._observe("balked", t, 0.0, 0.0)
        else:
            wait = free - t
            self._join_queue(t)
            if patience is not None and wait > patience:
                self._renege(t, patience, chunk)
            else:
                heappush(self.leave, free)
                heapreplace(self.servers, free + service)
                self._served(t, wait, service, chunk)

    # -------------------------------------------------------------- the queue
    def _join_queue(self, t: float) -> None:
        self.queue += 1
        self.station.queue_len.set(t, self.queue)

    def _leave_queue_until(self, t: float) -> None:
        """Everyone whose leave time has come (served or out of patience) leaves the queue."""
        leave, level = self.leave, self.station.queue_len
        while leave and leave[0] <= t:
            self.queue -= 1
            level.set(heappop(leave), self.queue)

    def _balks(self, balk_u: float) -> bool:
        """A full queue turns the applicant away with the scenario's balk probability."""
        return (
            self.balk_queue is not None
            and self.queue >= self.balk_queue
            and balk_u < self.balk_prob
        )

    def _count_idle(self, t: float, free: float) -> None:
        """Idle clerk-minutes between a clerk's last finish and this arrival, once observing."""
        if self.observing:
            self.idle += t - (free if free > self.obs else self.obs)

    # ------------------------------------------------------------- outcomes
    def _served(self, t: float, wait: float, service: float, chunk: _Chunk) -> None:
        end = t + wait + service
        if self.observing and end <= self.horizon:
            chunk.waits.append(wait)
            chunk.wait_times.append(t)
            chunk.sojourns.append(wait + service)
            chunk.ends.append(end)
            self._observe("served", t, wait, wait + service)

    def _renege(self, t: float, patience: float, chunk: _Chunk) -> None:
        gone = t + patience
        heappush(self.leave, gone)
        if self.observing and gone <= self.horizon:
            chunk.waits.append(patience)
            chunk.wait_times.append(t)
            self._observe("reneged", t, patience, patience)

    def _observe(self, outcome: str, t: float, wait: float, sojourn: float) -> None:
        """Count an outcome of the observation window, and trace it if asked."""
        if not self.observing:
            return
        self.counts[outcome] += 1
        trace = self.recorder.trace
        if trace is not None:
            code, nan = self.code, math.nan
            case = self.arrived - 1
            trace.write(
                CaseRecord(
                    case, 0, code, code, "local", _WALK_IN, t, wait, sojourn, nan, outcome,
                    "none", 0, nan,
                )
            )  # fmt: skip

    # ---------------------------------------------------------- observation
    def _start_observation(self) -> None:
        """End of the warm-up: levels and counts restart here."""
        self.observing = True
        # Like the SimPy model (and the recorder's filter): observation starts at the later of
        # the warm-up time and the first observed arrival, or at time 0 without a warm-up.
        obs = self.t if 0 < self.warm_n == self.arrived else self.warm_t
        self.obs = obs
        self._leave_queue_until(obs)
        # Their queue time after obs is in the queue-length integral but their waits are not
        # recorded; the recorder needs it exactly (leave times are known on arrival here).
        self.station.carry_in(obs, self.leave)
        self.station.queue_len.restart(obs)
        self.recorder.obs_start = obs

    def _report(self) -> dict[str, Any]:
        """Close the observation window at the end of the run and build the report."""
        t_end = self._end_time()
        if not self.observing:
            self.obs = t_end
            self.recorder.obs_start = t_end
            self.station.queue_len.restart(t_end)
        self._leave_queue_until(t_end)
        self.station.queue_len.set(t_end, self.queue)
        span = max(t_end - self.obs, 0.0)
        self._set_staff_levels(t_end, span)
        self._count_outcomes()
        return self.recorder.result(
            t_end,
            [self.station],
            {self.code: self.station},
            open_time(self.scenario, self.obs, t_end),
            extra={"kernel": "fast", "arrivals": self.arrived},
        )

    def _end_time(self) -> float:
        """The horizon, or when the last clerk or waiting applicant is done."""
        if math.isfinite(self.horizon):
            return self.horizon
        return max([self.t, *self.servers, *self.leave])

    def _set_staff_levels(self, t_end: float, span: float) -> None:
        """Busy and on-duty integrals from the idle time (clerks never change here)."""
        servers, obs = self.servers, self.obs
        busy_end = sum(1 for f in servers if f > t_end)
        idle = self.idle + sum(t_end - max(f, obs) for f in servers if f < t_end)
        for tw, area, value in (
            (self.station.busy, self.clerks * span - idle, float(busy_end)),
            (self.station.on_duty, self.clerks * span, float(self.clerks)),
        ):
            tw.start, tw.last, tw.area, tw.value = obs, t_end, area, value

    def _count_outcomes(self) -> None:
        group = self.group
        group.visits += sum(self.counts.values())
        for name, count in self.counts.items():
            if count:
                group.outcomes[name] = group.outcomes.get(name, 0) + count


def run_fast_station(sc: Scenario, replication: int, recorder: Recorder) -> dict[str, Any]:
    """Simulate the reduced scenario; the report has the same shape as the SimPy kernel's."""
    ((code, _),) = sc.regions.items()
    return _StationRun(sc, recorder).run(_Sources(sc, replication, code))


def _absorb(recorder: Recorder, group: GroupStats, chunk: _Chunk) -> None:
    """Fold one chunk of customers into the summaries with vectorised updates."""
    hours = np.bincount((np.asarray(chunk.ends) % DAY // 60).astype(np.int64), minlength=24)[:24]
    group.wait.add_many(np.asarray(chunk.waits))
    group.sojourn.add_many(np.asarray(chunk.sojourns))
    group.completions_by_hour = [
        a + int(b) for a, b in zip(group.completions_by_hour, hours, strict=True)
    ]
    recorder.wait_series.add_many(chunk.wait_times, chunk.waits)
