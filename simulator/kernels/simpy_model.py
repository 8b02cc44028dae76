"""SimPy kernel (any scenario): remote cases as processes, window walk-ins as event callbacks."""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from simulator.calendar import DAY, day_arrivals, next_open, open_time, staff_changes
from simulator.kernels.simpy_environment import Chain, Environment
from simulator.kernels.simpy_pool import GAVE_UP, MonitoredPool
from simulator.kernels.simpy_walk_in import WalkIn, Who
from simulator.recorder import PoolStats, Recorder
from simulator.records import CaseRecord
from simulator.scenario import Scenario
from simulator.streams import Sampler, Streams, UniformStream

__all__ = ["YrdModel", "run_simpy_model"]

NAN = math.nan
GREEN, APPOINTMENT, WALK_IN = 0, 1, 2
Proc = Generator[simpy.Event, Any, Any]


@dataclass(frozen=True, slots=True)
class _Link:
    latency: Sampler
    fails: UniformStream
    failure_prob: float
    timeout: float
    retries: int


class YrdModel:
    """All SimPy processes and callbacks of one replication; state lives here, never in globals."""

    def __init__(
        self, env: simpy.Environment, scenario: Scenario, replication: int, recorder: Recorder
    ) -> None:
        self.env = env
        self.sc = scenario
        self.recorder = recorder
        self.codes = scenario.region_codes()
        s = Streams(scenario.run.seed, replication)
        self.streams = s
        out, case, hub = scenario.output, scenario.case, scenario.hub
        pool_args = (out.sample_interval_min, out.max_series_points)
        self.clerks = {
            r: MonitoredPool(env, f"clerks.{r}", scenario.region(r).clerks.peak(), *pool_args)
            for r in self.codes
        }
        self.reviewers = {
            r: MonitoredPool(env, f"reviewers.{r}", scenario.region(r).reviewers.peak(), *pool_args)
            for r in self.codes
        }
        self.hub = MonitoredPool(env, "hub.face", hub.concurrency, *pool_args)
        self.contact_service = {
            r: s.sampler(f"service.contact.{r}", case.contact_service) for r in self.codes
        }
        self.local_service = {
            r: s.sampler(f"service.local.{r}", case.local_service) for r in self.codes
        }
        self.intake = s.sampler("intake", case.intake)
        self.session = {r: s.sampler(f"session.{r}", case.session) for r in self.codes}
        self.decision = {r: s.uniform(f"decision.{r}") for r in self.codes}
        self.rework_delay = s.sampler("rework.delay", case.rework_delay)
        self.delivery = s.uniform("delivery")
        self.express = s.sampler("delivery.express", case.delivery.express)
        self.face_latency = s.sampler("face.latency", hub.latency)
        self.face_outcome = s.uniform("face.outcome")
        self.manual_check = s.sampler("face.manual", hub.manual_check)
        self.paper_scan = s.sampler("materials.scan", scenario.materials.paper_scan)
        beh = scenario.behaviour
        self.patience = None if beh.patience is None else s.sampler("patience", beh.patience)
        self.balk_u = s.uniform("balk")
        self.balk_queue, self.balk_prob = beh.balk_queue, beh.balk_prob
        self.links: dict[tuple[str, str], _Link] = {
            (o, d): self._link(o, d)
            for o in self.codes
            for d in self.codes
            if d in scenario.region(o).od
        }
        self.face_used = dict.fromkeys(self.codes, 0)
        self.face_day = dict.fromkeys(self.codes, -1)
        self.in_system = 0
        self.arrivals_open = 0
        self.case_counter = 0
        self.drained = env.event()
        # The observation window opens when both warm-ups are over (the recorder's filter).
        self.observing = not (scenario.run.warmup_arrivals or scenario.run.warmup_days)

    def _link(self, o: str, d: str) -> _Link:
        spec = self.sc.materials.link(o, d)
        return _Link(
            latency=self.streams.sampler(f"link.latency.{o}->{d}", spec.latency),
            fails=self.streams.uniform(f"link.failure.{o}->{d}"),
            failure_prob=spec.failure_prob,
            timeout=spec.timeout_s / 60.0,
            retries=spec.retries,
        )

    # ------------------------------------------------------------------ set-up
    def start(self) -> None:
        """Start schedules and arrival processes."""
        env, run = self.env, self.sc.run
        for code in self.codes:
            spec = self.sc.region(code)
            for pool, staffing in (
                (self.clerks[code], spec.clerks),
                (self.reviewers[code], spec.reviewers),
            ):
                initial, changes = staff_changes(staffing, run.start_weekday)
                if not spec.calendar.drain_queue_at_close:
                    # Closing sends staff home at once; whoever waits is served next morning.
                    changes = [(at, staff, False) for at, staff, _ in changes]
                pool.set_staff(initial, drain_queue=True)
                if changes:
                    env.process(pool.run_schedule(changes, 7 * DAY))
            arr = spec.arrivals
            if arr.cross_per_hour + arr.local_per_hour > 0:
                self.arrivals_open += 1
                Chain(env, self.arrivals(code)).start()
        if run.warmup_days > 0:
            env.process(self._warmup_timer(run.warmup_days * DAY))
        if self.arrivals_open == 0:
            self.drained.succeed()

    def _warmup_timer(self, at: float) -> Proc:
        yield self.env.timeout(at)
        warm_n = self.sc.run.warmup_arrivals
        if not warm_n or self.case_counter > warm_n:  # else arrival warm_n will start it
            self.start_observation()

    def start_observation(self) -> None:
        """End of warm-up: statistics restart now."""
        now = self.env.now
        self.observing = True
        self.recorder.obs_start = now
        for pool in self.pools():
            pool.restart_stats(now)

    def pools(self) -> list[MonitoredPool]:
        """Every staff pool and shared service, for the report."""
        return [*self.clerks.values(), *self.reviewers.values(), self.hub]

    # ---------------------------------------------------------------- arrivals
    def arrivals(self, code: str) -> Iterator[float]:
        """Arrivals of one region, generated a day at a time; yields the delay to the next."""
        env, run, spec = self.env, self.sc.run, self.sc.region(code)
        rng = self.streams.generator(f"arrivals.{code}")
        appt_rng = self.streams.generator(f"appointments.{code}")
        mix_rng = self.streams.generator(f"mix.{code}")
        arr = spec.arrivals
        cross_share = arr.cross_per_hour / (arr.cross_per_hour + arr.local_per_hour)
        dests: list[str] = list(spec.od)
        od_cum = np.cumsum(list(spec.od.values())) if dests else np.zeros(0)
        formal = self.sc.case.formal_share
        green = self.sc.behaviour.green_share
        days = math.inf if run.horizon_days is None else math.ceil(run.horizon_days)
        limit = run.max_arrivals
        warm_n = run.warmup_arrivals
        clerks = self.clerks[code]
        local, contact = self.local_service[code], self.contact_service[code]
        walk_in = self.walk_in
        day = 0
        while day < days and (limit is None or self.case_counter < limit):
            batch = day_arrivals(spec, day, run.start_weekday, rng, appt_rng)
            day += 1
            n = batch.times.size
            if n == 0:
                continue
            u = mix_rng.random((4, n))
            # Python lists, not numpy arrays: indexing them per arrival is several times faster.
            is_cross = (u[0] < cross_share).tolist()
            dest_idx = (
                np.minimum(np.searchsorted(od_cum, u[1] * od_cum[-1]), len(dests) - 1).tolist()
                if dests
                else None
            )
            is_formal = (u[2] < formal).tolist()
            priority = np.where(
                u[3] < green, GREEN, np.where(batch.appointment, APPOINTMENT, WALK_IN)
            ).tolist()
            for i, t in enumerate(batch.times.tolist()):
                if limit is not None and self.case_counter >= limit:
                    break
                delay = t - env._now
                if delay > 0:
                    yield delay
                if is_cross[i] and dest_idx is not None:
                    dest = dests[dest_idx[i]]
                    kind = "remote" if is_formal[i] else "contact"
                else:
                    dest, kind = code, "local"
                case_id = self.case_counter
                self.case_counter = case_id + 1
                if case_id == warm_n and warm_n and env.now >= run.warmup_days * DAY:
                    self.start_observation()  # else the warm-up timer will, later
                self.in_system += 1
                prio = priority[i]
                if kind == "remote":
                    env.process(self.visit(case_id, 0, code, dest, kind, prio, env.now))
                else:
                    who = (case_id, 0, code, dest, kind, prio, env.now)
                    walk_in(clerks, who, local if kind == "local" else contact)
        self.arrivals_open -= 1
        self._maybe_drained()

    def _maybe_drained(self) -> None:
        if self.in_system == 0 and self.arrivals_open == 0 and not self.drained.triggered:
            self.drained.succeed()

    def _done(self, rec: CaseRecord) -> None:
        self.recorder.record(rec)
        self.in_system -= 1
        if self.in_system == 0 and self.arrivals_open == 0:
            self._maybe_drained()

    # -------------------------------------------------------------- one visit
    def _balks(self, clerks: MonitoredPool) -> bool:
        return (
            self.balk_queue is not None
            and clerks.all_busy()
            and clerks.queue_level >= self.balk_queue
            and self.balk_u() < self.balk_prob
        )

    def walk_in(self, clerks: MonitoredPool, who: Who, service: Sampler) -> None:
        """A local or contact applicant: balk, or queue and be served (callbacks, no process)."""
        if self._balks(clerks):
            self._done(CaseRecord(*who, 0.0, 0.0, NAN, "balked", "none", 0, NAN))
            return
        applicant = WalkIn(clerks, who, service, self._done)
        clerks.admit(applicant, who[5])
        if applicant.queued and self.patience is not None:
            self.env.timeout(self.patience()).callbacks.append(applicant.give_up)  # type: ignore[union-attr]

    def visit(
        self,
        case_id: int,
        visit: int,
        origin: str,
        dest: str,
        kind: str,
        priority: int,
        first: float,
    ) -> Proc:
        """A remote case at a window: queue, intake, face check, materials, review, decision."""
        env = self.env
        t0 = env.now
        clerks = self.clerks[origin]
        who = (case_id, visit, origin, dest, kind, priority, t0)
        if self._balks(clerks):
            self._done(CaseRecord(*who, 0.0, 0.0, NAN, "balked", "none", 0, NAN))
            return
        face, failures, response = "none", 0, NAN
        held = self.sc.case.clerk_held
        with clerks.request(priority) as req:
            if not req.triggered and self.patience is not None:
                env.timeout(self.patience()).callbacks.append(req.give_up)  # type: ignore[union-attr]
            if (yield req) is GAVE_UP:
                gone = env.now - t0
                self._done(CaseRecord(*who, gone, gone, NAN, "reneged", "none", 0, NAN))
                return
            wait = env.now - t0
            yield env.timeout(self.intake())
            face = yield from self.face_check(origin)
            fetch, failures = self.materials(origin, dest)
            if fetch > 0:
                yield env.timeout(fetch)
            if held:
                response = yield from self.review(dest, priority)
        if not held:
            response = yield from self.review(dest, priority)
        outcome, result = self.decide(case_id, visit, origin, dest, priority, first)
        sojourn = env.now - t0
        self._done(CaseRecord(*who, wait, sojourn, response, outcome, face, failures, result))

    def face_check(self, origin: str) -> Generator[simpy.Event, Any, str]:
        """Face verification at the hub, with retries, daily quota and manual fallback."""
        env, hub = self.env, self.sc.hub
        quota = self.sc.region(origin).face_quota_per_day
        day = int(env.now // DAY)
        if self.face_day[origin] != day:
            self.face_day[origin] = day
            self.face_used[origin] = 0
        for _ in range(1 + hub.max_retries):
            if quota is not None and self.face_used[origin] >= quota:
                if self.face_used[origin] == quota:
                    self.recorder.quota_exhausted(env.now, origin, day)
                    self.face_used[origin] = quota + 1  # note the event once a day
                yield env.timeout(self.manual_check())
                return "quota"
            self.face_used[origin] += 1
            with self.hub.request() as slot:
                yield slot
                yield env.timeout(self.face_latency())
            if self.face_outcome() >= hub.failure_prob:
                return "hub"
        yield env.timeout(self.manual_check())
        return "manual"

    def materials(self, origin: str, dest: str) -> tuple[float, int]:
        """Clerk time to gather the e-licences (one delay: links are not shared resources)."""
        link = self.links[(origin, dest)]
        total, failures = 0.0, 0
        for _ in range(self.sc.materials.licences_per_case):
            for _ in range(1 + link.retries):
                latency = link.latency()
                if latency > link.timeout:
                    total += link.timeout
                    continue
                total += latency
                if link.fails() >= link.failure_prob:
                    break
            else:
                failures += 1
                total += self.paper_scan()
        return total, failures

    def review(self, dest: str, priority: int) -> Generator[simpy.Event, Any, float]:
        """Screen-to-screen review by the owner region; returns the first-response time."""
        env = self.env
        t = env.now
        with self.reviewers[dest].request(priority) as req:
            yield req
            response = env.now - t
            yield env.timeout(self.session[dest]())
        return response

    def decide(
        self, case_id: int, visit: int, origin: str, dest: str, priority: int, first: float
    ) -> tuple[str, float]:
        """Approve, return for supplement (the applicant comes back) or reject."""
        env, case = self.env, self.sc.case
        u = self.decision[dest]()
        d = case.decision
        if u < d.approve:
            electronic = self.delivery() < case.delivery.electronic_share
            extra = 0.0 if electronic else self.express()
            return "approved", env.now - first + extra
        if u < d.approve + d.return_ and visit < case.max_returns:
            self.in_system += 1
            env.process(self.come_back(case_id, visit + 1, origin, dest, priority, first))
            return "returned", NAN
        return "rejected", env.now - first

    def come_back(
        self, case_id: int, visit: int, origin: str, dest: str, priority: int, first: float
    ) -> Proc:
        """The rework loop: the applicant returns with the supplement on an open day."""
        env = self.env
        cal = self.sc.region(origin).calendar
        at = next_open(cal, env.now + self.rework_delay(), self.sc.run.start_weekday)
        yield env.timeout(at - env.now)
        yield from self.visit(case_id, visit, origin, dest, "remote", priority, first)


def run_simpy_model(scenario: Scenario, replication: int, recorder: Recorder) -> dict[str, Any]:
    """Run one replication on SimPy until the halls drain or the horizon ends."""
    run = scenario.run
    env = Environment()
    model = YrdModel(env, scenario, replication, recorder)
    model.start()
    until: simpy.Event = model.drained
    if run.horizon_days is not None:
        until = env.any_of([model.drained, env.timeout(run.horizon_days * DAY)])
    env.run(until=until)
    t_end = env.now
    if not model.observing:
        model.start_observation()  # the warm-up never ended: an empty window, as in fast
    clerk_pools: dict[str, PoolStats] = dict(model.clerks)
    return recorder.result(
        t_end,
        list(model.pools()),
        clerk_pools,
        open_time(scenario, recorder.obs_start, t_end),
        extra={"kernel": "simpy", "arrivals": model.case_counter},
    )
