"""Staff pools for SimPy: a priority heap of waiters, shifts, and time-weighted levels."""

from __future__ import annotations

import math
from collections.abc import Generator
from heapq import heappop, heappush
from itertools import count
from typing import Any, Protocol

import simpy

from simulator.records import TimeWeighted

__all__ = ["GAVE_UP", "OFF_DUTY_FIRST", "OFF_DUTY_LAST", "MonitoredPool", "PoolRequest", "Waiter"]

#: Priority of the place-holders that take a clerk off duty: before every applicant
#: (lunch: the clerk finishes the current case, then leaves) ...
OFF_DUTY_FIRST = -1
#: ... or after every applicant already waiting (closing: the queue is served first).
OFF_DUTY_LAST = 1_000_000

#: Value a request succeeds with when the applicant gave up waiting.
GAVE_UP = "gave-up"


class Waiter(Protocol):
    """Anything that queues for a staff member: a process's request, a callback-style
    applicant, or an off-duty place-holder. The pool keeps the flags; ``granted`` is told."""

    applicant: bool  # counted in the busy and queue levels (off-duty place-holders are not)
    queued: bool  # waiting in the pool's queue now
    held: bool  # holding a staff member now
    gone: bool  # withdrew from the queue (its heap entry is skipped when reached)
    carried_from: float | None  # observation start, if it was waiting then (warm-up carry-in)

    def granted(self) -> None:
        """A staff member is now this waiter's."""


class PoolRequest(simpy.Event):
    """A process's request: ``with pool.request(p) as req: yield req``.

    It succeeds when a staff member takes it (with ``GAVE_UP`` if patience ran out first);
    leaving the ``with`` block releases the staff member or withdraws from the queue.
    """

    applicant = True

    def __init__(self, pool: MonitoredPool, priority: int) -> None:
        super().__init__(pool.env)
        self.pool = pool
        self.queued = self.held = self.gone = False
        self.carried_from: float | None = None
        pool.admit(self, priority)

    def __enter__(self) -> PoolRequest:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.pool.release(self)
        elif self.queued:
            self.pool.withdraw(self)

    def granted(self) -> None:
        self.succeed()

    def give_up(self, _timer: simpy.Event) -> None:
        """Patience ran out: leave the queue and wake the applicant with ``GAVE_UP``.

        Cheaper than ``yield req | env.timeout(patience)`` (no Condition event) and
        equivalent: the applicant resumes at the same instant either way.
        """
        if not self.triggered:
            self.pool.withdraw(self)
            self.succeed(GAVE_UP)


class _OffDuty:
    """Holds one unit of capacity while a staff member is off duty."""

    __slots__ = ("carried_from", "gone", "held", "queued")
    applicant = False

    def __init__(self) -> None:
        self.queued = self.held = self.gone = False
        self.carried_from: float | None = None

    def granted(self) -> None:
        pass


