"""Store contract for writes that commit with their audit entry, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from store_builders import case, event, licence, outcome, run_threads

from federation.audit import GENESIS_HASH, AuditDraft, verify_chain
from federation.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from federation.storage import CaseStep, PostgresStore, Store, WouldWait

if TYPE_CHECKING:
    from tests._support.storage import Backend

FROZEN = "the audit log is read-only"


def issued(n: int) -> AuditDraft:
    return AuditDraft(1_700_000_000.0 + n, "op", "licence.issue", "granted", "h", {"n": n})


def verified(jti: str) -> AuditDraft:
    return AuditDraft(1_700_000_000.0, "330000", "token.verify", "granted", "s", {"j": jti})


def freeze_audit(backend: Backend) -> None:
    """Make every insert into the audit log fail, as a full disk or revoked grant would."""
    if backend.name == "sqlite":
        backend.raw(
            "CREATE TRIGGER audit_frozen BEFORE INSERT ON audit_log"
            f" BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"
        )
        return
    backend.raw(
        "CREATE FUNCTION audit_frozen() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN RAISE EXCEPTION '{FROZEN}'; END $$"
    )
    backend.raw(
        "CREATE TRIGGER audit_frozen BEFORE INSERT ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_frozen()"
    )


def thaw_audit(backend: Backend) -> None:
    backend.raw("DROP TRIGGER audit_frozen" + ("" if backend.name == "sqlite" else " ON audit_log"))


def test_an_issued_licence_commits_with_its_entry(store: Store) -> None:
    assert store.add_licence(licence(1), audit=issued(1)) == (licence(1), True)
    (entry,) = store.audit_entries()
    assert (entry.seq, entry.action, entry.detail) == (1, "licence.issue", {"n": 1})
    assert store.add_licence(licence(1), audit=issued(2)) == (licence(1), False)
    assert store.audit_head()[0] == 1  # a retry appends nothing: the caller audits it
    with pytest.raises(AlreadyExists):
        store.add_licence(replace(licence(1), request_hash="other"), audit=issued(3))
    assert store.audit_head()[0] == 1
    store.append_audit(issued(4))
    store.add_licence(licence(2), audit=issued(5))
    assert [e.detail["n"] for e in store.audit_entries()] == [1, 4, 5]
    assert verify_chain(store.audit_entries()).ok


def test_a_first_sighting_commits_with_its_entry_and_a_replay_appends_nothing(
    store: Store,
) -> None:
    assert store.remember_jti("aud", "j1", 500.0, 100.0, audit=verified("j1")) is True
    assert store.remember_jti("aud", "j1", 500.0, 101.0, audit=verified("j1")) is False
    assert store.remember_jti("aud", "j2", 500.0, 102.0) is True
    assert [e.detail for e in store.audit_entries()] == [{"j": "j1"}]


def test_a_licence_whose_entry_cannot_be_written_is_not_stored(
    store: Store, backend: Backend
) -> None:
    store.append_audit(issued(0))
    head = store.audit_head()
    freeze_audit(backend)
    with pytest.raises(Unavailable, match="the audit log cannot be written; nothing was granted"):
        store.add_licence(replace(licence(1), parties=("x",)), audit=issued(1))
    assert store.get_licence(licence(1).identifier) is None
    assert store.licences_of_holder("x") == []
    assert store.status_entries() == []
    assert store.audit_head() == head
    thaw_audit(backend)
    assert store.add_licence(licence(1), audit=issued(1)) == (licence(1), True)
    assert store.audit_head()[0] == 2 and verify_chain(store.audit_entries()).ok


def test_a_jti_whose_entry_cannot_be_written_stays_unused(store: Store, backend: Backend) -> None:
    freeze_audit(backend)
    with pytest.raises(Unavailable, match="nothing was granted"):
        store.remember_jti("aud", "j1", 500.0, 100.0, audit=verified("j1"))
    assert store.audit_head() == (0, GENESIS_HASH)
    thaw_audit(backend)
    assert store.remember_jti("aud", "j1", 500.0, 100.0, audit=verified("j1")) is True
    assert store.remember_jti("aud", "j1", 500.0, 100.0) is False
    assert verify_chain(store.audit_entries()).entries == 1


def test_audited_and_plain_appends_from_two_stores_keep_one_chain(
    store: Store, backend: Backend
) -> None:
    other = backend.open()
    try:

        def work(worker: int) -> int:
            target = other if worker % 2 else store
            for n in range(12):
                k = worker * 100 + n
                if n % 3 == 0:
                    target.add_licence(licence(k), audit=issued(k))
                elif n % 3 == 1:
                    target.remember_jti("aud", f"j{k}", 500.0, 100.0, audit=verified(f"j{k}"))
                else:
                    target.append_audit(issued(k))
            return worker

        run_threads(6, work)
        report = verify_chain(store.audit_entries())
        assert report.ok and report.entries == 72
        issued_entries = {e.detail["n"] for e in store.audit_entries() if "n" in e.detail}
        for worker in range(6):
            for n in range(0, 12, 3):
                k = worker * 100 + n
                assert store.get_licence(licence(k).identifier) is not None
                assert k in issued_entries
        # the cached head of each store still links correctly after the other's appends
        assert store.append_audit(issued(9999)).seq == 73
        assert other.append_audit(issued(9998)).seq == 74
        assert verify_chain(other.audit_entries()).ok
    finally:
        other.close()


def moved(to: str) -> AuditDraft:
    return AuditDraft(1_700_000_000.0, "320000", f"case.{to}", "granted", "s", {"to": to})


def test_a_case_and_its_transitions_commit_with_their_entries(store: Store) -> None:
    assert store.create_case(case(), event(), audit=moved("submit"))[1] is True
    assert store.create_case(case(), event(), audit=moved("again"))[1] is False
    store.transition_case("c1", 1, "accepted", {}, event(to_state="accepted"), moved("accept"))
    with pytest.raises(FailedPrecondition):  # a stale version moves nothing and logs nothing
        store.transition_case("c1", 1, "review", {}, event(to_state="review"), moved("stale"))
    assert [e.detail["to"] for e in store.audit_entries()] == ["submit", "accept"]
    assert verify_chain(store.audit_entries()).ok


def test_a_case_move_whose_entry_cannot_be_written_does_not_happen(
    store: Store, backend: Backend
) -> None:
    store.create_case(case(), event(), audit=moved("submit"))
    freeze_audit(backend)
    with pytest.raises(Unavailable, match="nothing was granted"):
        store.create_case(case("c2"), event("c2"), audit=moved("submit"))
    with pytest.raises(Unavailable, match="nothing was granted"):
        store.transition_case("c1", 1, "accepted", {"x": 1}, event(to_state="accepted"), moved("a"))
    thaw_audit(backend)
    assert store.get_case("c2") is None and store.case_events("c2") == []
    stored = store.get_case("c1")
    assert stored is not None and (stored.version, stored.state) == (1, "submitted")
    assert len(store.case_events("c1")) == 1
    assert store.audit_head()[0] == 1


def test_the_same_tokens_raced_through_two_stores_are_each_accepted_once(
    store: Store, backend: Backend
) -> None:
    """Two processes (worker processes, replicas) verifying the same tokens in opposite orders:
    each audited acceptance waits on nothing the other holds, so none fails (no deadlock)."""
    other = backend.open()
    jtis = [f"race-{n}" for n in range(60)]
    try:

        def verify(worker: int) -> list[object]:
            target, order = (other, jtis[::-1]) if worker % 2 else (store, jtis)
            # a strided pass, then every token: batches of one store hold tokens the other
            # store's open batches hold too, in the opposite order (PostgreSQL without the
            # advisory lock answers some of them "deadlock detected")
            return [
                outcome(lambda j=j: target.remember_jti("aud", j, 500.0, 100.0, verified(j)))
                for j in order[worker // 2 :: 3]
            ] + [
                outcome(lambda j=j: target.remember_jti("aud", j, 500.0, 100.0, verified(j)))
                for j in order
            ]

        results = [r for batch in run_threads(6, verify) for r in batch]
        assert [r for r in results if not isinstance(r, bool)] == []  # no store failed
        assert results.count(True) == len(jtis)  # each token accepted exactly once
        entries = list(store.audit_entries())
        assert verify_chain(entries).ok
        assert sorted(e.detail["j"] for e in entries) == sorted(jtis)
    finally:
        other.close()


def step(to: str, data: dict[str, object] | None = None, **audit_detail: object) -> CaseStep:
    """A step to `to` whose entry's detail is {"to": to} (plus `audit_detail`)."""
    draft = replace(moved(to), detail={"to": to, **audit_detail})
    return CaseStep(to, data or {"at": to}, event(to_state=to, detail={"step": to}), draft)


