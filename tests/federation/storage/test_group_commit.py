"""Group commit: shared transactions, per-caller results only after commit, exact replay checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from store_builders import run_threads

from federation.audit import AuditDraft, verify_chain
from federation.crypto.jose import canonical_text
from federation.errors import FailedPrecondition, InvalidArgument, Unavailable
from federation.storage import SqliteStore, Store, default_sqlite_url
from federation.storage.group_commit import GroupCommit


def _wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


class FakeDatabase:
    """Transactions over a list; the first one can be held open so others queue behind it."""

    def __init__(self, fail_commit: bool = False) -> None:
        self.committed: list[Any] = []
        self.transactions = 0
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.fail_commit = fail_commit

    @contextmanager
    def transaction(self) -> Iterator[list[Any]]:
        self.transactions += 1
        self.entered.set()
        self.hold.wait()
        pending: list[Any] = []
        yield pending
        if self.fail_commit:
            raise OSError("disk full")
        self.committed.extend(pending)


def _queue_length(group: GroupCommit[Any]) -> int:
    return len(group._queue)


def _held_batch(
    db: FakeDatabase, group: GroupCommit[list[Any]], ops: list[Callable[[list[Any]], Any]]
) -> list[Any]:
    """Run ops[0] as a lone leader held in its transaction while the rest queue behind it."""
    db.hold.clear()
    results: list[Any] = [None] * len(ops)

    def call(i: int) -> None:
        try:
            results[i] = group.submit(ops[i])
        except Exception as exc:
            results[i] = exc

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert db.entered.wait(10)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, len(ops))]
    for thread in others:
        thread.start()
    _wait_until(lambda: _queue_length(group) == len(ops) - 1)
    db.hold.set()
    for thread in [first, *others]:
        thread.join(10)
    return results


def _put(value: int) -> Callable[[list[Any]], int]:
    def op(pending: list[Any]) -> int:
        pending.append(value)
        return value * 10

    return op


def test_a_lone_write_commits_in_its_own_transaction() -> None:
    db = FakeDatabase()
    group: GroupCommit[list[Any]] = GroupCommit(db.transaction, lambda exc: False)
    assert group.submit(_put(1)) == 10
    assert db.committed == [1] and group.batches == 1


def test_writers_queued_behind_a_batch_share_the_next_transaction() -> None:
    db = FakeDatabase()
    group: GroupCommit[list[Any]] = GroupCommit(db.transaction, lambda exc: False)
    results = _held_batch(db, group, [_put(i) for i in range(8)])
    assert results == [i * 10 for i in range(8)]
    assert sorted(db.committed) == list(range(8))
    assert db.transactions == 2 and group.largest_batch == 7


def test_batches_are_bounded() -> None:
    db = FakeDatabase()
    group: GroupCommit[list[Any]] = GroupCommit(db.transaction, lambda exc: False, max_batch=3)
    results = _held_batch(db, group, [_put(i) for i in range(8)])
    assert results == [i * 10 for i in range(8)]
    assert db.transactions == 1 + 3 and group.largest_batch == 3  # 1, then 3 + 3 + 1


def test_an_operations_own_error_is_its_alone() -> None:
    db = FakeDatabase()
    group: GroupCommit[list[Any]] = GroupCommit(db.transaction, lambda exc: False)

    def bad(pending: list[Any]) -> int:
        pending.append("half-written")
        raise InvalidArgument("cannot encode")

    ops = [_put(0), _put(1), bad, _put(3)]
    results = _held_batch(db, group, ops)
    assert results[:2] == [0, 10] and results[3] == 30
    assert isinstance(results[2], InvalidArgument)
    assert sorted(db.committed) == [0, 1, 3]  # the failed operation's write was rolled back


def test_a_store_failure_fails_the_whole_batch_and_acknowledges_nothing() -> None:
    db = FakeDatabase()
    group: GroupCommit[list[Any]] = GroupCommit(
        db.transaction, lambda exc: isinstance(exc, Unavailable)
    )

    def broken(pending: list[Any]) -> int:
        raise Unavailable("audit log not writable")

    results = _held_batch(db, group, [_put(0), _put(1), broken, _put(3)])
    assert results[0] == 0
    assert all(isinstance(r, Unavailable) for r in results[1:])
    assert db.committed == [0]


def test_a_failed_commit_acknowledges_no_write_of_its_batch() -> None:
    db = FakeDatabase(fail_commit=True)
    group: GroupCommit[list[Any]] = GroupCommit(db.transaction, lambda exc: False)
    results = _held_batch(db, group, [_put(i) for i in range(5)])
    assert all(isinstance(r, OSError) for r in results)
    assert db.committed == []
    db.fail_commit = False
    assert group.submit(_put(9)) == 90  # the lead was released: the next writer leads


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore.from_url(default_sqlite_url(tmp_path))
    yield store
    store.close()


def _draft(jti: str) -> AuditDraft:
    return AuditDraft(1.0, "region", "identity.verify_token", "granted", "s", {"jti": jti})


def _group_and_gate(store: Store) -> tuple[GroupCommit[Any], Any]:
    """The store's group committer of audited jtis, and the lock each of its batches takes."""
    if isinstance(store, SqliteStore):
        return store._group, store._lock
    return store._jti_group, store._audit_lock  # type: ignore[attr-defined]


