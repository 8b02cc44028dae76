"""Background WAL checkpoints for the SQLite store, so that no request waits for one.

SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL past 1000 pages: that
request copies the WAL into the database file and (synchronous=NORMAL or FULL) fsyncs both, a
stall of milliseconds to tens of milliseconds in the latency tail. The store turns it off
(`wal_autocheckpoint = 0`) and this thread checkpoints on its own connection in PASSIVE mode,
which never blocks writers or readers: it copies what it can and leaves the rest for next time.
It runs after every CHECKPOINT_AFTER_COMMITS commits and, when idle, every CHECKPOINT_IDLE_S.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

CHECKPOINT_AFTER_COMMITS = 256
CHECKPOINT_IDLE_S = 1.0

log = logging.getLogger("yrd.storage")


class WalCheckpointer:
    """A daemon thread that runs `PRAGMA wal_checkpoint(PASSIVE)` on a second connection."""

    def __init__(
        self,
        path: str,
        *,
        after_commits: int = CHECKPOINT_AFTER_COMMITS,
        idle_s: float = CHECKPOINT_IDLE_S,
    ) -> None:
        self._path = path
        self._after_commits = after_commits
        self._idle_s = idle_s
        self._commits = 0  # since the last nudge; racy increments only delay a checkpoint
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.checkpoints = 0  # completed calls, for tests and diagnostics
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Count one commit; wake the thread once enough have accumulated (never blocks)."""
        self._commits += 1
        if self._commits >= self._after_commits:
            self._commits = 0
            self._wake.set()

    def checkpoint_now(self) -> None:
        """Ask for a checkpoint at once (tests, and operators draining the WAL)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._idle_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            except sqlite3.Error as exc:  # the next round retries; the WAL only grows meanwhile
                log.warning("WAL checkpoint of %s failed: %s", self._path, exc)

    def close(self) -> None:
        """Stop the thread and close its connection (idempotent)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._conn.close()
