"""The JSON access log: one line per served RPC, written off the event loop.

A call only puts a small tuple on a queue; a daemon thread turns entries into JSON lines
(ts, when the call arrived, in China time +08:00; method, peer, status, duration_ms,
trace_id) and writes them in batches a few times a second, so the loop never waits for the
disk.
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
WRITE_EVERY_S = 0.2

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
        self._queue: queue.SimpleQueue[Entry] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, name="access-log", daemon=True)
        self._thread.start()

    def record(self, method: str, peer: str, status: str, seconds: float, trace_id: str) -> None:
        """Queue the line of a call that just ended after `seconds` (its ts: when it arrived)."""
        self._queue.put((time.time() - seconds, method, peer, status, seconds, trace_id))

    def _write(self) -> None:
        # wake a few times a second, not per call: a wake-up per line would take the GIL from
        # the event loop on every call; a line reaches the file within WRITE_EVERY_S
        stopping = False
        while not stopping:
            stopping = self._stop.wait(WRITE_EVERY_S)
            lines: list[str] = []
            while True:
                try:
                    lines.append(access_line(self._queue.get_nowait()))
                except queue.Empty:
                    break
            if not lines:
                continue
            try:
                self._file.write("\n".join(lines) + "\n")
                self._file.flush()
            except (OSError, ValueError) as exc:  # a full disk must not take the node down
                log.warning("access log %s: %d lines not written: %s", self.path, len(lines), exc)

    def close(self) -> None:
        """Write what is queued, then stop the writer and close the file."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._file.close()


__all__ = ["CHINA", "WRITE_EVERY_S", "AccessLog", "Entry", "access_line"]
