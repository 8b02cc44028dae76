"""One contract for every Store backend: the same tests run against SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import federation.storage as storage
from federation.audit import GENESIS_HASH, AuditDraft, AuditRecord, entry_hash, verify_chain
from federation.crypto.jose import canonical_json
from federation.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from federation.storage import (
    QuotaResult,
    Revocation,
    SessionRecord,
    Store,
    SubjectHome,
    SubjectRecord,
    open_store,
)
from federation.storage.sqlite_schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from tests._support.storage import Backend


def subject(subject_id: str = "310101199001011234", **kw: Any) -> SubjectRecord:
    fields: dict[str, Any] = {
        "kind": "natural",
        "name": "张三",
        "home_region": "310000",
        "password_hash": "scrypt$abc",
        "created_at": 1_700_000_000.25,
    }
    fields.update(kw)
    return SubjectRecord(subject_id=subject_id, **fields)


def session(session_id: str, expires_at: float = 2000.0, **kw: Any) -> SessionRecord:
    fields: dict[str, Any] = {
        "subject_id": "310101199001011234",
        "secret_hash": "h",
        "acr": "substantial",
        "created_at": 1000.0,
        "expires_at": expires_at,
    }
    fields.update(kw)
    return SessionRecord(session_id=session_id, **fields)


def draft(i: int = 0, **detail: Any) -> AuditDraft:
    return AuditDraft(
        time=1_700_000_000.0 + i / 7,
        actor="330000",
        action="exchange.read",
        outcome="granted" if i % 2 == 0 else "refused",
        subject=f"s{i}",
        detail={"i": i, **detail},
    )


def run_threads(workers: int, fn: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, range(workers)))


def test_backend_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


# subjects


def test_subject_round_trip(store: Store) -> None:
    legal = subject("91310000MA1FL8XQ3C", kind="legal", name="上海某公司", created_at=5)
    store.add_subject(subject())
    store.add_subject(legal)
    assert store.get_subject("310101199001011234") == subject()
    assert store.get_subject(legal.subject_id) == legal
    assert store.get_subject("nobody") is None


def test_duplicate_subject_is_refused_and_the_first_kept(store: Store) -> None:
    store.add_subject(subject())
    with pytest.raises(AlreadyExists, match="already exists"):
        store.add_subject(subject(name="李四"))
    found = store.get_subject("310101199001011234")
    assert found is not None and found.name == "张三"


def test_home_attestation_is_stored_with_the_subject(store: Store) -> None:
    store.add_subject(subject(home_attestation="a.b.c"))
    assert store.get_subject("310101199001011234") == subject(home_attestation="a.b.c")
    store.set_home_attestation("310101199001011234", "d.e.f")
    assert store.get_subject("310101199001011234") == subject(home_attestation="d.e.f")
    with pytest.raises(NotFound):
        store.set_home_attestation("nobody", "x")


# home registry (hub)


def test_the_first_claim_is_the_only_home(store: Store) -> None:
    first = SubjectHome("310101199001011234", "natural", "310000", 10.0)
    assert store.get_home(first.subject_id) is None
    assert store.claim_home(first) == first
    # a second claim, by the same region or another, answers the stored home unchanged
    assert store.claim_home(SubjectHome(first.subject_id, "natural", "310000", 11.0)) == first
    assert store.claim_home(SubjectHome(first.subject_id, "legal", "330000", 12.0)) == first
    assert store.get_home(first.subject_id) == first


def test_concurrent_claims_of_one_subject_agree_on_one_home(store: Store) -> None:
    regions = ["310000", "320000", "330000", "340000"] * 2
    results = run_threads(
        8,
        lambda i: store.claim_home(SubjectHome("310101199001011234", "natural", regions[i], i)),
    )
    assert len(set(results)) == 1
    assert store.get_home("310101199001011234") == results[0]


# face templates


def test_face_template_round_trip_is_exact_and_replaceable(store: Store) -> None:
    assert store.get_face_template("s") is None
    template = [0.1, -2.5e-300, 1e308, 3, -0.0, 1 / 3]
    store.put_face_template("s", template)
    assert store.get_face_template("s") == [float(x) for x in template]
    store.put_face_template("s", (0.5,) * 128)
    assert store.get_face_template("s") == [0.5] * 128
    store.put_face_template("empty", [])
    assert store.get_face_template("empty") == []


def test_face_template_of_non_numbers_is_invalid(store: Store) -> None:
    with pytest.raises(InvalidArgument):
        store.put_face_template("s", ["x"])  # type: ignore[list-item]


# sessions


def test_session_round_trip(store: Store) -> None:
    store.add_session(session("a"))
    store.add_session(session("b", revoked_at=1500.0))
    assert store.get_session("a") == session("a")
    assert store.get_session("b") == session("b", revoked_at=1500.0)
    assert store.get_session("missing") is None
    with pytest.raises(AlreadyExists):
        store.add_session(session("a"))


def test_revocation_is_idempotent_and_keeps_the_first_time(store: Store) -> None:
    store.add_session(session("a"))
    first = store.revoke_session("a", 1100.0)
    assert first == session("a", revoked_at=1100.0)
    assert store.revoke_session("a", 1200.0) == first
    assert store.get_session("a") == first
    assert store.revoke_session("unknown", 1100.0) is None


def test_revoked_sessions_window(store: Store) -> None:
    store.add_session(session("old", expires_at=5000.0))
    store.add_session(session("expired", expires_at=1300.0))
    store.add_session(session("late", expires_at=5000.0))
    store.add_session(session("same", expires_at=5000.0))
    store.add_session(session("live", expires_at=5000.0))
    store.revoke_session("old", 1050.0)
    store.revoke_session("expired", 1200.0)
    store.revoke_session("late", 1250.0)
    store.revoke_session("same", 1100.0)
    assert store.revoked_sessions(since=1100.0, now=1300.0) == [
        Revocation("same", 1100.0, 5000.0),
        Revocation("late", 1250.0, 5000.0),
    ]
    assert [r.session_id for r in store.revoked_sessions(0.0, 1000.0)] == [
        "old",
        "same",
        "expired",
        "late",
    ]
    assert store.revoked_sessions(since=1251.0, now=1000.0) == []


# replay cache


def test_jti_first_then_replay_then_after_expiry(store: Store) -> None:
    assert store.remember_jti("320000", "j1", expires_at=160.0, now=100.0) is True
    assert store.remember_jti("320000", "j1", expires_at=160.0, now=120.0) is False
    assert store.remember_jti("320000", "j1", expires_at=160.0, now=159.9) is False
    # expired: the token cannot verify any more, so the slot is free again
    assert store.remember_jti("320000", "j1", expires_at=260.0, now=160.0) is True
    assert store.remember_jti("320000", "j1", expires_at=260.0, now=170.0) is False


def test_jti_now_answers_as_remember_jti_or_leaves_it_untouched(store: Store) -> None:
    # a backend that would wait answers None and records nothing; one that need not, the same
    # answer as remember_jti, with the entry committed in the same transaction
    entry = AuditDraft(1.0, "r", "identity.verify_token", "granted", "s", {"jti": "j"})
    first = store.remember_jti_now("320000", "j", 200.0, 100.0, audit=entry)
    assert first in (True, None)
    assert store.remember_jti("320000", "j", 200.0, 100.0) is (first is None)
    assert store.remember_jti_now("320000", "j", 200.0, 100.0) in (False, None)
    assert [e.detail for e in store.audit_entries()] == ([{"jti": "j"}] if first else [])


def test_append_audit_now_links_like_append_audit_or_writes_nothing(store: Store) -> None:
    entry = AuditDraft(1.0, "r", "licence.verify", "valid", "", {"n": 1})
    record = store.append_audit_now(entry)
    later = store.append_audit(AuditDraft(2.0, "r", "licence.verify", "valid", "", {"n": 2}))
    entries = list(store.audit_entries())
    assert [e.detail["n"] for e in entries] == ([1, 2] if record else [2])
    assert entries[0] == record if record else later.seq == 1
    assert verify_chain(entries).ok


def test_jti_is_scoped_per_audience(store: Store) -> None:
    assert store.remember_jti("320000", "j", 200.0, 100.0) is True
    assert store.remember_jti("330000", "j", 200.0, 100.0) is True
    assert store.remember_jti("330000", "j", 200.0, 100.0) is False
    assert store.remember_jti("320000", "k", 200.0, 100.0) is True


def test_expired_jtis_are_purged(store: Store, backend: Backend) -> None:
    for i in range(20):
        store.remember_jti("aud", f"j{i}", expires_at=150.0, now=100.0)
    store.remember_jti("aud", "fresh", expires_at=10_000.0, now=9_000.0)
    assert backend.raw("SELECT jti FROM replay_cache") == [("fresh",)]


def test_concurrent_first_use_of_one_jti_wins_once(store: Store) -> None:
    results = run_threads(8, lambda _: store.remember_jti("aud", "race", 500.0, 100.0))
    assert sorted(results) == [False] * 7 + [True]


# quotas


def test_quota_counts_up_to_the_limit(store: Store) -> None:
    results = [store.consume_quota("330000", "2025-06-01", 3) for _ in range(5)]
    assert results == [
        QuotaResult(True, 1, 3),
        QuotaResult(True, 2, 3),
        QuotaResult(True, 3, 3),
        QuotaResult(False, 3, 3),
        QuotaResult(False, 3, 3),
    ]


def test_quota_buckets_and_periods_are_separate(store: Store) -> None:
    assert store.consume_quota("330000", "d1", 1).allowed
    assert not store.consume_quota("330000", "d1", 1).allowed
    assert store.consume_quota("330000", "d2", 1) == QuotaResult(True, 1, 1)
    assert store.consume_quota("320000", "d1", 1) == QuotaResult(True, 1, 1)
    # a raised limit lets the same counter go on
    assert store.consume_quota("330000", "d1", 2) == QuotaResult(True, 2, 2)


def test_quota_used_reads_the_counter_without_consuming(store: Store) -> None:
    assert store.quota_used("330000", "d1") == 0
    for _ in range(3):
        store.consume_quota("330000", "d1", 2)
    assert store.quota_used("330000", "d1") == 2
    assert store.quota_used("330000", "d1") == 2  # reading counts nothing
    assert store.quota_used("330000", "d2") == 0


def test_zero_quota_refuses_without_counting(store: Store) -> None:
    assert store.consume_quota("b", "p", 0) == QuotaResult(False, 0, 0)
    assert store.consume_quota("b", "p", 1) == QuotaResult(True, 1, 1)


def test_concurrent_consumers_never_exceed_the_limit(store: Store, backend: Backend) -> None:
    other = backend.open()  # a second store on the same database stands in for another process
    try:

        def consume(worker: int) -> int:
            target = other if worker % 2 else store
            return sum(target.consume_quota("hub", "p", 50).allowed for _ in range(15))

        assert sum(run_threads(8, consume)) == 50
        assert store.consume_quota("hub", "p", 50) == QuotaResult(False, 50, 50)
    finally:
        other.close()


# audit log


def test_commit_observer_is_told_of_each_group_commit(store: Store) -> None:
    seen: list[tuple[int, float]] = []
    store.observe_commits(lambda writes, seconds: seen.append((writes, seconds)))
    assert store.remember_jti("aud", "j1", 2000.0, 1000.0, draft(1))
    assert len(seen) == 1 and seen[0][0] == 1 and seen[0][1] >= 0
    store.observe_commits(None)
    assert store.remember_jti("aud", "j2", 2000.0, 1000.0, draft(2))
    assert len(seen) == 1


def test_empty_log_head_is_genesis(store: Store) -> None:
    assert store.audit_head() == (0, GENESIS_HASH)
    assert list(store.audit_entries()) == []


def test_append_links_entries_into_a_chain(store: Store) -> None:
    records = [store.append_audit(draft(i)) for i in range(5)]
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    assert store.audit_head() == (5, records[-1].hash)
    read = list(store.audit_entries())
    assert [r.to_dict() for r in read] == [r.to_dict() for r in records]
    report = verify_chain(read)
    assert report.ok and report.entries == 5 and report.head_hash == records[-1].hash


def test_entries_after_seq_and_limit(store: Store) -> None:
    for i in range(7):
        store.append_audit(draft(i))
    assert [r.seq for r in store.audit_entries(after_seq=4)] == [5, 6, 7]
    assert [r.seq for r in store.audit_entries(after_seq=2, limit=3)] == [3, 4, 5]
    assert list(store.audit_entries(after_seq=7)) == []
    assert list(store.audit_entries(limit=0)) == []


def test_long_log_is_read_across_pages(store: Store) -> None:
    for i in range(1203):
        store.append_audit(AuditDraft(float(i), "a", "b", "ok"))
    assert verify_chain(store.audit_entries()).entries == 1203
    assert [r.seq for r in store.audit_entries(after_seq=499, limit=502)][::501] == [500, 1001]


def test_concurrent_appends_keep_a_valid_chain(store: Store, backend: Backend) -> None:
    other = backend.open()
    try:

        def append(worker: int) -> list[int]:
            target = other if worker % 2 else store
            return [target.append_audit(draft(worker * 100 + n)).seq for n in range(20)]

        seqs = sorted(s for batch in run_threads(6, append) for s in batch)
        assert seqs == list(range(1, 121))
        report = verify_chain(store.audit_entries())
        assert report.ok and report.entries == 120
    finally:
        other.close()


@pytest.mark.parametrize(
    ("statement", "bad_seq"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3),
        ("UPDATE audit_log SET outcome = 'granted' WHERE seq = 2", 2),
        ("UPDATE audit_log SET detail = '{\"i\":99}' WHERE seq = 4", 4),
        ("UPDATE audit_log SET time = time + 1 WHERE seq = 1", 1),
        ("DELETE FROM audit_log WHERE seq = 2", 3),
    ],
)
def test_tampering_with_a_row_is_detected(
    store: Store, backend: Backend, statement: str, bad_seq: int
) -> None:
    for i in range(5):
        store.append_audit(draft(i))
    backend.raw(statement)
    report = verify_chain(store.audit_entries())
    assert not report.ok
    assert report.first_bad_seq == bad_seq


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(detail=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_audit_detail_round_trips_exactly(store: Store, detail: dict[str, Any]) -> None:
    record = store.append_audit(AuditDraft(1.5, "310000", "licence.present", "ok", "x", detail))
    (read,) = store.audit_entries(after_seq=record.seq - 1, limit=1)
    assert canonical_json(read.detail) == canonical_json(detail)
    assert read == AuditRecord(**{**record.to_dict(), "detail": read.detail})
    recomputed = entry_hash(
        read.seq,
        read.prev_hash,
        read.time,
        read.actor,
        read.action,
        read.outcome,
        read.subject,
        read.detail,
    )
    assert recomputed == read.hash


@pytest.mark.parametrize(
    "detail", [{"x": math.nan}, {"x": math.inf}, {"x": {1, 2}}, {"x": object()}]
)
def test_non_json_detail_is_refused_without_appending(store: Store, detail: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        store.append_audit(AuditDraft(1.0, "a", "b", "c", detail=detail))
    assert store.audit_head() == (0, GENESIS_HASH)


# lifetime


def test_everything_survives_reopening(backend: Backend) -> None:
    first = backend.open()
    first.add_subject(subject())
    first.put_face_template("310101199001011234", [0.25, 0.75])
    first.add_session(session("a"))
    first.revoke_session("a", 1100.0)
    first.remember_jti("aud", "j", 500.0, 100.0)
    first.consume_quota("b", "p", 5)
    records = [first.append_audit(draft(i, nested={"k": [1, 2.5, None]})) for i in range(3)]
    first.close()

    second = backend.open()
    try:
        assert second.get_subject("310101199001011234") == subject()
        assert second.get_face_template("310101199001011234") == [0.25, 0.75]
        assert second.get_session("a") == session("a", revoked_at=1100.0)
        assert second.remember_jti("aud", "j", 500.0, 101.0) is False
        assert second.consume_quota("b", "p", 5) == QuotaResult(True, 2, 5)
        assert second.audit_head() == (3, records[-1].hash)
        assert second.append_audit(draft(3)).prev_hash == records[-1].hash
        assert verify_chain(second.audit_entries()).entries == 4
    finally:
        second.close()


def test_schema_version_is_recorded_and_a_newer_one_refused(backend: Backend) -> None:
    backend.open().close()
    assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    backend.raw("UPDATE schema_version SET version = 99")
    with pytest.raises(FailedPrecondition, match="newer"):
        backend.open()


def test_a_closed_store_refuses_calls_and_closes_twice(backend: Backend) -> None:
    opened = backend.open()
    opened.close()
    opened.close()
    with pytest.raises(FailedPrecondition):
        opened.get_subject("x")
    with pytest.raises(FailedPrecondition):
        list(opened.audit_entries())


# URLs and the public API


def test_public_api_is_sorted_and_complete() -> None:
    assert storage.__all__ == sorted(storage.__all__)
    assert set(storage.__all__) == {
        "CaseEvent",
        "CaseRating",
        "CaseRecord",
        "CaseStep",
        "LicenceRecord",
        "PostgresStore",
        "QuotaResult",
        "Revocation",
        "SessionRecord",
        "SqliteStore",
        "Store",
        "SubjectHome",
        "SubjectRecord",
        "WouldWait",
        "default_sqlite_url",
        "open_store",
    }
    for name in storage.__all__:
        assert getattr(storage, name) is not None


def test_memory_sqlite_url_opens_a_private_store() -> None:
    first = open_store("sqlite:///:memory:")
    second = open_store("sqlite:///:memory:")
    try:
        first.add_subject(subject())
        assert second.get_subject(subject().subject_id) is None
    finally:
        first.close()
        second.close()


def test_sqlite_url_path_and_synchronous(tmp_path: Any) -> None:
    url = storage.default_sqlite_url(tmp_path / "dir with space%")
    assert url.startswith("sqlite:///") and url.endswith("/node.sqlite3")
    (tmp_path / "dir with space%").mkdir()
    for query, mode in [
        ("", "normal"),
        ("?synchronous=full", "full"),
        ("?synchronous=NORMAL", "normal"),
    ]:
        opened = open_store(url + query)
        assert isinstance(opened, storage.SqliteStore)
        assert opened.synchronous == mode
        assert opened.path == str((tmp_path / "dir with space%" / "node.sqlite3").resolve())
        opened.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/db", "accepted: sqlite:///"),
        ("", "without a scheme"),
        ("/var/lib/node.sqlite3", "without a scheme"),
        ("sqlite://host/node.sqlite3", "no host"),
        ("sqlite://", "needs a file path"),
        ("sqlite:///", "needs a file path"),
        ("sqlite:///tmp/x.sqlite3?synchronous=off", "normal' or 'full"),
        ("sqlite:///tmp/x.sqlite3?journal=delete", "unknown SQLite store URL parameter"),
        ("postgresql://127.0.0.1/test?schema=Node1", "schema must be"),
        ("postgresql://127.0.0.1/test?schema=node-1", "schema must be"),
        ("postgresql://127.0.0.1/test?schema=pg_node", "schema must be"),
        ("postgresql://127.0.0.1/test?schema=" + "n" * 64, "schema must be"),
        ("postgresql://127.0.0.1/test?schema=a&schema=b", "at most once"),
        ("postgres://127.0.0.1/test?schema=a&bogus=1", "invalid PostgreSQL store URL"),
    ],
)
def test_bad_store_urls_are_invalid_arguments(url: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        open_store(url)


def test_unreachable_postgres_is_unavailable() -> None:
    from federation.errors import Unavailable

    with pytest.raises(Unavailable, match="unreachable"):
        open_store("postgres://postgres@127.0.0.1:1/test?schema=x&connect_timeout=2")


@pytest.mark.postgres
def test_stores_in_one_database_are_isolated_by_schema(
    postgres_url_factory: Callable[[], str],
) -> None:
    first, second = open_store(postgres_url_factory()), open_store(postgres_url_factory())
    try:
        first.add_subject(subject())
        first.append_audit(draft())
        assert second.get_subject(subject().subject_id) is None
        assert second.audit_head() == (0, GENESIS_HASH)
    finally:
        first.close()
        second.close()


def test_sqlite_busy_timeout_and_wal_are_set(tmp_path: Any) -> None:
    import sqlite3

    opened = open_store(storage.default_sqlite_url(tmp_path))
    opened.close()
    with sqlite3.connect(tmp_path / "node.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_store_is_usable_from_many_threads_at_once(store: Store) -> None:
    barrier = threading.Barrier(6)

    def work(worker: int) -> None:
        barrier.wait()
        for n in range(10):
            sid = f"{worker}-{n}"
            store.add_session(session(sid))
            assert store.get_session(sid) == session(sid)
            assert store.remember_jti("aud", sid, 500.0, 100.0)

    run_threads(6, work)
    assert all(store.get_session(f"{w}-{n}") for w in range(6) for n in range(10))