def test_two_uses_of_one_jti_in_one_batch_accept_exactly_one(store: Store) -> None:
    group, gate = _group_and_gate(store)
    results: list[bool] = []
    lock = threading.Lock()

    def use(_: int) -> None:
        first = store.remember_jti("aud", "same", 500.0, 100.0, audit=_draft("same"))
        with lock:
            results.append(first)

    # hold what a batch's transaction needs, so one leader waits while 15 writers queue behind
    with gate:
        leader = threading.Thread(target=use, args=(0,))
        leader.start()
        _wait_until(lambda: group._leading and not group._queue)  # took itself
        rest = [threading.Thread(target=use, args=(i,)) for i in range(1, 16)]
        for thread in rest:
            thread.start()
        _wait_until(lambda: len(group._queue) == 15)
    for thread in [leader, *rest]:
        thread.join(10)
    assert sorted(results) == [False] * 15 + [True]
    assert group.largest_batch == 15  # the 15 followers went in one transaction
    entries = list(store.audit_entries())
    assert len(entries) == 1 and verify_chain(entries).ok


def test_sixteen_threads_racing_on_shared_jtis_accept_each_once(store: Store) -> None:
    jtis = [f"j{n}" for n in range(100)]

    def race(worker: int) -> list[tuple[str, bool]]:
        # every jti is tried by every thread, in an order that differs per thread
        order = jtis[worker:] + jtis[:worker]
        return [(j, store.remember_jti("aud", j, 500.0, 100.0, audit=_draft(j))) for j in order]

    outcomes = [pair for per_thread in run_threads(16, race) for pair in per_thread]
    accepted = sorted(j for j, first in outcomes if first)
    assert accepted == sorted(jtis)
    entries = list(store.audit_entries())
    assert verify_chain(entries).ok
    assert sorted(e.detail["jti"] for e in entries) == sorted(jtis)


def test_an_unencodable_entry_leaves_its_jti_unused_and_others_written(store: Store) -> None:
    bad = AuditDraft(1.0, "a", "b", "granted", "s", {"x": float("nan")})
    with pytest.raises(InvalidArgument):
        store.remember_jti("aud", "bad", 500.0, 100.0, audit=bad)
    assert store.remember_jti("aud", "bad", 500.0, 100.0, audit=_draft("bad")) is True
    assert [e.detail for e in store.audit_entries()] == [{"jti": "bad"}]


