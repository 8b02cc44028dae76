"""Case register contract, run against SQLite and PostgreSQL: idempotent creation, versioned
transitions with numbered events, listing and ratings."""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_builders import case, event, json_objects, outcome, rating, run_threads

from federation.crypto.jose import canonical_json
from federation.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from federation.storage import CaseRecord, Store

if TYPE_CHECKING:
    from tests._support.storage import Backend


def review(store: Store, expected: int = 1, case_id: str = "c1", **kw: Any) -> CaseRecord:
    """Move a case to review (from whatever state it is in)."""
    return store.transition_case(
        case_id, expected, "review", {"step": expected}, event(case_id, "review", **kw)
    )


# creation


def test_create_stores_the_case_and_its_first_event(store: Store) -> None:
    first = event(seq=42, time=5.0)  # the store numbers events itself
    assert store.create_case(case(), first) == (case(), True)
    assert store.get_case("c1") == case()
    assert store.case_events("c1") == [replace(first, seq=1)]
    assert store.get_case("unknown") is None
    assert store.case_events("unknown") == []


def test_retry_with_the_same_hash_returns_the_stored_case(store: Store) -> None:
    store.create_case(case(), event())
    review(store)
    # a retry built a new case id, but it is the same request: the stored case comes back
    retry = case("c1-retry", request_id="req-c1", request_hash="sha256-c1")
    stored, created = store.create_case(retry, event("c1-retry"))
    assert created is False
    assert stored == store.get_case("c1") and stored.version == 2
    assert store.get_case("c1-retry") is None
    assert [e.seq for e in store.case_events("c1")] == [1, 2]
    assert store.case_events("c1-retry") == []


def test_request_id_reused_or_case_id_taken_is_refused(store: Store) -> None:
    store.create_case(case(), event())
    reused = r"request id req-c1 was reused for a different request \(it created case c1\)"
    with pytest.raises(AlreadyExists, match=reused):
        store.create_case(case("c2", request_id="req-c1"), event("c2"))
    with pytest.raises(AlreadyExists, match="case c1 already exists"):
        store.create_case(case("c1", request_id="req-other"), event())
    assert store.list_cases() == [case()]
    assert len(store.case_events("c1")) == 1
    assert store.get_case("c2") is None and store.case_events("c2") == []


@pytest.mark.parametrize("bad", [{"x": math.nan}, {"x": {1, 2}}, {"x": object()}])
def test_non_json_data_or_detail_is_refused_without_writing(
    store: Store, bad: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument, match="case data"):
        store.create_case(case(data=bad), event())
    with pytest.raises(InvalidArgument, match="event detail"):
        store.create_case(case(), event(detail=bad))
    assert store.list_cases() == [] and store.case_events("c1") == []
    store.create_case(case(), event())
    with pytest.raises(InvalidArgument):
        store.transition_case("c1", 1, "review", bad, event())
    with pytest.raises(InvalidArgument):
        store.transition_case("c1", 1, "review", {}, event(detail=bad))
    assert store.get_case("c1") == case() and len(store.case_events("c1")) == 1


# transitions


def test_transition_sets_state_data_version_and_appends_the_next_event(store: Store) -> None:
    store.create_case(case(), event())
    moved = store.transition_case(
        "c1", 1, "review", {"reviewer": "ZJ-07"}, event(to_state="review", seq=9, time=7.5)
    )
    assert moved == replace(
        case(), state="review", data={"reviewer": "ZJ-07"}, version=2, updated_at=7.5
    )
    assert store.get_case("c1") == moved
    done = store.transition_case("c1", 2, "approved", {}, event(to_state="approved", time=9.0))
    assert done.version == 3 and done.state == "approved" and done.data == {}
    events = store.case_events("c1")
    assert [(e.seq, e.to_state, e.time) for e in events] == [
        (1, "submitted", case().created_at),
        (2, "review", 7.5),
        (3, "approved", 9.0),
    ]
    assert store.case_events("c1", after_seq=1) == events[1:]
    assert store.case_events("c1", after_seq=3) == []


def test_stale_version_is_refused_without_writing(store: Store) -> None:
    store.create_case(case(), event())
    review(store, 1)
    message = r"case c1 changed concurrently \(version 2, expected 1\); reload and retry"
    with pytest.raises(FailedPrecondition, match=message):
        store.transition_case("c1", 1, "rejected", {"why": "late"}, event(to_state="rejected"))
    with pytest.raises(FailedPrecondition, match="version 2, expected 3"):
        review(store, 3)
    assert store.get_case("c1") == replace(
        case(), state="review", data={"step": 1}, version=2, updated_at=event().time
    )
    assert [e.seq for e in store.case_events("c1")] == [1, 2]


def test_transition_of_an_unknown_case_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="case ghost not found"):
        review(store, 1, case_id="ghost")
    assert store.case_events("ghost") == []


