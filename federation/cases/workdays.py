"""Working-day deadlines in China Standard Time on the official calendar (holidays and 调休)."""

# The State Council publishes each year's public holidays and the weekend days worked in their
# place (调休) late in the year before; `chinese-calendar` ships that schedule. For a later year
# whose schedule is not shipped yet, deadlines follow a provisional calendar: Monday to Friday
# without the statutory holidays fixed on the Gregorian calendar (全国年节及纪念日放假办法:
# 1 January, 1-2 May, 1-3 October). The lunar holidays and 调休 are unknown until published,
# so a provisional deadline can fall earlier than the official one, never on a fixed holiday;
# refusing every case whose deadline crosses the new year would stop the windows instead.
# A year before the package's first is refused (FailedPrecondition): nothing is guessed there.

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Set

import chinese_calendar

from federation.clock import CHINA_STANDARD_TIME
from federation.errors import FailedPrecondition, InvalidArgument

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


@functools.cache
def official_years() -> range:
    """The years whose official holiday schedule the installed `chinese-calendar` holds."""
    years = [day.year for day in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


@functools.lru_cache(maxsize=16384)  # a few decades of days; the package's lookup is slow
def is_official_working_day(day: dt.date) -> bool:
    """A working day on the State Council's calendar: Monday to Friday except public holidays,
    plus the weekend days worked in their place (调休).

    FailedPrecondition for a year `chinese-calendar` does not cover yet.
    """
    years = official_years()
    if day.year >= years.stop:
        return is_provisional_working_day(day)
    if day.year not in years:
        raise FailedPrecondition(
            f"no official holiday schedule for {day.year}: chinese-calendar "
            f"{chinese_calendar.__version__} covers {years.start}-{years.stop - 1}"
        )
    return bool(chinese_calendar.is_workday(day))


# statutory holidays on fixed Gregorian dates: (month, day)
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})


def is_provisional(day: dt.date) -> bool:
    """True when `day` falls in a year whose official schedule is not shipped yet."""
    return day.year >= official_years().stop


def is_provisional_working_day(day: dt.date) -> bool:
    """Monday to Friday except the fixed-date statutory holidays (no lunar holidays, no 调休)."""
    return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


def is_working_day(
    day: dt.date, holidays: Set[dt.date] = frozenset(), workdays: Set[dt.date] = frozenset()
) -> bool:
    """A working day on the official calendar, with local exceptions on top.

    `holidays` are extra days off (a local holiday), `workdays` extra days worked; a day in
    `workdays` counts even if it is also in `holidays`. A day in neither is looked up in the
    official calendar, so it must fall in `official_years()` (FailedPrecondition otherwise).
    """
    if day in workdays:
        return True
    if day in holidays:
        return False
    return is_official_working_day(day)


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
    Working days follow `is_working_day`: the official calendar plus `holidays` and `workdays`.
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
    "FIXED_HOLIDAYS",
    "MAX_WORKING_DAYS",
    "add_working_days",
    "china_date",
    "end_of_day",
    "is_official_working_day",
    "is_overdue",
    "is_provisional",
    "is_provisional_working_day",
    "is_working_day",
    "official_years",
    "start_of_day",
    "working_days_between",
]
