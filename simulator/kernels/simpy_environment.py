"""A simpy.Environment whose event loop is inlined into run() (same semantics, less overhead)."""

from __future__ import annotations

from heapq import heappop
from typing import Any

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import Event, EventPriority

__all__ = ["Environment"]


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
