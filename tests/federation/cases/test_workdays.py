"""Working-day deadlines: fixed examples around weekends and holidays, and invariants."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.cases.workdays import (
    DAY_S,
    FIXED_HOLIDAYS,
    add_working_days,
    china_date,
    end_of_day,
    is_official_working_day,
    is_overdue,
    is_provisional,
    is_provisional_working_day,
    is_working_day,
    official_years,
    start_of_day,
    working_days_between,
)
from federation.clock import CHINA_STANDARD_TIME
from federation.errors import FailedPrecondition, InvalidArgument


def cst(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> float:
    return dt.datetime(
        year, month, day, hour, minute, second, tzinfo=CHINA_STANDARD_TIME
    ).timestamp()


MONDAY = cst(2025, 6, 9, 10, 0)  # the week after the Dragon Boat holiday (31 May..2 June)
FRIDAY = cst(2025, 6, 13, 16, 30)
SATURDAY = cst(2025, 6, 14, 9, 0)
LOCAL_HOLIDAYS = frozenset({dt.date(2025, 6, 10), dt.date(2025, 6, 11)})  # a Tuesday, Wednesday
LOCAL_WORKDAYS = frozenset({dt.date(2025, 6, 14)})  # a Saturday worked

# Deadlines from these instants with at most 40 working days stay inside the official calendar
# (chinese-calendar 1.11 covers 2004-2026).
instants = st.floats(min_value=cst(2020, 1, 1, 0, 0), max_value=cst(2026, 10, 1, 0, 0))
day_counts = st.integers(min_value=0, max_value=40)
holiday_sets = st.frozensets(
    st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2026, 12, 31)), max_size=30
)


def test_one_working_day_after_a_monday_ends_on_tuesday_night() -> None:
    assert add_working_days(MONDAY, 1) == cst(2025, 6, 10, 23, 59, 59)


def test_friday_and_saturday_submissions_are_due_on_monday_night() -> None:
    monday_night = cst(2025, 6, 16, 23, 59, 59)
    assert add_working_days(FRIDAY, 1) == monday_night
    assert add_working_days(SATURDAY, 1) == monday_night
    assert add_working_days(FRIDAY, 5) == cst(2025, 6, 20, 23, 59, 59)


def test_fifteen_working_days_span_three_weeks() -> None:
    assert add_working_days(MONDAY, 15) == cst(2025, 6, 30, 23, 59, 59)


def test_start_day_is_taken_in_china_standard_time() -> None:
    # 2025-06-12 20:00 UTC is already Friday 04:00 in Beijing: due Monday, not Friday.
    late_thursday_utc = dt.datetime(2025, 6, 12, 20, 0, tzinfo=dt.UTC).timestamp()
    assert china_date(late_thursday_utc) == dt.date(2025, 6, 13)
    assert add_working_days(late_thursday_utc, 1) == cst(2025, 6, 16, 23, 59, 59)


def test_national_day_2026_is_skipped() -> None:
    # 2026-10-01..07 (Thursday to Wednesday) are National Day holidays; Thursday 8 October is
    # the first working day after Wednesday 30 September.
    assert add_working_days(cst(2026, 9, 30, 11, 0), 1) == cst(2026, 10, 8, 23, 59, 59)
    assert add_working_days(cst(2026, 9, 30, 23, 59, 59), 1) == cst(2026, 10, 8, 23, 59, 59)
    for d in range(1, 8):
        assert not is_working_day(dt.date(2026, 10, d))
    assert is_working_day(dt.date(2026, 10, 8))  # a plain Thursday


def test_adjusted_weekend_working_days_of_2026_count() -> None:
    # 调休 for National Day 2026: Sunday 20 September and Saturday 10 October are worked.
    assert dt.date(2026, 9, 20).weekday() == 6 and is_working_day(dt.date(2026, 9, 20))
    assert dt.date(2026, 10, 10).weekday() == 5 and is_working_day(dt.date(2026, 10, 10))
    assert add_working_days(cst(2026, 9, 19, 9, 0), 1) == cst(2026, 9, 20, 23, 59, 59)
    assert add_working_days(cst(2026, 10, 9, 9, 0), 1) == cst(2026, 10, 10, 23, 59, 59)
    # 8 (Thu), 9 (Fri), 10 (worked Sat), then Monday 12
    assert add_working_days(cst(2026, 9, 30, 9, 0), 3) == cst(2026, 10, 10, 23, 59, 59)
    assert add_working_days(cst(2026, 9, 30, 9, 0), 4) == cst(2026, 10, 12, 23, 59, 59)
    # Spring Festival 2026: 15..23 February off, Saturday 14 and 28 February worked.
    assert is_working_day(dt.date(2026, 2, 14)) and is_working_day(dt.date(2026, 2, 28))
    assert add_working_days(cst(2026, 2, 13, 9, 0), 2) == cst(2026, 2, 24, 23, 59, 59)


def test_local_holidays_and_workdays_apply_on_top_of_the_official_calendar() -> None:
    friday = cst(2025, 6, 6, 9, 0)
    assert add_working_days(friday, 2) == cst(2025, 6, 10, 23, 59, 59)
    assert add_working_days(friday, 2, LOCAL_HOLIDAYS) == cst(2025, 6, 12, 23, 59, 59)
    assert add_working_days(friday, 4, LOCAL_HOLIDAYS, workdays=LOCAL_WORKDAYS) == cst(
        2025, 6, 14, 23, 59, 59
    )
    # an explicit working day wins over a holiday, official or local
    assert is_working_day(dt.date(2026, 10, 1), workdays=frozenset({dt.date(2026, 10, 1)}))
    assert is_working_day(dt.date(2025, 6, 10), LOCAL_HOLIDAYS, LOCAL_HOLIDAYS)


def test_later_years_follow_a_provisional_calendar_and_earlier_ones_are_refused() -> None:
    last = official_years().stop - 1
    assert last >= 2026
    new_year, labour_day, national_day = (
        dt.date(last + 1, 1, 1),
        dt.date(last + 1, 5, 3 - 1),
        dt.date(last + 1, 10, 2),
    )
    for holiday in (new_year, labour_day, national_day):
        assert is_provisional(holiday)
        if holiday.weekday() < 5:
            assert not is_official_working_day(holiday)
    # a deadline crossing into the unpublished year lands on a provisional working day
    due = add_working_days(cst(last, 12, 28, 9, 0), 10)
    assert is_provisional_working_day(china_date(due)) and china_date(due).year == last + 1
    assert not is_provisional(dt.date(last, 12, 31))
    with pytest.raises(FailedPrecondition, match="chinese-calendar"):
        is_working_day(dt.date(official_years().start - 1, 6, 1))
    beyond = dt.date(last + 1, 1, 1)
    # listed explicitly, a day follows the list
    assert is_working_day(beyond, workdays=frozenset({beyond}))


@given(st.dates(min_value=dt.date(2027, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_provisional_days_off_are_weekends_and_fixed_holidays(day: dt.date) -> None:
    if day.year < official_years().stop:
        return
    expected = day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS
    assert is_official_working_day(day) is expected


def test_zero_days_is_the_end_of_the_start_day() -> None:
    assert add_working_days(SATURDAY, 0) == cst(2025, 6, 14, 23, 59, 59)


@pytest.mark.parametrize("days", [-1, 1.5, True, "3", 10_000])
def test_bad_day_counts_are_refused(days: object) -> None:
    with pytest.raises(InvalidArgument, match="working days"):
        add_working_days(MONDAY, days)  # type: ignore[arg-type]


def test_working_days_between_counts_only_weekday_hours() -> None:
    assert working_days_between(MONDAY, MONDAY + DAY_S) == pytest.approx(1.0)
    assert working_days_between(cst(2025, 6, 14, 0, 0), cst(2025, 6, 16, 0, 0)) == 0.0
    # Friday noon to Monday noon: half of Friday plus half of Monday.
    assert working_days_between(cst(2025, 6, 13, 12, 0), cst(2025, 6, 16, 12, 0)) == pytest.approx(
        1.0
    )
    assert working_days_between(MONDAY + DAY_S, MONDAY) == pytest.approx(-1.0)
    # National Day 2025 (1..8 October) holds no working time; the worked Saturday 11th does.
    assert working_days_between(cst(2025, 10, 1, 0, 0), cst(2025, 10, 9, 0, 0)) == 0.0
    assert working_days_between(cst(2025, 10, 11, 0, 0), cst(2025, 10, 12, 0, 0)) == 1.0
    assert working_days_between(
        cst(2025, 10, 9, 0, 0), cst(2025, 10, 10, 0, 0), frozenset({dt.date(2025, 10, 9)})
    ) == pytest.approx(0.0)


def test_is_overdue() -> None:
    deadline = add_working_days(MONDAY, 1)
    assert not is_overdue(deadline, deadline, None)
    assert is_overdue(deadline, deadline + 1, None)
    assert not is_overdue(deadline, deadline + 10 * DAY_S, decided_at=deadline - 60)
    assert is_overdue(deadline, deadline - 60, decided_at=deadline + 1)


@settings(max_examples=150)
@given(instants, day_counts, holiday_sets)
def test_deadlines_land_at_the_end_of_a_working_day(
    start: float, days: int, holidays: frozenset[dt.date]
) -> None:
    deadline = add_working_days(start, days, holidays)
    day = china_date(deadline)
    assert deadline == end_of_day(day)
    assert deadline > start - 1  # days == 0 in the day's last second: 23:59:59 has just passed
    if not days:
        assert day == china_date(start)
    else:
        assert deadline > start
        assert day > china_date(start)
        assert is_working_day(day, holidays)
        assert day not in holidays and is_official_working_day(day)
        # exactly `days` working days lie between the start day and the deadline day
        counted = sum(
            is_working_day(china_date(start) + dt.timedelta(days=n), holidays)
            for n in range(1, (day - china_date(start)).days + 1)
        )
        assert counted == days


@settings(max_examples=150)
@given(instants, day_counts, holiday_sets)
def test_deadlines_are_monotone(start: float, days: int, holidays: frozenset[dt.date]) -> None:
    deadline = add_working_days(start, days, holidays)
    assert add_working_days(start, days + 1, holidays) > deadline
    assert add_working_days(start + 3600, days, holidays) >= deadline
    # more holidays can only push a deadline later
    assert deadline >= add_working_days(start, days)
    assert deadline - start >= days * DAY_S - DAY_S


@settings(max_examples=150)
@given(instants, st.integers(min_value=1, max_value=40), holiday_sets)
def test_a_deadline_allows_exactly_its_working_days(
    start: float, days: int, holidays: frozenset[dt.date]
) -> None:
    deadline = add_working_days(start, days, holidays)
    next_midnight = start_of_day(china_date(start) + dt.timedelta(days=1))
    elapsed = working_days_between(next_midnight, deadline, holidays)
    assert elapsed == pytest.approx(days - 1 / DAY_S)


@settings(max_examples=150)
@given(instants, instants, instants)
def test_working_days_between_is_additive_and_antisymmetric(a: float, b: float, c: float) -> None:
    ab, bc, ac = (working_days_between(x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab + bc == pytest.approx(ac, abs=1e-6)
    assert working_days_between(b, a) == -ab
    assert abs(ab) <= abs(b - a) / DAY_S + 1e-9


@settings(max_examples=150)
@given(instants, day_counts)
def test_official_deadlines_never_land_on_a_day_off(start: float, days: int) -> None:
    deadline = add_working_days(start, days)
    day = china_date(deadline)
    if days:
        assert is_official_working_day(day)
        assert not chinese_calendar.is_holiday(day)
    assert add_working_days(start, days + 1) > deadline
