"""Staff pools: a simpy.PriorityResource with shifts and time-weighted busy/queue/duty levels."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy
from simpy.resources.resource import PriorityRequest, Release

from simulator.records import TimeWeighted

__all__ = ["GAVE_UP", "OFF_DUTY_FIRST", "OFF_DUTY_LAST", "MonitoredPool", "PoolRequest"]

#: Priority of the place-holders that take a clerk off duty: before every applicant
#: (lunch: the clerk finishes the current case, then leaves) ...
OFF_DUTY_FIRST = -1
#: ... or after every applicant already waiting (closing: the queue is served first).
OFF_DUTY_LAST = 1_000_000


class _OffDuty(PriorityRequest):
    """A request that holds one unit of capacity while the staff member is off duty."""


#: Value a request succeeds with when the applicant gave up waiting.
GAVE_UP = "gave-up"


class PoolRequest(PriorityRequest):
    """An applicant's request; leaving its ``with`` block while waiting withdraws it."""

    queued = False
    #: Observation start, if the applicant was already waiting then (warm-up carry-in).
    carried_from: float | None = None

    def __enter__(self) -> PoolRequest:
        return self

    def give_up(self, _timer: simpy.Event) -> None:
        """Patience ran out: leave the queue and wake the applicant with ``GAVE_UP``.

        Cheaper than ``yield req | env.timeout(patience)`` (no Condition event) and
        equivalent: the applicant resumes at the same instant either way.
        """
        if not self.triggered:
            self.cancel()
            self.succeed(GAVE_UP)

    def cancel(self) -> None:
        if not self.triggered and self.queued:
            pool = self.resource
            assert isinstance(pool, MonitoredPool)
            pool.put_queue.remove(self)
            pool._dequeue(self)


class MonitoredPool(simpy.PriorityResource):
    """Priority staff pool whose on-duty size follows a schedule.

    Capacity is the peak head-count; staff off duty are represented by ``_OffDuty`` requests
    holding capacity (granted non-preemptively, so nobody is interrupted mid-case).
    Busy staff, waiting applicants and scheduled staff are integrated over time.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        capacity: int,
        sample_interval: float = 0.0,
        max_points: int = 2048,
    ) -> None:
        super().__init__(env, max(capacity, 1))
        self.name = name
        self.busy_level = 0
        self.queue_level = 0
        self.scheduled = capacity
        self._off: list[_OffDuty] = []
        self.queue_at_obs_start = 0.0
        self._carry_area = 0.0  # queue-minutes after obs start of those waiting at obs start
        now = env.now
        self.busy = TimeWeighted(now)
        self.queue_len = TimeWeighted(now, sample_interval, max_points)
        self.on_duty = TimeWeighted(now)
        self.on_duty.set(now, float(capacity))

    def request(self, priority: int = 2, preempt: bool = False) -> PoolRequest:  # type: ignore[override]
        """Ask for a staff member (lower priority number is served first)."""
        req = PoolRequest(self, priority, preempt)
        if not req.triggered:
            req.queued = True
            self._set_queue(self.queue_level + 1)
        return req

    # Every grant and release passes through these two SimPy hooks.
    def _do_put(self, event: PriorityRequest) -> None:  # type: ignore[override]
        if len(self.users) < self.capacity:
            self.users.append(event)
            event.usage_since = self._env.now
            event.succeed()
            if isinstance(event, PoolRequest):
                if event.queued:
                    self._dequeue(event)
                self._set_busy(self.busy_level + 1)

    def release(self, request: PriorityRequest) -> None:  # type: ignore[override]
        """Give the staff member back and serve the next in line at once.

        SimPy would create a Release event that nothing ever waits on and grant the next
        request when that event is processed at the same instant; doing it directly is
        equivalent and saves an event per service.
        """
        try:
            self.users.remove(request)
        except ValueError:
            return  # never granted (the applicant gave up) or already released
        if isinstance(request, PoolRequest):
            self._set_busy(self.busy_level - 1)
        self._trigger_put(None)

    def _do_get(self, event: Release) -> None:  # type: ignore[override]
        try:
            self.users.remove(event.request)
        except ValueError:
            pass
        else:
            if isinstance(event.request, PoolRequest):
                self._set_busy(self.busy_level - 1)
        event.succeed()

    def _set_busy(self, level: int) -> None:
        self.busy_level = level
        now = self._env.now
        self.busy.set(now, level)
        duty = level if level > self.scheduled else self.scheduled
        if self.on_duty.value != duty:
            self.on_duty.set(now, duty)

    def _dequeue(self, req: PoolRequest) -> None:
        """A waiting applicant leaves the queue (served now, or gave up)."""
        req.queued = False
        if req.carried_from is not None:
            self._carry_area += self._env.now - req.carried_from
            req.carried_from = None
        self._set_queue(self.queue_level - 1)

    def carry_in_area(self, t_end: float) -> float:
        """Queue-minutes inside [obs start, t_end] of applicants who arrived in the warm-up."""
        pending = sum(
            t_end - req.carried_from
            for req in self.put_queue
            if isinstance(req, PoolRequest) and req.queued and req.carried_from is not None
        )
        return self._carry_area + pending

    def _set_queue(self, level: int) -> None:
        self.queue_level = level
        self.queue_len.set(self._env.now, level)

    def waiting(self) -> int:
        """Applicants waiting (off-duty place-holders excluded)."""
        return self.queue_level

    def all_busy(self) -> bool:
        """Whether a request now would have to wait."""
        return len(self.users) >= self.capacity or bool(self.put_queue)

    # --- schedule side ---
    def set_staff(self, staff: int, drain_queue: bool) -> None:
        """Change the on-duty head-count; reductions wait for staff to finish their case."""
        staff = int(min(staff, self.capacity))
        self.scheduled = staff
        now = self._env.now
        self.on_duty.set(now, max(staff, self.busy_level))
        target_off = self.capacity - staff
        while len(self._off) > target_off:
            req = self._off.pop()
            if req.triggered:
                self.release(req)
            else:
                req.cancel()
        priority = OFF_DUTY_LAST if drain_queue else OFF_DUTY_FIRST
        while len(self._off) < target_off:
            self._off.append(_OffDuty(self, priority=priority, preempt=False))

    def run_schedule(
        self, changes: list[tuple[float, int, bool]], period: float
    ) -> Generator[simpy.Event, Any, None]:
        """SimPy process: apply (minute, staff, drain) changes, repeating every ``period``."""
        env = self._env
        base = 0.0
        while True:
            for at, staff, drain in changes:
                delay = base + at - env.now
                if delay > 0:
                    yield env.timeout(delay)
                self.set_staff(staff, drain)
            base += period
            if not math.isfinite(period):
                return

    def utilisation(self, t: float) -> float:
        """Busy staff over staff on duty, time-weighted."""
        duty = self.on_duty.mean(t)
        return self.busy.mean(t) / duty if duty and duty > 0 else math.nan

    def restart_stats(self, t: float) -> None:
        """Warm-up deletion: start integrating afresh at t."""
        self.busy.restart(t)
        self.queue_len.restart(t)
        self.on_duty.restart(t)
        self._carry_area = 0.0
        for req in self.put_queue:
            if isinstance(req, PoolRequest) and req.queued:
                req.carried_from = t
