"""Throughput per open hour: opening minutes of the halls and the reports built on them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.calendar import DAY, WEEK, hours_of_day_observed, open_minutes, open_time
from simulator.engine import simulate
from simulator.loading import default_scenario, mmc_scenario
from simulator.scenario import CalendarSpec

NINE_TO_FIVE = CalendarSpec(open="09:00", close="17:00", days=(0, 1, 2, 3, 4))
EVENINGS = CalendarSpec(open="16:00", close="20:00", days=(0, 1, 2, 3, 4, 5))


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def calendars(draw: st.DrawFn) -> CalendarSpec:
    """Any valid opening calendar: a span inside the day on some weekdays."""
    lo = draw(st.integers(0, 1439))
    hi = draw(st.integers(lo + 1, 1440))
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    return CalendarSpec(open=_hhmm(lo), close=_hhmm(hi), days=tuple(sorted(days)))


times = st.floats(0, 3 * WEEK, allow_nan=False)


def test_a_working_week_is_forty_open_hours() -> None:
    assert open_minutes([NINE_TO_FIVE], 0.0, WEEK, 0) == 40 * 60
    assert open_minutes([NINE_TO_FIVE], 0.0, WEEK, 5) == 40 * 60  # starting on Saturday
    assert open_minutes([NINE_TO_FIVE], 10 * 60, DAY, 0) == 7 * 60
    # Overlapping halls count an hour once: 09-20 on weekdays, 16-20 on Saturday.
    assert open_minutes([NINE_TO_FIVE, EVENINGS], 0.0, WEEK, 0) == (5 * 11 + 4) * 60


@settings(max_examples=200, deadline=None)
@given(st.lists(calendars(), min_size=1, max_size=3), times, times, times, st.integers(0, 6))
def test_open_minutes_add_up_and_stay_inside_the_period(
    cals: list[CalendarSpec], a: float, b: float, c: float, wd: int
) -> None:
    a, b, c = sorted((a, b, c))
    whole = open_minutes(cals, a, c, wd)
    assert 0.0 <= whole <= c - a + 1e-9
    assert whole == pytest.approx(open_minutes(cals, a, b, wd) + open_minutes(cals, b, c, wd))
    each = [open_minutes([cal], a, c, wd) for cal in cals]
    assert max(each) - 1e-6 <= whole <= sum(each) + 1e-6


def test_default_week_reports_throughput_per_open_hour() -> None:
    sc = default_scenario(["run.horizon_days=7", "run.start_weekday=0"])
    data = simulate(sc).data
    assert data["open_hours"] == pytest.approx(40.0)
    for group in (data["total"], *data["regions"].values()):
        assert group["open_hours"] == pytest.approx(40.0)
        assert group["throughput_per_open_hour"] == pytest.approx(group["completed"] / 40.0)
        assert group["throughput_per_clock_hour"] == pytest.approx(group["completed"] / 168.0)
    assert data["od"]["SH->JS"]["open_hours"] == pytest.approx(40.0)
    assert data["open_days"] == 5


def test_open_time_counts_each_region_on_its_own_calendar() -> None:
    sc = default_scenario(["regions.AH.calendar.days=[0, 1, 2, 3, 4, 5]", "run.start_weekday=0"])
    got = open_time(sc, 0.0, WEEK)
    assert got.by_region["SH"] == 40 * 60 and got.by_region["AH"] == 48 * 60
    assert got.any_region == 48 * 60 and got.days == 6


def test_round_the_clock_station_is_open_every_hour() -> None:
    data = simulate(mmc_scenario(3, 2.4, 1.0, 3000, seed=5)).data
    total = data["total"]
    assert total["throughput_per_open_hour"] == pytest.approx(total["throughput_per_clock_hour"])
    assert data["open_hours"] == pytest.approx(data["observed_min"] / 60.0)
    assert data["open_days"] == pytest.approx(data["observed_days"])  # partial days in part


def test_hours_observed_at_each_hour_of_day() -> None:
    assert hours_of_day_observed([NINE_TO_FIVE], 0.0, WEEK, 0) == (5.0,) * 24
    half = hours_of_day_observed([NINE_TO_FIVE], 10.5 * 60, DAY, 0)
    assert half[:10] == (0.0,) * 10 and half[10] == 0.5 and half[11:] == (1.0,) * 13


@settings(max_examples=100, deadline=None)
@given(st.lists(calendars(), min_size=1, max_size=3), times, times, st.integers(0, 6))
def test_hours_observed_never_exceed_the_period(
    cals: list[CalendarSpec], a: float, b: float, wd: int
) -> None:
    a, b = sorted((a, b))
    hours = hours_of_day_observed(cals, a, b, wd)
    assert all(h >= 0 for h in hours)
    assert sum(hours) <= (b - a) / 60 + 1e-9
    every_day = [CalendarSpec(open="00:00", close="24:00", days=(0, 1, 2, 3, 4, 5, 6))]
    assert sum(hours_of_day_observed(every_day, a, b, wd)) == pytest.approx((b - a) / 60)
