"""Working-day deadlines: fixed examples around weekends and holidays, and invariants."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.cases.workdays import (
    DAY_S,
    add_working_days,
    china_date,
    end_of_day,
    is_overdue,
    is_working_day,
    start_of_day,
    working_days_between,
)
from federation.clock import CHINA_STANDARD_TIME
from federation.errors import InvalidArgument


def cst(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> float:
    return dt.datetime(
        year, month, day, hour, minute, second, tzinfo=CHINA_STANDARD_TIME
    ).timestamp()


MONDAY = cst(2025, 6, 2, 10, 0)
FRIDAY = cst(2025, 6, 6, 16, 30)
SATURDAY = cst(2025, 6, 7, 9, 0)
NATIONAL_DAY = frozenset(dt.date(2025, 10, d) for d in range(1, 9))  # 2025-10-01..08
MAKEUP_DAYS = frozenset({dt.date(2025, 9, 28), dt.date(2025, 10, 11)})  # worked Sun and Sat

instants = st.floats(min_value=cst(2020, 1, 1, 0, 0), max_value=cst(2030, 12, 31, 0, 0))
day_counts = st.integers(min_value=0, max_value=40)
holiday_sets = st.frozensets(
    st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2031, 3, 1)), max_size=30
)


def test_one_working_day_after_a_monday_ends_on_tuesday_night() -> None:
    assert add_working_days(MONDAY, 1) == cst(2025, 6, 3, 23, 59, 59)


def test_friday_and_saturday_submissions_are_due_on_monday_night() -> None:
    monday_night = cst(2025, 6, 9, 23, 59, 59)
    assert add_working_days(FRIDAY, 1) == monday_night
    assert add_working_days(SATURDAY, 1) == monday_night
    assert add_working_days(FRIDAY, 5) == cst(2025, 6, 13, 23, 59, 59)


def test_fifteen_working_days_span_three_weeks() -> None:
    assert add_working_days(MONDAY, 15) == cst(2025, 6, 23, 23, 59, 59)


def test_start_day_is_taken_in_china_standard_time() -> None:
    # 2025-06-06 20:00 UTC is already Saturday 04:00 in Beijing: due Monday, not Friday's Monday.
    late_friday_utc = dt.datetime(2025, 6, 6, 20, 0, tzinfo=dt.UTC).timestamp()
    assert china_date(late_friday_utc) == dt.date(2025, 6, 7)
    assert add_working_days(late_friday_utc, 1) == cst(2025, 6, 9, 23, 59, 59)


def test_holidays_are_skipped_and_makeup_weekend_days_count() -> None:
    before_holiday = cst(2025, 9, 30, 11, 0)
    assert add_working_days(before_holiday, 1, NATIONAL_DAY) == cst(2025, 10, 9, 23, 59, 59)
    # Friday 26 Sep: with the make-up Sunday the first working day is 28 Sep.
    friday = cst(2025, 9, 26, 9, 0)
    assert add_working_days(friday, 1, NATIONAL_DAY) == cst(2025, 9, 29, 23, 59, 59)
    assert add_working_days(friday, 1, NATIONAL_DAY, workdays=MAKEUP_DAYS) == cst(
        2025, 9, 28, 23, 59, 59
    )
    assert is_working_day(dt.date(2025, 10, 11), NATIONAL_DAY, MAKEUP_DAYS)
    assert not is_working_day(dt.date(2025, 10, 11), NATIONAL_DAY)


def test_zero_days_is_the_end_of_the_start_day() -> None:
    assert add_working_days(SATURDAY, 0) == cst(2025, 6, 7, 23, 59, 59)


@pytest.mark.parametrize("days", [-1, 1.5, True, "3", 10_000])
def test_bad_day_counts_are_refused(days: object) -> None:
    with pytest.raises(InvalidArgument, match="working days"):
        add_working_days(MONDAY, days)  # type: ignore[arg-type]


def test_working_days_between_counts_only_weekday_hours() -> None:
    assert working_days_between(MONDAY, MONDAY + DAY_S) == pytest.approx(1.0)
    assert working_days_between(cst(2025, 6, 7, 0, 0), cst(2025, 6, 9, 0, 0)) == 0.0
    # Friday noon to Monday noon: half of Friday plus half of Monday.
    assert working_days_between(cst(2025, 6, 6, 12, 0), cst(2025, 6, 9, 12, 0)) == pytest.approx(
        1.0
    )
    assert working_days_between(MONDAY + DAY_S, MONDAY) == pytest.approx(-1.0)
    whole_holiday = working_days_between(cst(2025, 10, 1, 0, 0), cst(2025, 10, 9, 0, 0))
    assert whole_holiday == pytest.approx(6.0)  # no holidays given: six weekdays
    assert working_days_between(
        cst(2025, 10, 1, 0, 0), cst(2025, 10, 9, 0, 0), NATIONAL_DAY
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
        assert day.weekday() < 5 and day not in holidays
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
