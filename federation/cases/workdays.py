"""Working-day deadlines in China Standard Time: weekends and listed holidays do not count."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Set

from federation.clock import CHINA_STANDARD_TIME
from federation.errors import InvalidArgument

DAY_S = 86400
MAX_WORKING_DAYS = 3660
"""A bound on time limits (about 14 years of working days): larger values are input errors."""


def china_date(epoch: float) -> dt.date:
    """The calendar day of an instant in China Standard Time."""
    # Floor first: fromtimestamp rounds to the microsecond, which can carry 23:59:59.9999997
    # into the next day.
    return dt.datetime.fromtimestamp(math.floor(epoch), CHINA_STANDARD_TIME).date()


def start_of_day(day: dt.date) -> float:
    """00:00:00 CST of `day` as seconds since the epoch."""
    return dt.datetime.combine(day, dt.time(), CHINA_STANDARD_TIME).timestamp()


def end_of_day(day: dt.date) -> float:
    """23:59:59 CST of `day`, the moment a deadline falling on that day expires."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), CHINA_STANDARD_TIME).timestamp()


def is_working_day(
    day: dt.date, holidays: Set[dt.date] = frozenset(), workdays: Set[dt.date] = frozenset()
) -> bool:
    """Monday to Friday and not a holiday; `workdays` are weekend days worked instead (调休)."""
    if day in workdays:
        return True
    return day.weekday() < 5 and day not in holidays


def add_working_days(
    start: float,
    days: int,
    holidays: frozenset[dt.date] = frozenset(),
    *,
    workdays: frozenset[dt.date] = frozenset(),
) -> float:
    """The end (23:59:59 CST) of the `days`-th working day after the day of `start`.

    The start day itself never counts, whatever the hour (a case submitted on Monday with a
    one-day limit is due at the end of Tuesday); `days == 0` is the end of the start day.
    """
    if isinstance(days, bool) or not isinstance(days, int):
        raise InvalidArgument(f"working days must be an integer, got {days!r}")
    if not 0 <= days <= MAX_WORKING_DAYS:
        raise InvalidArgument(f"working days must be 0..{MAX_WORKING_DAYS}, got {days}")
    day = china_date(start)
    remaining = days
    while remaining:
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays, workdays):
            remaining -= 1
    return end_of_day(day)


def working_days_between(
    start: float,
    end: float,
    holidays: frozenset[dt.date] = frozenset(),
    *,
    workdays: frozenset[dt.date] = frozenset(),
) -> float:
    """Working time from `start` to `end` in days (only hours on working days count, in CST).

    Negative when `end` precedes `start`, so `between(a, b) == -between(b, a)`.
    """
    if end < start:
        return -working_days_between(end, start, holidays, workdays=workdays)
    total = 0.0
    day = china_date(start)
    last = china_date(end)
    while day <= last:
        if is_working_day(day, holidays, workdays):
            begin = start_of_day(day)
            total += max(0.0, min(end, begin + DAY_S) - max(start, begin))
        day += dt.timedelta(days=1)
    return total / DAY_S


def is_overdue(deadline: float, now: float, decided_at: float | None) -> bool:
    """Decided after the deadline, or still undecided once it has passed."""
    if decided_at is not None:
        return decided_at > deadline
    return now > deadline


__all__ = [
    "DAY_S",
    "MAX_WORKING_DAYS",
    "add_working_days",
    "china_date",
    "end_of_day",
    "is_overdue",
    "is_working_day",
    "start_of_day",
    "working_days_between",
]