def test_wal_checkpoints_run_in_the_background_not_in_commits(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    with store._connection() as conn:
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    checkpointer = store._checkpointer
    assert checkpointer is not None
    for n in range(300):  # past CHECKPOINT_AFTER_COMMITS: the thread is woken
        store.remember_jti("aud", f"j{n}", 500.0, 100.0, audit=_draft(f"j{n}"))
    _wait_until(lambda: checkpointer.checkpoints >= 1)
    with store._connection() as conn:  # a PASSIVE checkpoint copied the WAL into the file
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and copied == frames
    store.close()
    assert not checkpointer._thread.is_alive()
    reopened = SqliteStore(store.path)
    try:
        assert len(list(reopened.audit_entries())) == 300
        assert verify_chain(list(reopened.audit_entries())).ok
    finally:
        reopened.close()


def test_an_in_memory_store_has_no_checkpointer() -> None:
    store = SqliteStore(":memory:")
    try:
        assert store._checkpointer is None
        assert store.remember_jti("aud", "j", 500.0, 100.0, audit=_draft("j")) is True
    finally:
        store.close()


def test_try_submit_writes_at_once_only_when_nothing_would_wait() -> None:
    db = FakeDatabase()
    group: GroupCommit[list[Any]] = GroupCommit(db.transaction, lambda exc: False)
    assert group.try_submit(_put(1), db.transaction) == (True, 10)
    assert group.try_submit(_put(2), lambda: None) == (False, None)  # the database would wait
    assert db.committed == [1] and not group._leading
    with pytest.raises(ValueError):  # an operation's error is raised, and nothing commits
        group.try_submit(lambda pending: int("x"), db.transaction)
    assert db.committed == [1] and not group._leading
    db.hold.clear()  # a batch in progress: try_submit leaves the write for a waiting thread
    writer = threading.Thread(target=group.submit, args=(_put(3),))
    writer.start()
    assert db.entered.wait(10)
    assert group.try_submit(_put(4), db.transaction) == (False, None)
    db.hold.set()
    writer.join(10)
    assert db.committed == [1, 3]


def test_try_submit_hands_the_lead_to_writers_that_queued_meanwhile() -> None:
    db = FakeDatabase()
    group: GroupCommit[list[Any]] = GroupCommit(db.transaction, lambda exc: False)
    queued: list[threading.Thread] = []

    def op(pending: list[Any]) -> int:  # while this runs alone, another writer queues
        queued.append(threading.Thread(target=group.submit, args=(_put(2),)))
        queued[0].start()
        _wait_until(lambda: _queue_length(group) == 1)
        pending.append(1)
        return 1

    assert group.try_submit(op, db.transaction) == (True, 1)
    queued[0].join(10)
    assert db.committed == [1, 2] and not group._leading


def test_remember_jti_now_is_remember_jti_unless_it_would_wait(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    assert store.remember_jti_now("aud", "j1", 500.0, 100.0, audit=_draft("j1")) is True
    assert store.remember_jti_now("aud", "j1", 500.0, 100.0, audit=_draft("j1")) is False
    with store._lock:  # another thread holds the connection: nothing is written here
        assert store.remember_jti_now("aud", "j2", 500.0, 100.0, audit=_draft("j2")) is None
    assert store.remember_jti("aud", "j2", 500.0, 100.0, audit=_draft("j2")) is True
    entries = list(store.audit_entries())
    assert [e.detail["jti"] for e in entries] == ["j1", "j2"] and verify_chain(entries).ok


def test_remember_jti_now_never_fsyncs_on_the_caller(tmp_path: Path) -> None:
    store = SqliteStore.from_url(default_sqlite_url(tmp_path) + "?synchronous=full")
    try:
        assert store.remember_jti_now("aud", "j1", 500.0, 100.0) is None
        assert list(store.audit_entries()) == []
        assert store.remember_jti("aud", "j1", 500.0, 100.0) is True
    finally:
        store.close()


def _connection_is_free(store: SqliteStore) -> bool:
    if not store._lock.acquire(blocking=False):
        return False
    store._lock.release()
    return True


def test_an_inline_write_refused_rolls_back_and_frees_the_connection(
    sqlite_store: SqliteStore,
) -> None:
    store = sqlite_store
    bad = AuditDraft(1.0, "a", "b", "granted", "s", {"x": float("inf")})
    with pytest.raises(InvalidArgument):
        store.remember_jti_now("aud", "j1", 500.0, 100.0, audit=bad)
    assert _connection_is_free(store)
    # the replay row went with the refused entry: the jti is still unused
    assert store.remember_jti_now("aud", "j1", 500.0, 100.0, audit=_draft("j1")) is True
    assert [e.detail for e in store.audit_entries()] == [{"jti": "j1"}]


def test_an_inline_write_the_database_fails_is_unavailable_and_commits_nothing(
    sqlite_store: SqliteStore,
) -> None:
    store = sqlite_store
    with store._connection() as conn:  # the audit table is gone: the append fails in SQLite
        conn.execute("ALTER TABLE audit_log RENAME TO audit_log_away")
    with pytest.raises(Unavailable):
        store.remember_jti_now("aud", "j1", 500.0, 100.0, audit=_draft("j1"))
    assert _connection_is_free(store)
    with store._connection() as conn:
        assert conn.execute("SELECT count(*) FROM replay_cache").fetchone() == (0,)
        assert not conn.in_transaction
        conn.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
    assert store.remember_jti_now("aud", "j1", 500.0, 100.0, audit=_draft("j1")) is True


def test_an_inline_write_on_a_closed_store_is_refused(tmp_path: Path) -> None:
    store = SqliteStore.from_url(default_sqlite_url(tmp_path))
    store.close()
    with pytest.raises(FailedPrecondition):
        store.remember_jti_now("aud", "j1", 500.0, 100.0, audit=_draft("j1"))
    assert _connection_is_free(store)


def test_an_inline_entry_keeps_its_detail_as_canonical_json(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    detail = {"name": "张三", "jti": "j1", "n": [1, 2.5, None]}
    draft = AuditDraft(1.0, "region", "identity.verify_token", "granted", "s", detail)
    assert store.remember_jti_now("aud", "j1", 500.0, 100.0, audit=draft) is True
    with store._connection() as conn:
        (text,) = conn.execute("SELECT detail FROM audit_log").fetchone()
    assert text == canonical_text(detail)  # the very text the entry's hash covers
    entries = list(store.audit_entries())
    assert [e.detail for e in entries] == [detail] and verify_chain(entries).ok
