"""CPU seconds another process has used, read from /proc: a node's cost of the calls it served."""

from __future__ import annotations

import os
from pathlib import Path


class ProcessCpu:
    """CPU seconds (user + system) used so far by another process, read from /proc (Linux)."""

    def __init__(self, pid: int) -> None:
        self._stat = Path(f"/proc/{pid}/stat")
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float | None:
        try:
            text = self._stat.read_text()
        except OSError:
            return None
        fields = text[text.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state); utime and stime are fields 14 and 15
        return (int(fields[11]) + int(fields[12])) / self._tick
