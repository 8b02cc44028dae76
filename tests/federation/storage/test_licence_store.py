"""Licence registry contract, run against SQLite and PostgreSQL: idempotent issue and status."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_builders import licence, outcome, run_threads, texts

from federation.errors import AlreadyExists, NotFound
from federation.storage import LicenceRecord, Store, default_sqlite_url, open_store
from federation.storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from pathlib import Path

    from tests._support.storage import Backend

REUSED = r"request id req-1 was reused for a different request \(it created licence 1\.2\.156"


def test_licence_round_trip(store: Store) -> None:
    assert store.add_licence(licence(1)) == (licence(1), True)
    assert store.get_licence(licence(1).identifier) == licence(1)
    assert store.get_licence("1.2.156.3005.2.unknown") is None


def test_retry_with_the_same_hash_returns_the_stored_licence(store: Store) -> None:
    store.add_licence(licence(1))
    # a retry re-runs issuance: a fresh serial and status index, but the same request
    retry = licence(2, request_id="req-1", request_hash="sha256-1")
    assert store.add_licence(retry) == (licence(1), False)
    assert store.get_licence(retry.identifier) is None
    assert store.status_entries() == [(1, 0)]


def test_request_id_reused_for_another_request_is_refused(store: Store) -> None:
    store.add_licence(licence(1))
    other = licence(2, request_id="req-1")
    with pytest.raises(AlreadyExists, match=REUSED):
        store.add_licence(other)
    # even when the new request clashes on identifier too, the reuse is what is reported
    with pytest.raises(AlreadyExists, match=REUSED):
        store.add_licence(replace(licence(1), request_hash="sha256-other"))
    assert store.get_licence(other.identifier) is None
    assert store.status_entries() == [(1, 0)]


def test_duplicate_identifier_or_status_index_is_refused(store: Store) -> None:
    store.add_licence(licence(1))
    same_identifier = licence(2, identifier=licence(1).identifier)
    with pytest.raises(AlreadyExists, match=f"licence {licence(1).identifier} already exists"):
        store.add_licence(same_identifier)
    with pytest.raises(AlreadyExists, match="status index 1 is already assigned"):
        store.add_licence(licence(2, status_index=1))
    assert store.get_licence(licence(1).identifier) == licence(1)
    assert store.status_entries() == [(1, 0)]
    # the refused requests left nothing behind: their request ids are still free
    assert store.add_licence(licence(2)) == (licence(2), True)


def test_licences_of_holder_oldest_first_with_ties_in_insertion_order(store: Store) -> None:
    issued = [
        licence(1, issued_at=30.0),
        licence(2, issued_at=10.0),
        licence(3, issued_at=20.0, holder_code="91310000MA1FL0000X"),
        licence(5, issued_at=20.0),
        licence(4, issued_at=20.0),
    ]
    for record in issued:
        store.add_licence(record)
    holder = licence(1).holder_code
    assert [r.status_index for r in store.licences_of_holder(holder)] == [2, 5, 4, 1]
    assert store.licences_of_holder("91310000MA1FL0000X") == [issued[2]]
    assert store.licences_of_holder("nobody") == []


def test_licences_of_holder_now_reads_the_same_or_nothing(store: Store, backend: Backend) -> None:
    for record in (licence(1, issued_at=30.0), licence(2, issued_at=10.0)):
        store.add_licence(record)
    holder = licence(1).holder_code
    now = store.licences_of_holder_now(holder)
    # a backend that would wait (every PostgreSQL read is a round trip) answers None
    assert now == (store.licences_of_holder(holder) if backend.name == "sqlite" else None)
    assert store.licences_of_holder_now("nobody") in ([], None)


def test_licences_of_holder_now_never_waits_for_a_busy_connection(tmp_path: Path) -> None:
    store = open_store(default_sqlite_url(tmp_path))
    assert isinstance(store, SqliteStore)
    try:
        store.add_licence(licence(1))
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with store._connection():
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        assert holding.wait(10)
        try:
            assert store.licences_of_holder_now(licence(1).holder_code) is None
        finally:
            release.set()
            holder.join()
        assert store.licences_of_holder_now(licence(1).holder_code) == [licence(1)]
    finally:
        store.close()


REPRESENTATIVE = "320102199005171234"  # a legal representative's citizen id
ENTERPRISE = "91320505MA1XK7Q2XX"


def test_parties_round_trip_sorted_without_repeats(store: Store, backend: Backend) -> None:
    given = licence(1, holder_code=ENTERPRISE, parties=("b-party", REPRESENTATIVE, "b-party"))
    stored = replace(given, parties=tuple(sorted({"b-party", REPRESENTATIVE})))
    assert store.add_licence(given) == (stored, True)
    assert store.get_licence(given.identifier) == stored
    changed = store.set_licence_status(given.identifier, 1, 5.0)
    assert changed == replace(stored, status=1, updated_at=5.0)
    reopened = backend.open()
    try:
        assert reopened.get_licence(given.identifier) == changed
    finally:
        reopened.close()


def test_retry_returns_the_stored_parties_and_adds_none(store: Store) -> None:
    first = licence(1, holder_code=ENTERPRISE, parties=(REPRESENTATIVE,))
    store.add_licence(first)
    retry = licence(
        2, holder_code=ENTERPRISE, request_id="req-1", request_hash="sha256-1", parties=("x",)
    )
    assert store.add_licence(retry) == (first, False)
    assert store.licences_of_holder("x") == []
    with pytest.raises(AlreadyExists, match=REUSED):
        store.add_licence(replace(retry, request_hash="other", parties=("y",)))
    assert store.licences_of_holder("y") == []
    assert store.get_licence(first.identifier) == first


def test_aggregation_includes_licences_the_code_is_a_party_to(store: Store) -> None:
    own = licence(1, holder_code=REPRESENTATIVE, issued_at=30.0)
    business = licence(2, holder_code=ENTERPRISE, parties=(REPRESENTATIVE,), issued_at=10.0)
    other = licence(3, holder_code=ENTERPRISE, parties=("310101198001010011",), issued_at=20.0)
    for record in (own, business, other):
        store.add_licence(record)
    assert store.licences_of_holder(REPRESENTATIVE) == [business, own]
    assert store.licences_of_holder(ENTERPRISE) == [business, other]
    assert store.licences_of_holder("310101198001010011") == [other]


def test_holder_who_is_also_a_party_gets_the_licence_once(store: Store) -> None:
    both = licence(1, holder_code=REPRESENTATIVE, parties=(REPRESENTATIVE, ENTERPRISE))
    store.add_licence(both)
    store.add_licence(licence(2, holder_code=REPRESENTATIVE))
    assert store.licences_of_holder(REPRESENTATIVE) == [
        both,
        licence(2, holder_code=REPRESENTATIVE),
    ]
    assert store.licences_of_holder(ENTERPRISE) == [both]


def test_refused_licence_leaves_no_parties(store: Store) -> None:
    store.add_licence(licence(1))
    with pytest.raises(AlreadyExists, match="status index 1 is already assigned"):
        store.add_licence(licence(2, status_index=1, parties=(REPRESENTATIVE,)))
    assert store.licences_of_holder(REPRESENTATIVE) == []
    # the refused identifier is free, so its parties would have collided here if kept
    refreshed = licence(2, parties=(REPRESENTATIVE,))
    assert store.add_licence(refreshed) == (refreshed, True)
    assert store.licences_of_holder(REPRESENTATIVE) == [refreshed]


def test_set_status_changes_status_and_updated_at_only(store: Store, backend: Backend) -> None:
    store.add_licence(licence(1))
    changed = store.set_licence_status(licence(1).identifier, 2, at=1_800_000_000.25)
    assert changed == replace(licence(1), status=2, updated_at=1_800_000_000.25)
    assert store.get_licence(licence(1).identifier) == changed
    reopened = backend.open()
    try:
        assert reopened.get_licence(licence(1).identifier) == changed
    finally:
        reopened.close()


def test_set_status_of_an_unknown_licence_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match=r"licence 1\.2\.156\.nope not found"):
        store.set_licence_status("1.2.156.nope", 1, 1.0)


def test_status_entries_by_index_follow_status_changes(store: Store) -> None:
    assert store.status_entries() == []
    for n in (7, 0, 3):
        store.add_licence(licence(n))
    store.set_licence_status(licence(3).identifier, 1, 2.0)
    store.set_licence_status(licence(7).identifier, 2, 3.0)
    assert store.status_entries() == [(0, 0), (3, 1), (7, 2)]


def test_concurrent_retries_create_exactly_one_licence(store: Store, backend: Backend) -> None:
    other = backend.open()  # a second store on the same database stands in for another process
    barrier = threading.Barrier(8)
    try:

        def issue(worker: int) -> tuple[LicenceRecord, bool]:
            target = other if worker % 2 else store
            barrier.wait()
            # each racer re-ran issuance: its own serial and status index, the same request
            attempt = licence(100 + worker, request_id="req-race", request_hash="sha256-race")
            return target.add_licence(attempt)

        results = run_threads(8, issue)
    finally:
        other.close()
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    winner = next(record for record, created in results if created)
    assert all(record == winner for record, _ in results)
    assert store.status_entries() == [(winner.status_index, 0)]


def test_concurrent_reuse_with_other_hashes_creates_one_and_refuses_the_rest(
    store: Store, backend: Backend
) -> None:
    other = backend.open()
    barrier = threading.Barrier(6)
    try:

        def issue(worker: int) -> object:
            target = other if worker % 2 else store
            barrier.wait()
            attempt = licence(200 + worker, request_id="req-race", request_hash=f"h{worker}")
            return outcome(lambda: target.add_licence(attempt))

        results = run_threads(6, issue)
    finally:
        other.close()
    created = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, AlreadyExists)]
    assert len(created) == 1 and created[0][1] is True and len(refused) == 5
    assert all("was reused for a different request" in str(exc) for exc in refused)


_serial = itertools.count(1000)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    holder=texts.filter(bool),
    sd_jwt=texts,
    status=st.integers(0, 2),
    issued_at=st.floats(-1e15, 1e15, allow_nan=False),
    parties=st.lists(texts, max_size=4, unique=True).map(lambda p: tuple(sorted(p))),
)
def test_licence_fields_round_trip_exactly(
    store: Store, holder: str, sd_jwt: str, status: int, issued_at: float, parties: tuple[str, ...]
) -> None:
    n = next(_serial)
    record = licence(
        n,
        holder_code=holder,
        sd_jwt=sd_jwt,
        status=status,
        issued_at=issued_at,
        parties=parties,
    )
    assert store.add_licence(record) == (record, True)
    assert store.get_licence(record.identifier) == record
    assert record in store.licences_of_holder(holder)
    for party in parties:
        assert record in store.licences_of_holder(party)
