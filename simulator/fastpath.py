"""The engine's kernel for a scenario reduced to one FCFS window pool (M/G/c[/K][+G]).

With one pool, first-come-first-served order, homogeneous Poisson arrivals and a constant
head-count, the next event of every customer is known on arrival: the earliest free clerk
(a heap of free times) fixes the wait, abandonment happens at arrival + patience if that
comes first, and a balk depends on the queue, whose leave times sit in a second heap.
This is the event calendar of the SimPy model with the redundant events removed; it is
validated against Erlang C, M/M/c/K and Erlang A like the SimPy kernel.
"""

from __future__ import annotations

import math
from heapq import heappop, heappush, heapreplace
from typing import Any

import numpy as np

from simulator.calendar import DAY, staff_changes
from simulator.recorder import Recorder
from simulator.records import CaseRecord, GroupStats, TimeWeighted
from simulator.scenario import Scenario, parse_clock
from simulator.streams import Streams

__all__ = ["Station", "reason_not_reducible", "run_station"]

_CHUNK = 8192


class Station:
    """Time-weighted levels of the single window pool, shaped like a staff pool."""

    def __init__(self, name: str, t0: float, interval: float, max_points: int) -> None:
        self.name = name
        self.busy = TimeWeighted(t0)
        self.queue_len = TimeWeighted(t0, interval, max_points)
        self.on_duty = TimeWeighted(t0)
        self.queue_at_obs_start = 0.0


def reason_not_reducible(sc: Scenario) -> str | None:
    """Why the scenario needs the full SimPy model, or None if the fast kernel applies."""
    if len(sc.regions) != 1:
        return "more than one region"
    ((code, region),) = sc.regions.items()
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
    del code
    return None


