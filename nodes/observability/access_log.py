"""The JSON access log: one line per served RPC, written off the event loop.

A call only puts a small tuple on a queue; a daemon thread turns entries into JSON lines
(ts in China time, +08:00; method, peer, status, duration_ms, trace_id) and writes them in
batches, flushing whenever the queue runs dry, so the loop never waits for the disk.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
from pathlib import Path
from typing import IO

log = logging.getLogger("yrd.node")

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
_STOP = None

Entry = tuple[float, str, str, str, float, str]
"""(unix time, method, peer, status, seconds, trace id)."""


def access_line(entry: Entry) -> str:
    """One entry as its JSON line (without the newline)."""
    ts, method, peer, status, seconds, trace_id = entry
    return json.dumps(
        {
            "ts": dt.datetime.fromtimestamp(ts, CHINA).isoformat(timespec="milliseconds"),
            "method": method,
            "peer": peer,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "trace_id": trace_id,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


class AccessLog:
    """Appends to `path`; `record` never blocks, `close` writes what is queued and stops."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._queue: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="access-log", daemon=True)
        self._thread.start()

    def record(self, method: str, peer: str, status: str, seconds: float, trace_id: str) -> None:
        self._queue.put((time.time(), method, peer, status, seconds, trace_id))

    def _write(self) -> None:
        while True:
            entry = self._queue.get()
            lines: list[str] = []
            while entry is not _STOP:
                lines.append(access_line(entry))
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                if lines:
                    self._file.write("\n".join(lines) + "\n")
                    self._file.flush()
            except (OSError, ValueError) as exc:  # a full disk must not take the node down
                log.warning("access log %s not written: %s", self.path, exc)
            if entry is _STOP:
                return

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=5)
        self._file.close()


__all__ = ["CHINA", "AccessLog", "Entry", "access_line"]
