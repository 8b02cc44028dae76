"""Wake case watchers when this node records an event, instead of each stream polling the store."""

from __future__ import annotations

import asyncio
import contextlib

# replicas sharing one store cannot notify each other: a watcher looks again this often anyway
RECHECK_S = 2.0


class CaseChanges:
    """Per-case wake-ups, set from any thread, awaited on the server's event loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def changed(self, case_id: str) -> None:
        """Called by the case desk (on a worker thread) after an event of `case_id` commits."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # nobody watches this case: no need to wake the loop (a wake-up from a worker costs
        # both threads a GIL hand-over). A watcher registering meanwhile is not missed: it
        # listens before it reads the store, and this event committed before this call.
        if case_id not in self._waiting:
            return
        with contextlib.suppress(RuntimeError):  # the loop stopped while we were shutting down
            loop.call_soon_threadsafe(self._wake, case_id)

    def _wake(self, case_id: str) -> None:
        for future in self._waiting.pop(case_id, set()):
            if not future.done():
                future.set_result(None)

    def listen(self, case_id: str) -> asyncio.Future[None]:
        """Register before reading the store, so an event committed meanwhile is not missed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(case_id, set()).add(future)
        return future

    async def wait(self, future: asyncio.Future[None], timeout_s: float) -> None:
        """Until the case changes or `timeout_s` passes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(future), timeout=max(timeout_s, 0.0))

    def forget(self, case_id: str, future: asyncio.Future[None]) -> None:
        """Drop a registration (always, however the watcher left: answered, closed, cancelled)."""
        future.cancel()
        waiting = self._waiting.get(case_id)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                self._waiting.pop(case_id, None)

    def watchers(self) -> int:
        return sum(len(w) for w in self._waiting.values())
