"""The SQLite store's write transaction on its connection, as a class (no generator frames).

Every inline VerifyToken commit opens one: as three nested `@contextmanager` generators it cost
a generator, a frame and a StopIteration with its traceback each, per call (callgrind: about a
tenth of the store half of the call outside SQLite itself). This is the same scope written out.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from types import TracebackType

from federation.errors import FailedPrecondition


class HeldTransaction:
    """`with` it right after taking `lock`: BEGIN IMMEDIATE on enter; COMMIT on a clean exit,
    then `committed()`; ROLLBACK (if still open) on an error, which a `translate` maps from
    sqlite3's errors. The lock is released on every exit, and when enter fails."""

    __slots__ = ("_committed", "_conn", "_lock", "_translate")

    def __init__(
        self,
        conn: sqlite3.Connection | None,
        lock: threading.Lock,
        translate: Callable[[Exception], Exception | None],
        committed: Callable[[], None] | None,
    ) -> None:
        self._conn = conn
        self._lock = lock
        self._translate = translate
        self._committed = committed

    def __enter__(self) -> sqlite3.Connection:
        conn = self._conn
        try:
            if conn is None:
                raise FailedPrecondition("the store is closed")
            # IMMEDIATE takes the write lock up front: a read that later upgrades to a write in
            # WAL mode fails with SQLITE_BUSY at once instead of waiting on the busy timeout
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            self._lock.release()
            if isinstance(exc, sqlite3.DatabaseError):
                raise (self._translate(exc) or exc) from None
            raise
        return conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        assert conn is not None  # __enter__ refused a closed store
        try:
            if exc is None:
                try:
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                if self._committed is not None:
                    self._committed()
            elif conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as failed:
            raise (self._translate(failed) or failed) from None
        finally:
            self._lock.release()
        if isinstance(exc, sqlite3.DatabaseError):
            raise (self._translate(exc) or exc) from None
