"""A window applicant served by SimPy event callbacks instead of a process (local and contact)."""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from simulator.kernels.simpy_pool import MonitoredPool
from simulator.records import CaseRecord
from simulator.streams import Sampler

__all__ = ["WalkIn", "Who"]

NAN = math.nan
#: (case_id, visit, origin, dest, kind, priority, arrival): a CaseRecord's first fields.
Who = tuple[int, int, str, str, str, int, float]


class WalkIn:
    """Queue at the clerks, be served, leave: the same steps as a SimPy process, as callbacks.

    The pool calls ``granted`` when a clerk takes the applicant; the service is one Timeout
    whose callback records the visit and hands the clerk on; patience is a Timeout whose
    callback withdraws the applicant if still waiting. No Process, no Request event.
    """

    __slots__ = ("carried_from", "done", "gone", "held", "pool", "queued", "service", "wait", "who")
    applicant = True

    def __init__(
        self, pool: MonitoredPool, who: Who, service: Sampler, done: Callable[[CaseRecord], None]
    ) -> None:
        self.pool = pool
        self.who = who
        self.service = service
        self.done = done
        self.queued = self.held = self.gone = False
        self.carried_from: float | None = None
        self.wait = 0.0

    def granted(self) -> None:
        env = self.pool.env
        self.wait = env.now - self.who[6]
        env.timeout(self.service()).callbacks.append(self.finish)  # type: ignore[union-attr]

    def finish(self, _event: simpy.Event) -> None:
        """Service over: record the visit, then free the clerk for the next in line."""
        who = self.who
        sojourn = self.pool.env.now - who[6]
        self.done(CaseRecord(*who, self.wait, sojourn, NAN, "served", "none", 0, NAN))
        self.pool.release(self)

    def give_up(self, _timer: simpy.Event) -> None:
        """Patience ran out: if still waiting, leave the queue (reneged)."""
        if self.queued:
            self.pool.withdraw(self)
            who = self.who
            gone = self.pool.env.now - who[6]
            self.done(CaseRecord(*who, gone, gone, NAN, "reneged", "none", 0, NAN))