def run_station(sc: Scenario, replication: int, recorder: Recorder) -> dict[str, Any]:
    """Simulate the reduced scenario; the report has the same shape as the SimPy kernel's."""
    ((code, region),) = sc.regions.items()
    arr = region.arrivals
    lam = arr.local_per_hour / 60.0 * arr.hourly_profile[0] * arr.day_factors[0]
    servers_n, _ = staff_changes(region.clerks, sc.run.start_weekday)
    streams = Streams(sc.run.seed, replication)
    arrivals = streams.uniform(f"arrivals.{code}")
    service = streams.sampler(f"service.local.{code}", sc.case.local_service)
    beh = sc.behaviour
    patience = None if beh.patience is None else streams.sampler("patience", beh.patience)
    balk_u = streams.uniform("balk")
    balk_q = beh.balk_queue
    balk_p = beh.balk_prob
    run = sc.run
    limit = run.max_arrivals if run.max_arrivals is not None else math.inf
    horizon = run.horizon_days * DAY if run.horizon_days is not None else math.inf
    warm_n, warm_t = run.warmup_arrivals, run.warmup_days * DAY
    out = sc.output
    station = Station(f"clerks.{code}", 0.0, out.sample_interval_min, out.max_series_points)
    qtw = station.queue_len
    group = recorder.regions[code]
    recorder.od[(code, code)] = group
    trace = recorder.trace

    servers = [0.0] * servers_n  # heap of the times each clerk becomes free
    leave: list[float] = []  # heap of the times waiting applicants leave the queue
    qlen = 0
    t = 0.0
    idle = 0.0  # idle clerk-minutes inside the observation window
    obs = math.inf  # observation start, known once the warm-up ends
    observing = False
    i = 0
    served = balked = reneged = 0
    done = False
    while not done:
        n = int(min(_CHUNK, limit - i)) if math.isfinite(limit) else _CHUNK
        if n <= 0:
            break
        gaps = (-np.log1p(-arrivals.array(n)) / lam).tolist() if lam > 0 else [math.inf] * n
        svc = service.array(n).tolist()
        pat = patience.array(n).tolist() if patience is not None else None
        bal = balk_u.array(n).tolist() if balk_q is not None else None
        waits: list[float] = []
        wait_times: list[float] = []
        sojourns: list[float] = []
        ends: list[float] = []
        for k in range(n):
            t += gaps[k]
            if t > horizon:
                done = True
                break
            if not observing and i >= warm_n and t >= warm_t:
                observing = True
                obs = warm_t if warm_t > 0 else t
                while leave and leave[0] <= obs:
                    qlen -= 1
                    qtw.set(heappop(leave), qlen)
                station.queue_at_obs_start = float(qlen)
                qtw.restart(obs)
                recorder.obs_start = obs
            while leave and leave[0] <= t:
                qlen -= 1
                qtw.set(heappop(leave), qlen)
            i += 1
            free = servers[0]
            s = svc[k]
            if free <= t:
                if observing:
                    idle += t - (free if free > obs else obs)
                w = 0.0
                heapreplace(servers, t + s)
            else:
                if bal is not None and balk_q is not None and qlen >= balk_q and bal[k] < balk_p:
                    if observing:
                        balked += 1
                        if trace is not None:
                            trace.write(
                                CaseRecord(
                                    i - 1,
                                    0,
                                    code,
                                    code,
                                    "local",
                                    2,
                                    t,
                                    0.0,
                                    0.0,
                                    math.nan,
                                    "balked",
                                    "none",
                                    0,
                                    math.nan,
                                )
                            )
                    continue
                w = free - t
                qlen += 1
                qtw.set(t, qlen)
                if pat is not None and w > pat[k]:
                    gone = t + pat[k]
                    heappush(leave, gone)
                    if observing and gone <= horizon:
                        reneged += 1
                        waits.append(pat[k])
                        wait_times.append(t)
                        if trace is not None:
                            trace.write(
                                CaseRecord(
                                    i - 1,
                                    0,
                                    code,
                                    code,
                                    "local",
                                    2,
                                    t,
                                    pat[k],
                                    pat[k],
                                    math.nan,
                                    "reneged",
                                    "none",
                                    0,
                                    math.nan,
                                )
                            )
                    continue
                heappush(leave, free)
                heapreplace(servers, free + s)
            end = t + w + s
            if observing and end <= horizon:
                served += 1
                waits.append(w)
                wait_times.append(t)
                sojourns.append(w + s)
                ends.append(end)
                if trace is not None:
                    trace.write(
                        CaseRecord(
                            i - 1,
                            0,
                            code,
                            code,
                            "local",
                            2,
                            t,
                            w,
                            w + s,
                            math.nan,
                            "served",
                            "none",
                            0,
                            math.nan,
                        )
                    )
        _absorb(recorder, group, waits, wait_times, sojourns, ends)
        if i >= limit:
            break
    t_end = horizon if math.isfinite(horizon) else max([t, *servers, *leave])
    if not observing:
        obs = t_end
        recorder.obs_start = t_end
        qtw.restart(t_end)
    while leave and leave[0] <= t_end:
        qlen -= 1
        qtw.set(heappop(leave), qlen)
    qtw.set(t_end, qlen)
    busy_end = sum(1 for f in servers if f > t_end)
    idle += sum(t_end - max(f, obs) for f in servers if f < t_end)
    span = max(t_end - obs, 0.0)
    for tw, area, value in (
        (station.busy, servers_n * span - idle, float(busy_end)),
        (station.on_duty, servers_n * span, float(servers_n)),
    ):
        tw.start, tw.last, tw.area, tw.value = obs, t_end, area, value
    group.visits += served + balked + reneged
    for name, count in (("served", served), ("balked", balked), ("reneged", reneged)):
        if count:
            group.outcomes[name] = group.outcomes.get(name, 0) + count
    return recorder.result(
        t_end,
        [station],
        {code: station},
        float(math.ceil(span / DAY)),
        extra={"kernel": "fast", "arrivals": i},
    )


def _absorb(
    recorder: Recorder,
    group: GroupStats,
    waits: list[float],
    wait_times: list[float],
    sojourns: list[float],
    ends: list[float],
) -> None:
    """Fold one chunk of customers into the summaries with vectorised updates."""
    w = np.asarray(waits)
    s = np.asarray(sojourns)
    hours = np.bincount((np.asarray(ends) % DAY // 60).astype(np.int64), minlength=24)[:24]
    group.wait.add_many(w)
    group.sojourn.add_many(s)
    group.completions_by_hour = [
        a + int(b) for a, b in zip(group.completions_by_hour, hours, strict=True)
    ]
    recorder.wait_series.add_many(wait_times, waits)
