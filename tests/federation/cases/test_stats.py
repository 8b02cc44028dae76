"""Evaluation statistics: a worked example, edge cases, and invariants over random histories."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.cases.stats import case_outcome, percentile, region_stats
from federation.errors import InvalidArgument
from federation.storage.base import CaseEvent, CaseRating, CaseRecord

T0 = 1_748_743_200.0  # 2025-06-01 10:00 CST
HOUR = 3600.0
DAY = 86400.0
JS_CHANGE = "YRD-JS-QY-0101"
JS_MOVE = "YRD-JS-QY-0102"


def case(
    case_id: str,
    item: str = JS_CHANGE,
    window: tuple[str, str] = ("310000", "sh-pudong-01"),
    state: str = "closed",
    deadline: float = T0 + 2 * DAY,
) -> CaseRecord:
    return CaseRecord(
        case_id=case_id,
        request_id=f"req-{case_id}",
        request_hash="0" * 64,
        item_code=item,
        owner_region="320000",
        window_region=window[0],
        window_id=window[1],
        applicant_id="340104199003071234",
        state=state,
        data={},
        created_at=T0,
        updated_at=T0,
        deadline_at=deadline,
    )


def history(case_id: str, *steps: tuple[float, str]) -> list[CaseEvent]:
    """Events from (hours after T0, to_state) pairs; the first is the submission."""
    events, previous = [], ""
    for seq, (hours, state) in enumerate(steps, start=1):
        events.append(
            CaseEvent(case_id, seq, T0 + hours * HOUR, previous, state, "320000:reviewer", {})
        )
        previous = state
    return events


def rating(case_id: str, score: int, at: float = T0 + 5 * DAY) -> CaseRating:
    return CaseRating(case_id, score, (), "", at)


CLEAN = ("submitted", "accepted", "under_review", "approved", "result_issued", "closed")


def example() -> dict[str, Any]:
    cases = [
        case("c1"),
        case("c2"),
        case("c3", window=("330000", "zj-hz-02")),
        case("c4", state="under_review", window=("330000", "zj-hz-02")),
        case("c5", item=JS_MOVE, deadline=T0 + 1 * HOUR),
    ]
    events = {
        "c1": history("c1", *zip((0, 1, 2, 4, 5, 6), CLEAN, strict=True)),
        "c2": history(
            "c2",
            (0, "submitted"),
            (1, "accepted"),
            (2, "under_review"),
            (3, "returned"),
            (5, "submitted"),
            (6, "under_review"),
            (10, "approved"),
            (11, "result_issued"),
            (12, "closed"),
        ),
        "c3": history("c3", (0, "submitted"), (1, "accepted"), (8, "rejected"), (9, "closed")),
        "c4": history("c4", (0, "submitted"), (1, "accepted"), (2, "under_review")),
        "c5": history("c5", *zip((0, 1, 2, 2, 3, 4), CLEAN, strict=True)),
    }
    ratings = [
        rating("c1", 5),
        rating("c2", 2, at=T0 + 3 * DAY),
        rating("c2", 3, at=T0 + 4 * DAY),  # the later rating replaces the earlier one
        rating("c5", 4),
        rating("someone-elses-case", 1),
    ]
    return region_stats(cases, events, ratings, now=T0 + 3 * DAY)


def test_worked_example_overall() -> None:
    overall = example()["overall"]
    assert overall["volume"] == 5
    assert (overall["decided"], overall["open"]) == (4, 1)
    assert (overall["approved"], overall["rejected"]) == (3, 1)
    assert (overall["returned"], overall["return_events"]) == (1, 1)
    assert overall["first_time_success"] == 2  # c1 and c5; c2 was returned once
    assert overall["first_time_success_rate"] == pytest.approx(2 / 4)
    # decisions after 4 h (c1), 10 h (c2), 8 h (c3), 2 h (c5)
    durations = overall["time_to_decision"]
    assert durations["count"] == 4
    assert durations["mean_s"] == pytest.approx(6 * HOUR)
    assert durations["p50_s"] == pytest.approx(6 * HOUR)
    assert durations["p90_s"] == pytest.approx(9.4 * HOUR)
    # c4 is undecided past its deadline; c5 was decided an hour late
    assert overall["overdue"] == 2 and overall["overdue_share"] == pytest.approx(2 / 5)
    assert overall["ratings"] == {
        "count": 3,
        "mean": pytest.approx(4.0),
        "distribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1},
    }
    assert overall["states"] == {"closed": 4, "under_review": 1}


def test_worked_example_per_item_and_window() -> None:
    stats = example()
    assert stats["owner_regions"] == ["320000"]
    items = {block["item_code"]: block for block in stats["items"]}
    assert set(items) == {JS_CHANGE, JS_MOVE}
    assert items[JS_CHANGE]["volume"] == 4 and items[JS_MOVE]["volume"] == 1
    assert items[JS_CHANGE]["first_time_success_rate"] == pytest.approx(1 / 3)
    assert items[JS_MOVE]["overdue_share"] == 1.0
    windows = {(b["window_region"], b["window_id"]): b for b in stats["windows"]}
    assert set(windows) == {("310000", "sh-pudong-01"), ("330000", "zj-hz-02")}
    zj = windows[("330000", "zj-hz-02")]
    assert (zj["volume"], zj["decided"], zj["rejected"], zj["approved"]) == (2, 1, 1, 0)
    assert zj["first_time_success_rate"] == 0.0
    assert zj["ratings"]["count"] == 0 and zj["ratings"]["mean"] is None
    assert zj["time_to_decision"]["p90_s"] == pytest.approx(8 * HOUR)
    json.dumps(stats, allow_nan=False)


def test_no_cases_gives_empty_blocks() -> None:
    stats = region_stats([], {}, [rating("x", 5)], now=T0)
    overall = stats["overall"]
    assert overall["volume"] == 0
    assert overall["first_time_success_rate"] is None and overall["overdue_share"] is None
    assert overall["time_to_decision"] == {"count": 0, "mean_s": None, "p50_s": None, "p90_s": None}
    assert stats["items"] == [] and stats["windows"] == []


def test_a_case_without_events_is_open_and_timed_from_creation() -> None:
    outcome = case_outcome(case("c9", state="submitted"), [], None)
    assert outcome.decision is None and outcome.started_at == T0
    assert outcome.overdue(T0 + 3 * DAY) and not outcome.overdue(T0 + DAY)


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="rating of case c1 is 6"):
        region_stats([case("c1")], {}, [rating("c1", 6)], now=T0)
    with pytest.raises(InvalidArgument, match="listed twice"):
        region_stats([case("c1"), case("c1")], {}, [], now=T0)
    with pytest.raises(InvalidArgument, match="filed under c1"):
        region_stats([case("c1")], {"c1": history("c2", (0, "submitted"))}, [], now=T0)


def test_percentile_matches_linear_interpolation() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)
    assert percentile([7.0], 0.9) == 7.0
    with pytest.raises(InvalidArgument):
        percentile([], 0.5)


@given(
    st.lists(st.floats(min_value=0, max_value=1e7), min_size=1, max_size=50).map(sorted),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
)
def test_percentile_is_monotone_and_bounded(values: list[float], p: float, q: float) -> None:
    low, high = sorted((p, q))
    assert values[0] <= percentile(values, low) <= percentile(values, high) <= values[-1]


# --- invariants over random histories -----------------------------------------------------------

PATHS: Sequence[Sequence[str]] = (
    ("submitted",),
    ("submitted", "accepted", "under_review"),
    CLEAN,
    ("submitted", "accepted", "under_review", "returned", "submitted", "under_review", "approved"),
    ("submitted", "accepted", "under_review", "returned"),
    ("submitted", "accepted", "rejected", "closed"),
)


@st.composite
def case_histories(draw: st.DrawFn) -> tuple[CaseRecord, list[CaseEvent], CaseRating | None]:
    case_id = f"c{draw(st.integers(min_value=0, max_value=10**9))}"
    path = draw(st.sampled_from(PATHS))
    gaps = draw(st.lists(st.floats(0, 72), min_size=len(path), max_size=len(path)))
    hours, clock = [], 0.0
    for gap in gaps:
        clock += gap
        hours.append(clock)
    record = case(
        case_id,
        item=draw(st.sampled_from([JS_CHANGE, JS_MOVE, "YRD-GA-0001"])),
        window=draw(st.sampled_from([("310000", "w1"), ("330000", "w2"), ("340000", "w1")])),
        state=path[-1],
        deadline=T0 + draw(st.floats(0, 10)) * DAY,
    )
    score = draw(st.none() | st.integers(min_value=1, max_value=5))
    return (
        record,
        history(case_id, *zip(hours, path, strict=True)),
        None if score is None else rating(case_id, score),
    )


@settings(max_examples=80)
@given(
    st.lists(case_histories(), max_size=25, unique_by=lambda h: h[0].case_id),
    st.floats(0, 20),
)
def test_blocks_are_consistent(
    histories: list[tuple[CaseRecord, list[CaseEvent], CaseRating | None]], now_days: float
) -> None:
    cases = [h[0] for h in histories]
    events = {h[0].case_id: h[1] for h in histories}
    ratings = [h[2] for h in histories if h[2] is not None]
    stats = region_stats(cases, events, ratings, now=T0 + now_days * DAY)
    json.dumps(stats, allow_nan=False)
    overall = stats["overall"]
    assert overall["volume"] == len(cases)
    assert overall["ratings"]["count"] == len(ratings)
    for grouping in ("items", "windows"):
        for field in ("volume", "decided", "approved", "overdue", "first_time_success"):
            assert sum(b[field] for b in stats[grouping]) == overall[field]
    for block in (overall, *stats["items"], *stats["windows"]):
        assert block["decided"] == block["approved"] + block["rejected"]
        assert block["first_time_success"] <= block["approved"]
        assert block["returned"] <= block["return_events"]
        assert sum(block["ratings"]["distribution"].values()) == block["ratings"]["count"]
        for rate in ("first_time_success_rate", "overdue_share"):
            assert block[rate] is None or 0.0 <= block[rate] <= 1.0
        times = block["time_to_decision"]
        assert times["count"] == block["decided"]
        if times["count"]:
            assert 0.0 <= times["p50_s"] <= times["p90_s"]