class MonitoredPool:
    """Priority staff pool whose on-duty size follows a schedule.

    Capacity is the peak head-count; staff off duty are place-holders holding capacity
    (granted non-preemptively, so nobody is interrupted mid-case). Waiters are served by
    (priority, arrival order) from a heap; a release hands the staff member to the next at
    once, with no Release event. Busy staff, waiting applicants and scheduled staff are
    integrated over time.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        capacity: int,
        sample_interval: float = 0.0,
        max_points: int = 2048,
    ) -> None:
        self.env = env
        self.name = name
        self.capacity = max(capacity, 1)
        self.in_use = 0  # units held, by applicants and off-duty place-holders
        self._heap: list[tuple[int, int, Waiter]] = []
        self._order = count()
        self._waiting = 0  # live (not gone) heap entries
        self.busy_level = 0
        self.queue_level = 0
        self.scheduled = capacity
        self._off: list[_OffDuty] = []
        self._carry_area = 0.0  # queue-minutes after obs start of those waiting at obs start
        now = env.now
        self.busy = TimeWeighted(now)
        self.queue_len = TimeWeighted(now, sample_interval, max_points)
        self.on_duty = TimeWeighted(now)
        self.on_duty.set(now, float(capacity))

    def request(self, priority: int = 2) -> PoolRequest:
        """Ask for a staff member (lower priority number is served first)."""
        return PoolRequest(self, priority)

    def admit(self, waiter: Waiter, priority: int) -> None:
        """Serve ``waiter`` now if a staff member is free, else queue it."""
        if self.in_use < self.capacity:
            self._grant(waiter)  # anyone waiting would already have been served
            return
        heappush(self._heap, (priority, next(self._order), waiter))
        self._waiting += 1
        waiter.queued = True
        if waiter.applicant:
            self._set_queue(self.queue_level + 1)

    def _grant(self, waiter: Waiter) -> None:
        self.in_use += 1
        waiter.held = True
        if waiter.applicant:
            if waiter.queued:
                self._dequeue(waiter)
            self._set_busy(self.busy_level + 1)
        waiter.queued = False
        waiter.granted()

    def release(self, waiter: Waiter) -> None:
        """Give the staff member back, or hand them straight to the next in line."""
        if not waiter.held:
            return
        waiter.held = False
        nxt = self._next_in_line()
        if nxt is None:
            self.in_use -= 1
            if waiter.applicant:
                self._set_busy(self.busy_level - 1)
            return
        # The unit changes hands: in_use stays, and busy only moves if exactly one side is
        # an off-duty place-holder (the levels and integrals come out as release-then-grant).
        if waiter.applicant != nxt.applicant:
            self._set_busy(self.busy_level + (1 if nxt.applicant else -1))
        nxt.held = True
        if nxt.applicant:
            self._dequeue(nxt)
        nxt.queued = False
        nxt.granted()

    def _next_in_line(self) -> Waiter | None:
        heap = self._heap
        while heap:
            waiter = heappop(heap)[2]
            if not waiter.gone:
                self._waiting -= 1
                return waiter
        return None

    def withdraw(self, waiter: Waiter) -> None:
        """A waiting applicant or place-holder leaves the queue (its entry is skipped later)."""
        if not waiter.queued:
            return
        waiter.gone = True
        self._waiting -= 1
        if waiter.applicant:
            self._dequeue(waiter)
        waiter.queued = False

    def _set_busy(self, level: int) -> None:
        self.busy_level = level
        now = self.env.now
        self.busy.set(now, level)
        duty = level if level > self.scheduled else self.scheduled
        if self.on_duty.value != duty:
            self.on_duty.set(now, duty)

    def _dequeue(self, waiter: Waiter) -> None:
        """A waiting applicant leaves the queue (served now, or gave up)."""
        if waiter.carried_from is not None:
            self._carry_area += self.env.now - waiter.carried_from
            waiter.carried_from = None
        self._set_queue(self.queue_level - 1)

    def _waiting_applicants(self) -> list[Waiter]:
        return [w for _, _, w in self._heap if w.applicant and w.queued]

    def carry_in_area(self, t_end: float) -> float:
        """Queue-minutes inside [obs start, t_end] of applicants who arrived in the warm-up."""
        pending = sum(
            t_end - w.carried_from for w in self._waiting_applicants() if w.carried_from is not None
        )
        return self._carry_area + pending

    def _set_queue(self, level: int) -> None:
        self.queue_level = level
        self.queue_len.set(self.env.now, level)

    def waiting(self) -> int:
        """Applicants waiting (off-duty place-holders excluded)."""
        return self.queue_level

    def all_busy(self) -> bool:
        """Whether a request now would have to wait."""
        return self.in_use >= self.capacity or self._waiting > 0

    # --- schedule side ---
    def set_staff(self, staff: int, drain_queue: bool) -> None:
        """Change the on-duty head-count; reductions wait for staff to finish their case."""
        staff = int(min(staff, self.capacity))
        self.scheduled = staff
        now = self.env.now
        self.on_duty.set(now, max(staff, self.busy_level))
        target_off = self.capacity - staff
        while len(self._off) > target_off:
            off = self._off.pop()
            if off.held:
                self.release(off)
            else:
                self.withdraw(off)
        priority = OFF_DUTY_LAST if drain_queue else OFF_DUTY_FIRST
        while len(self._off) < target_off:
            off = _OffDuty()
            self._off.append(off)
            self.admit(off, priority)

    def run_schedule(
        self, changes: list[tuple[float, int, bool]], period: float
    ) -> Generator[simpy.Event, Any, None]:
        """SimPy process: apply (minute, staff, drain) changes, repeating every ``period``."""
        env = self.env
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
        for waiter in self._waiting_applicants():
            waiter.carried_from = t