def test_steps_file_in_order_each_with_its_event_and_entry(store: Store) -> None:
    stored, created = store.create_case(
        case(), event(), audit=moved("submit"), then=[step("accepted")]
    )
    assert created and (stored.state, stored.version, stored.data) == (
        "accepted",
        2,
        {"at": "accepted"},
    )
    moved_case = store.advance_case(
        "c1", 2, [step("approved"), step("result_issued"), step("closed")]
    )
    assert (moved_case.state, moved_case.version) == ("closed", 5)
    assert moved_case == store.get_case("c1")
    events = store.case_events("c1")
    assert [(e.seq, e.to_state) for e in events] == [
        (1, "submitted"),
        (2, "accepted"),
        (3, "approved"),
        (4, "result_issued"),
        (5, "closed"),
    ]
    assert [e.detail["to"] for e in store.audit_entries()] == [
        "submit",
        "accepted",
        "approved",
        "result_issued",
        "closed",
    ]
    assert verify_chain(store.audit_entries()).ok


def test_a_retried_creation_files_none_of_its_steps(store: Store) -> None:
    store.create_case(case(), event(), audit=moved("submit"), then=[step("accepted")])
    again, created = store.create_case(
        case(), event(), audit=moved("again"), then=[step("accepted")]
    )
    assert not created and (again.state, again.version) == ("accepted", 2)
    assert len(store.case_events("c1")) == 2
    assert [e.detail["to"] for e in store.audit_entries()] == ["submit", "accepted"]


