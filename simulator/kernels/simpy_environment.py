"""A simpy.Environment with its event loop inlined into run(), and a process-free delay chain."""

from __future__ import annotations

from collections.abc import Iterator
from heapq import heappop
from typing import Any

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import Event, EventPriority

__all__ = ["Chain", "Environment"]


class Environment(simpy.Environment):
    """Runs ``step()``'s body in one loop instead of a method call per event.

    Only ``run(until=event)`` takes the inlined loop; everything else is SimPy's own.
    """

    def run(self, until: Any = None) -> Any:
        if not isinstance(until, Event):
            return super().run(until)
        if until.callbacks is None:
            return until.value
        until.callbacks.append(StopSimulation.callback)
        queue = self._queue
        try:
            while True:
                try:
                    self._now, _, _, event = heappop(queue)
                except IndexError:
                    raise EmptySchedule from None
                callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
                try:
                    for callback in callbacks:
                        callback(event)
                except StopSimulation:
                    # As SimPy does: keep the remaining callbacks for a later run().
                    event.callbacks = callbacks[callbacks.index(callback) + 1 :]
                    self.schedule(event, EventPriority(-1))
                    raise
                if not event._ok and not hasattr(event, "_defused"):
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    raise exc
        except StopSimulation as stop:
            return stop.args[0]
        except EmptySchedule:
            if not until.triggered:
                raise RuntimeError(
                    f'No scheduled events left but "until" event was not triggered: {until}'
                ) from None
            return until.value


class Chain:
    """Runs a generator of delays as a chain of timeouts: a process without the Process.

    Each step is a Timeout whose callback resumes the generator directly, which saves
    SimPy's per-step process bookkeeping for sources that only ever wait for time.
    """

    __slots__ = ("_env", "_steps")

    def __init__(self, env: simpy.Environment, steps: Iterator[float]) -> None:
        self._env = env
        self._steps = steps

    def start(self) -> None:
        """Take the first step at the current time, after what is already scheduled now."""
        self._env.timeout(0).callbacks.append(self)  # type: ignore[union-attr]

    def __call__(self, _event: Event) -> None:
        for delay in self._steps:
            self._env.timeout(delay).callbacks.append(self)  # type: ignore[union-attr]
            return