def test_case_counts_group_one_owners_cases_by_state(store: Store) -> None:
    assert store.case_counts("330000") == {}
    for case_id in ("a", "b", "c"):
        store.create_case(case(case_id), event(case_id))
    store.create_case(case("other", owner_region="320000"), event("other"))
    review(store, 1, "a")
    assert store.case_counts("330000") == {"submitted": 2, "review": 1}
    assert store.case_counts("320000") == {"submitted": 1}
    assert store.case_counts("340000") == {}


def test_events_are_numbered_per_case(store: Store) -> None:
    for case_id in ("a", "b"):
        store.create_case(case(case_id), event(case_id))
    review(store, 1, "a")
    review(store, 2, "a")
    review(store, 1, "b")
    assert [e.seq for e in store.case_events("a")] == [1, 2, 3]
    assert [e.seq for e in store.case_events("b")] == [1, 2]
    assert {e.case_id for e in store.case_events("b")} == {"b"}


def test_events_are_filed_under_the_case_they_belong_to(store: Store) -> None:
    # the store files each event under the case of the call, whatever case_id it carries
    store.create_case(case("a"), event("stray"))
    store.transition_case("a", 1, "review", {}, event("stray", "review"))
    assert [(e.case_id, e.seq) for e in store.case_events("a")] == [("a", 1), ("a", 2)]
    assert store.case_events("stray") == []


def test_racing_transitions_from_one_version_have_exactly_one_winner(
    store: Store, backend: Backend
) -> None:
    store.create_case(case(), event())
    other = backend.open()
    barrier = threading.Barrier(8)
    try:

        def move(worker: int) -> object:
            target = other if worker % 2 else store
            barrier.wait()
            return outcome(lambda: review(target, 1, actor=f"w{worker}"))

        results = run_threads(8, move)
    finally:
        other.close()
    winners = [r for r in results if isinstance(r, CaseRecord)]
    assert len(winners) == 1 and winners[0].version == 2
    assert all(isinstance(r, FailedPrecondition) for r in results if r not in winners)
    events = store.case_events("c1")
    assert [e.seq for e in events] == [1, 2] and store.get_case("c1") == winners[0]


def test_reload_and_retry_loops_number_every_event_once(store: Store, backend: Backend) -> None:
    store.create_case(case(), event())
    other = backend.open()
    try:

        def work(worker: int) -> int:
            target = other if worker % 2 else store
            conflicts = 0
            for n in range(6):
                while True:
                    current = target.get_case("c1")
                    assert current is not None
                    try:
                        review(target, current.version, actor=f"w{worker}-{n}")
                        break
                    except FailedPrecondition:
                        conflicts += 1
            return conflicts

        run_threads(4, work)
    finally:
        other.close()
    final = store.get_case("c1")
    assert final is not None and final.version == 1 + 4 * 6
    events = store.case_events("c1")
    assert [e.seq for e in events] == list(range(1, 26))
    assert len({e.actor for e in events[1:]}) == 24


def test_concurrent_creation_retries_create_exactly_one_case(
    store: Store, backend: Backend
) -> None:
    other = backend.open()
    barrier = threading.Barrier(8)
    try:

        def create(worker: int) -> tuple[CaseRecord, bool]:
            target = other if worker % 2 else store
            barrier.wait()
            attempt = case(f"c-{worker}", request_id="req-race", request_hash="sha256-race")
            return target.create_case(attempt, event(f"c-{worker}"))

        results = run_threads(8, create)
    finally:
        other.close()
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    winner = next(record for record, created in results if created)
    assert all(record == winner for record, _ in results)
    assert store.list_cases() == [winner]
    assert [e.seq for e in store.case_events(winner.case_id)] == [1]


# listing and ratings


def test_list_cases_filters_and_orders_oldest_first(store: Store) -> None:
    specs = [
        ("k1", "330000", "310000", "A", 30.0),
        ("k2", "330000", "320000", "B", 10.0),
        ("k3", "320000", "310000", "A", 20.0),
        ("k5", "330000", "310000", "A", 20.0),
        ("k4", "330000", "310000", "B", 20.0),
    ]
    for case_id, owner, window, applicant, created in specs:
        record = case(
            case_id,
            owner_region=owner,
            window_region=window,
            applicant_id=applicant,
            created_at=created,
        )
        store.create_case(record, event(case_id))

    def ids(**filters: str | None) -> list[str]:
        return [c.case_id for c in store.list_cases(**filters)]

    assert ids() == ["k2", "k3", "k5", "k4", "k1"]
    assert ids(owner_region="330000") == ["k2", "k5", "k4", "k1"]
    assert ids(window_region="310000") == ["k3", "k5", "k4", "k1"]
    assert ids(applicant_id="A") == ["k3", "k5", "k1"]
    assert ids(owner_region="330000", window_region="310000", applicant_id="B") == ["k4"]
    assert ids(owner_region=None, applicant_id="B") == ["k2", "k4"]
    assert ids(owner_region="340000") == [] and ids(applicant_id="") == []


