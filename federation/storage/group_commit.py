"""Group commit: concurrent small writes share one transaction, each acknowledged after it commits.

Leader/follower, with no timer: the first writer to arrive while no batch is being written
becomes the leader, takes every queued write (up to `max_batch`), runs them in order in one
transaction and wakes each follower with its own result once the transaction has committed.
Writers that arrive meanwhile queue up; when the leader is done it hands the lead to the
oldest of them, which writes everything queued so far. An idle store therefore writes a lone
request at once, and a busy one pays one BEGIN/COMMIT per batch instead of per request.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

C = TypeVar("C")
T = TypeVar("T")

DEFAULT_MAX_BATCH = 64

CommitObserver = Callable[[int, float], None]
"""(writes in the transaction, seconds it took): told after each batch, committed or not."""


class _Slot:
    """One queued write: its operation, and once its batch has ended its result or error."""

    __slots__ = ("done", "error", "lead", "op", "result")

    def __init__(self, op: Callable[[Any], Any]) -> None:
        self.op = op
        self.result: Any = None
        self.error: BaseException | None = None
        self.lead = False  # handed the lead instead of a result
        self.done = threading.Event()


class _OpFailed(Exception):
    """Rolls the batch back when one operation failed on its own (see GroupCommit._write)."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index)
        self.index = index
        self.error = error


class GroupCommit(Generic[C]):
    """Runs submitted operations in shared transactions opened by `transaction()`.

    An operation is a function of the transaction's connection. If one raises an error that
    `batch_wide(error)` calls a store failure (an I/O error, a failed audit append), every
    operation of the batch fails with it: nothing of the batch committed. Any other error
    (e.g. a value that cannot be encoded) is that operation's alone: the transaction is rolled
    back and the others are written again without it, so no caller sees another's refusal.
    """

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[C]],
        batch_wide: Callable[[BaseException], bool],
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._transaction = transaction
        self._batch_wide = batch_wide
        self._max_batch = max_batch
        self._mutex = threading.Lock()
        self._queue: deque[_Slot] = deque()
        self._leading = False
        self.batches = 0  # transactions committed or attempted, for tests and diagnostics
        self.largest_batch = 0
        self.observer: CommitObserver | None = None  # for metrics; must not raise

    def submit(self, op: Callable[[C], T]) -> T:
        """Run `op` in a shared transaction; its result once that transaction has committed."""
        slot = _Slot(op)
        with self._mutex:
            self._queue.append(slot)
            lead = not self._leading
            self._leading = True
        if not lead:
            slot.done.wait()
            lead = slot.lead
        if lead:
            self._lead()
        if slot.error is not None:
            raise slot.error
        result: T = slot.result
        return result

    def try_submit(
        self, op: Callable[[C], T], transaction: Callable[[], AbstractContextManager[C] | None]
    ) -> tuple[bool, T | None]:
        """Run `op` alone and at once on this thread, if that needs no waiting at all.

        Only when no batch is being written or queued, and `transaction()` can open one
        without waiting (it answers None when it cannot): then `op` commits in a transaction of
        its own and this answers (True, its result) after the COMMIT, or raises its error.
        Otherwise nothing is done and this answers (False, None): the caller `submit`s it from
        a thread that may wait. Writers that queue meanwhile are handed the lead afterwards.
        """
        with self._mutex:
            if self._leading or self._queue:
                return False, None
            self._leading = True
        try:
            scope = transaction()
            if scope is None:
                return False, None
            self.batches += 1
            self.largest_batch = max(self.largest_batch, 1)
            with scope as conn:
                return True, op(conn)
        finally:
            self._pass_lead()

    def _lead(self) -> None:
        """Write one batch (which holds the leader's own slot), then pass the lead on."""
        with self._mutex:
            count = min(len(self._queue), self._max_batch)
            batch = [self._queue.popleft() for _ in range(count)]
        try:
            self._write(batch)
        finally:
            self._pass_lead()
            for slot in batch:
                slot.done.set()

    def _pass_lead(self) -> None:
        """Wake the first queued writer as the next leader, or end the lead if none waits."""
        with self._mutex:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.done.set()
            else:
                self._leading = False

    def _write(self, batch: list[_Slot]) -> None:
        pending = batch
        while pending:
            self.batches += 1
            self.largest_batch = max(self.largest_batch, len(pending))
            results: list[Any] = []
            started = time.perf_counter()
            try:
                with self._transaction() as conn:
                    for index, slot in enumerate(pending):
                        try:
                            results.append(slot.op(conn))
                        except Exception as exc:
                            if self._batch_wide(exc):
                                raise
                            raise _OpFailed(index, exc) from exc
            except _OpFailed as failed:
                self._observe(len(pending), started)
                pending[failed.index].error = failed.error
                pending = pending[: failed.index] + pending[failed.index + 1 :]
                continue
            except BaseException as exc:
                self._observe(len(pending), started)
                for slot in pending:
                    slot.error = exc
                if not isinstance(exc, Exception):
                    raise
                return
            self._observe(len(pending), started)
            for slot, result in zip(pending, results, strict=True):
                slot.result = result
            return

    def _observe(self, writes: int, started: float) -> None:
        observer = self.observer
        if observer is not None:
            observer(writes, time.perf_counter() - started)
