"""Opening calendar, staff schedules and non-homogeneous Poisson arrivals."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.calendar import DAY, WEEK, day_arrivals, next_open, staff_changes
from simulator.engine import simulate
from simulator.loading import default_scenario
from simulator.scenario import StaffingSpec


def test_staff_changes_follow_shifts_lunch_and_weekends() -> None:
    js = default_scenario().regions["JS"].clerks
    initial, changes = staff_changes(js, start_weekday=0)
    assert initial == 0
    monday = [(at, staff, drain) for at, staff, drain in changes if at < DAY]
    assert monday == [
        (9 * 60, 7, False),
        (12 * 60, 3, False),
        (13.5 * 60, 7, False),
        (17 * 60, 0, True),
    ]
    assert all(at < 5 * DAY for at, _, _ in changes)  # nobody at weekends


def test_round_the_clock_staffing_has_no_changes() -> None:
    staffing = StaffingSpec.model_validate(
        {"shifts": [{"start": "00:00", "end": "24:00", "staff": 4}], "days": list(range(7))}
    )
    assert staff_changes(staffing, 3) == (4, [])


def test_week_wraps_back_to_the_initial_level() -> None:
    staffing = StaffingSpec.model_validate(
        {"shifts": [{"start": "00:00", "end": "12:00", "staff": 2}], "days": [0]}
    )
    initial, changes = staff_changes(staffing, 0)
    assert initial == 2
    assert changes == [(720.0, 0, True), (WEEK, 2, False)]


def test_arrivals_follow_rate_profile_and_calendar() -> None:
    region = default_scenario().regions["JS"]
    rng, appt = np.random.default_rng(1), np.random.default_rng(2)
    counts = np.zeros(24)
    days = 300
    for d in range(days):
        times = day_arrivals(region, d, 1, rng, appt).times  # start Tuesday: factor 1.0 days
        counts += np.bincount(((times % DAY) // 60).astype(int), minlength=24)
    rate = region.arrivals.cross_per_hour + region.arrivals.local_per_hour
    shown = 1 - region.arrivals.appointments.share * region.arrivals.appointments.no_show
    # Closed hours see nobody; the day total matches the rate, factors and no-shows.
    assert counts[:9].sum() == 0 and counts[17:].sum() == 0
    week_factor = np.mean([region.arrivals.day_factors[(1 + d) % 7] for d in range(days)])
    expected = rate * 8 * week_factor * shown * days
    assert counts.sum() == pytest.approx(expected, rel=0.02)
    assert counts[10] > counts[12]  # peak hour busier than lunch


def test_appointments_cluster_at_slot_starts() -> None:
    region = default_scenario(["regions.SH.arrivals.appointments.punctuality_sd_min=0"]).regions[
        "SH"
    ]
    rng, appt = np.random.default_rng(3), np.random.default_rng(4)
    batch = day_arrivals(region, 0, 0, rng, appt)
    booked = batch.times[batch.appointment]
    assert booked.size > 0
    assert np.all(np.isclose(booked % 30, 0))
    assert np.all(np.diff(batch.times) >= 0)


def test_next_open_skips_nights_and_weekends() -> None:
    cal = default_scenario().regions["SH"].calendar
    assert next_open(cal, 10 * 60, 0) == 10 * 60
    assert next_open(cal, 18 * 60, 0) == DAY + 9 * 60
    assert next_open(cal, 4 * DAY + 18 * 60, 0) == 7 * DAY + 9 * 60  # Friday evening -> Monday


def test_closing_without_draining_leaves_the_queue_overnight() -> None:
    base = ["run.horizon_days=3", "behaviour.patience=null"]
    drained = simulate(default_scenario(base)).data
    keep = [f"regions.{r}.calendar.drain_queue_at_close=false" for r in ("SH", "JS", "ZJ", "AH")]
    kept = simulate(default_scenario(base + keep)).data
    assert kept["total"]["wait"]["max"] > 12 * 60 > drained["total"]["wait"]["max"]