def _page_specs(store: Store) -> None:
    specs = [
        ("k1", "330000", "submitted", "I-1", "W1", 30.0),
        ("k2", "330000", "accepted", "I-2", "W2", 10.0),
        ("k3", "320000", "accepted", "I-1", "W1", 20.0),
        ("k5", "330000", "accepted", "I-1", "W1", 20.0),
        ("k4", "330000", "closed", "I-2", "W1", 20.0),
        ("k6", "330000", "accepted", "I-1", "W2", 40.0),
    ]
    for case_id, owner, state, item, window_id, created in specs:
        record = case(
            case_id,
            owner_region=owner,
            state=state,
            item_code=item,
            window_id=window_id,
            window_region="320000" if case_id == "k6" else "310000",
            created_at=created,
        )
        store.create_case(record, event(case_id, state))


def test_page_cases_filters_newest_first_with_case_id_breaking_ties(store: Store) -> None:
    _page_specs(store)

    def ids(**kw: Any) -> list[str]:
        return [c.case_id for c in store.page_cases("330000", **kw)]

    assert ids() == ["k6", "k1", "k5", "k4", "k2"]
    assert ids(state="accepted") == ["k6", "k5", "k2"]
    assert ids(item_code="I-2") == ["k4", "k2"]
    assert ids(window_id="W1") == ["k1", "k5", "k4"]
    assert ids(window_region="320000") == ["k6"]
    assert ids(state="accepted", item_code="I-1", window_id="W1") == ["k5"]
    assert ids(state="returned") == [] and ids(limit=0) == []
    assert [c.case_id for c in store.page_cases("340000")] == []
    assert store.page_cases("330000", limit=1) == [store.get_case("k6")]


def test_page_cases_pages_resume_after_the_cursor(store: Store) -> None:
    _page_specs(store)
    assert [c.case_id for c in store.page_cases("330000", limit=2)] == ["k6", "k1"]
    after = [c.case_id for c in store.page_cases("330000", before=(30.0, "k1"), limit=2)]
    assert after == ["k5", "k4"]
    assert [c.case_id for c in store.page_cases("330000", before=(10.0, "k2"))] == []
    # a cursor that names no stored case still orders: it is a position, not a reference
    assert [c.case_id for c in store.page_cases("330000", before=(20.0, "k4z"))] == ["k4", "k2"]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(1, 7))
def test_page_cases_walks_every_case_exactly_once(store: Store, limit: int) -> None:
    if store.get_case("k1") is None:
        _page_specs(store)
    seen: list[str] = []
    before: tuple[float, str] | None = None
    while page := store.page_cases("330000", before=before, limit=limit):
        assert len(page) <= limit
        seen.extend(c.case_id for c in page)
        before = (page[-1].created_at, page[-1].case_id)
    assert seen == ["k6", "k1", "k5", "k4", "k2"]


def test_rating_round_trip_and_a_second_rating_is_refused(store: Store) -> None:
    assert store.case_ratings() == []
    store.rate_case(rating("c2", 3, rated_at=20.0, reasons=()))
    store.rate_case(rating("c1", 5, rated_at=10.0))
    store.rate_case(rating("c3", 1, rated_at=20.0, comment=""))
    with pytest.raises(AlreadyExists, match="case c1 was rated already"):
        store.rate_case(rating("c1", 1, comment="changed my mind"))
    assert store.case_ratings() == [
        rating("c1", 5, rated_at=10.0),
        rating("c2", 3, rated_at=20.0, reasons=()),
        rating("c3", 1, rated_at=20.0, comment=""),
    ]


def test_cases_events_and_ratings_survive_reopening(backend: Backend) -> None:
    first = backend.open()
    first.create_case(case(), event())
    moved = review(first)
    first.rate_case(rating())
    first.close()
    second = backend.open()
    try:
        assert second.get_case("c1") == moved
        assert [e.seq for e in second.case_events("c1")] == [1, 2]
        assert second.case_ratings() == [rating()]
        assert review(second, 2).version == 3
    finally:
        second.close()


_ids = itertools.count()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=json_objects, later=json_objects, detail=json_objects)
def test_case_data_and_event_detail_round_trip_exactly(
    store: Store, data: dict[str, Any], later: dict[str, Any], detail: dict[str, Any]
) -> None:
    case_id = f"h{next(_ids)}"
    created, _ = store.create_case(case(case_id, data=data), event(case_id, detail=detail))
    stored = store.get_case(case_id)
    assert stored is not None and stored == created
    assert canonical_json(stored.data) == canonical_json(data)
    moved = store.transition_case(case_id, 1, "review", later, event(case_id, detail=later))
    assert canonical_json(moved.data) == canonical_json(later)
    assert store.get_case(case_id) == moved
    first, second = store.case_events(case_id)
    assert canonical_json(first.detail) == canonical_json(detail)
    assert canonical_json(second.detail) == canonical_json(later)
    assert store.list_cases(applicant_id=case().applicant_id)[-1] == moved
