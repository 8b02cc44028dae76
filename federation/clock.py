"""Injectable clocks: the domain never reads wall time directly, so tests can move time."""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Protocol

CHINA_STANDARD_TIME = dt.timezone(dt.timedelta(hours=8), "CST")


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def china_day(epoch: float) -> str:
    """The calendar day in China Standard Time (quotas reset at local midnight)."""
    return dt.datetime.fromtimestamp(epoch, CHINA_STANDARD_TIME).date().isoformat()


def iso_cst(epoch: float) -> str:
    """An instant as ISO 8601 in China Standard Time to the second: `2026-12-01T22:50:01+08:00`.

    Seconds are floored, so a time is never shown later than it happened.
    """
    return dt.datetime.fromtimestamp(math.floor(epoch), CHINA_STANDARD_TIME).isoformat()
