"""Opening calendar, staff schedules and non-homogeneous Poisson arrivals of one day."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulator.scenario import CalendarSpec, RegionSpec, Scenario, StaffingSpec, parse_clock

__all__ = [
    "DAY",
    "WEEK",
    "DayArrivals",
    "OpenTime",
    "day_arrivals",
    "hours_of_day_observed",
    "next_open",
    "open_minutes",
    "open_time",
    "staff_changes",
]

DAY = 1440.0
WEEK = 7 * DAY


def weekday(day_index: int, start_weekday: int) -> int:
    """Weekday (0 = Monday) of simulated day ``day_index``."""
    return (start_weekday + day_index) % 7


@dataclass(frozen=True, slots=True)
class DayArrivals:
    """Arrival times (absolute minutes, sorted) and whether each came by appointment."""

    times: NDArray[np.float64]
    appointment: NDArray[np.bool_]


def _rate_segments(
    region: RegionSpec, wd: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Breakpoints (minutes of day) and per-minute rates between them, or None if closed."""
    cal = region.calendar
    if wd not in cal.days:
        return None
    arr = region.arrivals
    base = (arr.cross_per_hour + arr.local_per_hour) / 60.0 * arr.day_factors[wd]
    if base <= 0:
        return None
    lo, hi = parse_clock(cal.open), parse_clock(cal.close)
    cuts = [lo] + [h * 60.0 for h in range(24) if lo < h * 60.0 < hi] + [hi]
    rates = [base * arr.hourly_profile[min(int(a // 60), 23)] for a in cuts[:-1]]
    return np.asarray(cuts), np.asarray(rates)


def day_arrivals(
    region: RegionSpec,
    day_index: int,
    start_weekday: int,
    rng: np.random.Generator,
    appointment_rng: np.random.Generator,
) -> DayArrivals:
    """Draw one day's arrivals: Poisson count, then order statistics through the inverse
    cumulative rate (exact for a piecewise-constant rate); appointments move to their slot."""
    empty = DayArrivals(np.empty(0), np.empty(0, dtype=bool))
    seg = _rate_segments(region, weekday(day_index, start_weekday))
    if seg is None:
        return empty
    cuts, rates = seg
    cum = np.concatenate(([0.0], np.cumsum(rates * np.diff(cuts))))
    total = float(cum[-1])
    if total <= 0:
        return empty
    n = int(rng.poisson(total))
    u = np.sort(rng.random(n)) * total
    minute = np.interp(u, cum, cuts)
    appt_spec = region.arrivals.appointments
    booked = np.zeros(n, dtype=bool)
    if appt_spec.share > 0 and n:
        draws = appointment_rng.random((3, n))
        booked = draws[0] < appt_spec.share
        show = ~(booked & (draws[1] < appt_spec.no_show))
        lo, hi = cuts[0], cuts[-1]
        slot = lo + np.floor((minute - lo) / appt_spec.slot_min) * appt_spec.slot_min
        # Punctuality noise: normal by inversion of the third uniform.
        from scipy.special import ndtri

        noise = appt_spec.punctuality_sd_min * ndtri(np.clip(draws[2], 1e-12, 1 - 1e-12))
        moved = np.clip(slot + noise, lo, np.nextafter(hi, lo))
        minute = np.where(booked, moved, minute)[show]
        booked = booked[show]
        order = np.argsort(minute, kind="stable")
        minute, booked = minute[order], booked[order]
    return DayArrivals(minute + day_index * DAY, booked)


def next_open(cal: CalendarSpec, t: float, start_weekday: int) -> float:
    """The first moment at or after t when the hall is open (t itself if open)."""
    lo, hi = parse_clock(cal.open), parse_clock(cal.close)
    day = math.floor(t / DAY)
    for k in range(8):
        d = day + k
        if weekday(d, start_weekday) not in cal.days:
            continue
        start, end = d * DAY + lo, d * DAY + hi
        if t < end:
            return max(t, start)
    return t  # never open: leave the time alone


def staff_changes(
    staffing: StaffingSpec, start_weekday: int
) -> tuple[int, list[tuple[float, int, bool]]]:
    """(staff at time 0, weekly list of (minute, staff, drain_queue) changes after it).

    Going down to nobody drains the queue first (the hall serves whoever is waiting at
    closing); other reductions take effect as staff finish their current case.
    """
    timeline: list[tuple[float, int]] = []
    for d in range(7):
        if weekday(d, start_weekday) not in staffing.days:
            timeline.append((d * DAY, 0))
            continue
        cursor = d * DAY
        for shift in sorted(staffing.shifts, key=lambda s: parse_clock(s.start)):
            a, b = d * DAY + parse_clock(shift.start), d * DAY + parse_clock(shift.end)
            if a > cursor:
                timeline.append((cursor, 0))
            timeline.append((a, shift.staff))
            cursor = b
        if cursor < (d + 1) * DAY:
            timeline.append((cursor, 0))
    timeline.sort(key=lambda x: x[0])
    # Collapse: the last entry at an instant wins, and repeats of the same level vanish.
    merged: list[tuple[float, int]] = []
    for at, staff in timeline:
        if merged and merged[-1][0] == at:
            merged[-1] = (at, staff)
        else:
            merged.append((at, staff))
    initial = merged[0][1] if merged and merged[0][0] == 0 else 0
    changes: list[tuple[float, int, bool]] = []
    level = initial
    for at, staff in merged:
        if at == 0 or staff == level:
            continue
        changes.append((at, staff, staff == 0))
        level = staff
    # The week wraps: make sure the level at the end of the week matches the start.
    if changes and level != initial:
        changes.append((WEEK, initial, initial == 0))
    return initial, changes


def _always_open(cal: CalendarSpec) -> bool:
    return len(cal.days) == 7 and parse_clock(cal.open) == 0 and parse_clock(cal.close) == DAY


def open_minutes(
    calendars: Sequence[CalendarSpec], start: float, end: float, start_weekday: int
) -> float:
    """Minutes of [start, end] during which at least one of the halls is open."""
    if end <= start or not calendars:
        return 0.0
    if any(_always_open(c) for c in calendars):
        return end - start
    total = 0.0
    for d in range(math.floor(start / DAY), math.ceil(end / DAY)):
        wd = weekday(d, start_weekday)
        spans = sorted(
            (d * DAY + parse_clock(c.open), d * DAY + parse_clock(c.close))
            for c in calendars
            if wd in c.days
        )
        reach = -math.inf  # the union of overlapping opening hours is counted once
        for lo, hi in spans:
            lo, hi = max(lo, start, reach), min(hi, end)
            if hi > lo:
                total += hi - lo
            reach = max(reach, hi)
    return total


def hours_of_day_observed(
    calendars: Sequence[CalendarSpec], start: float, end: float, start_weekday: int
) -> tuple[float, ...]:
    """Hours of [start, end] at each hour of day (0..23), on days at least one hall opens."""
    hours = np.zeros(24)
    starts = 60.0 * np.arange(24)
    for d in range(math.floor(start / DAY), math.ceil(end / DAY)):
        if any(weekday(d, start_weekday) in c.days for c in calendars):
            lo = d * DAY + starts
            hours += np.clip(np.minimum(lo + 60.0, end) - np.maximum(lo, start), 0.0, 60.0) / 60
    return tuple(float(h) for h in hours)


@dataclass(frozen=True, slots=True)
class OpenTime:
    """How long the windows were open during an observation period."""

    by_region: dict[str, float]  # minutes the region's hall was open
    any_region: float  # minutes at least one hall was open
    days: float  # days on which some hall opened; a day partly inside the period counts in part
    hours_of_day: dict[str, tuple[float, ...]]  # per region: hours observed at each hour of day
    hours_of_day_any: tuple[float, ...]  # the same over the days any hall opens


def open_time(scenario: Scenario, start: float, end: float) -> OpenTime:
    """Opening minutes of every region's hall, and of any hall, inside [start, end]."""
    wd0 = scenario.run.start_weekday
    calendars = {code: scenario.region(code).calendar for code in scenario.region_codes()}
    every = list(calendars.values())
    return OpenTime(
        by_region={code: open_minutes([c], start, end, wd0) for code, c in calendars.items()},
        any_region=open_minutes(every, start, end, wd0),
        days=sum(hours_of_day_observed(every, start, end, wd0)) / 24.0,
        hours_of_day={
            code: hours_of_day_observed([c], start, end, wd0) for code, c in calendars.items()
        },
        hours_of_day_any=hours_of_day_observed(every, start, end, wd0),
    )