def test_a_stale_or_unknown_case_advances_not_at_all(store: Store) -> None:
    store.create_case(case(), event(), audit=moved("submit"))
    with pytest.raises(FailedPrecondition):
        store.advance_case("c1", 2, [step("accepted"), step("closed")])
    with pytest.raises(NotFound):
        store.advance_case("nope", 1, [step("accepted")])
    with pytest.raises(InvalidArgument):
        store.advance_case("c1", 1, [])
    stored = store.get_case("c1")
    assert stored is not None and (stored.state, stored.version) == ("submitted", 1)
    assert len(store.case_events("c1")) == 1 and store.audit_head()[0] == 1


def test_a_step_that_fails_midway_leaves_nothing_of_any_step(store: Store) -> None:
    """The second step's entry cannot be hashed: the first step, already written in the same
    transaction, rolls back with it (nothing half-filed, no entry without its transition)."""
    store.create_case(case(), event(), audit=moved("submit"))
    broken = step("result_issued", unhashable=object())
    with pytest.raises(InvalidArgument):
        store.advance_case("c1", 1, [step("approved"), broken, step("closed")])
    with pytest.raises(InvalidArgument):
        store.create_case(case("c2"), event("c2"), audit=moved("submit"), then=[broken])
    assert store.get_case("c2") is None and store.case_events("c2") == []
    stored = store.get_case("c1")
    assert stored is not None and (stored.state, stored.version) == ("submitted", 1)
    assert len(store.case_events("c1")) == 1
    assert [e.detail["to"] for e in store.audit_entries()] == ["submit"]
    # the store is still usable, and the chain unbroken
    assert store.advance_case("c1", 1, [step("approved")]).version == 2
    assert verify_chain(store.audit_entries()).ok


def test_steps_whose_entries_cannot_be_written_do_not_happen(
    store: Store, backend: Backend
) -> None:
    store.create_case(case(), event(), audit=moved("submit"))
    freeze_audit(backend)
    with pytest.raises(Unavailable, match="nothing was granted"):
        store.advance_case("c1", 1, [step("approved"), step("closed")])
    with pytest.raises(Unavailable, match="nothing was granted"):
        store.create_case(case("c2"), event("c2"), then=[step("accepted")])
    thaw_audit(backend)
    assert store.get_case("c2") is None and store.case_events("c2") == []
    stored = store.get_case("c1")
    assert stored is not None and (stored.state, stored.version) == ("submitted", 1)
    assert len(store.case_events("c1")) == 1 and store.audit_head()[0] == 1


def test_without_waiting_a_busy_store_refuses_before_writing(store: Store) -> None:
    """On SQLite a call made while another thread holds the connection raises WouldWait and
    writes nothing; PostgreSQL (every call a round trip) says it cannot take calls so."""
    store.create_case(case(), event(), audit=moved("submit"))
    with store.without_waiting() as inline:
        if not inline:
            assert isinstance(store, PostgresStore)
            return
        assert store.get_case("c1") is not None  # free: served on this thread
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store._connection():  # type: ignore[attr-defined]
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(10)
        with store.without_waiting(), pytest.raises(WouldWait):
            store.advance_case("c1", 1, [step("accepted")])
        with store.without_waiting(), pytest.raises(WouldWait):
            store.append_audit(moved("never"))
    finally:
        release.set()
        holder.join()
    stored = store.get_case("c1")  # waits again outside the block
    assert stored is not None and (stored.state, stored.version) == ("submitted", 1)
    assert [e.detail["to"] for e in store.audit_entries()] == ["submit"]
    with store.without_waiting():
        assert store.advance_case("c1", 1, [step("accepted")]).version == 2
