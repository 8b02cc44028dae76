"""A database written by an older store is migrated on open, keeping its data."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from store_builders import case, event, licence, rating

from federation.audit import AuditDraft, verify_chain
from federation.storage import SubjectRecord, postgres_schema, sqlite_schema

if TYPE_CHECKING:
    from conftest import Backend  # tests/federation/storage/conftest.py


def make_v1_database(backend: Backend) -> None:
    """Create exactly what a version 1 store created: its tables and a version row of 1."""
    if backend.name == "postgresql":
        schema = dict(parse_qsl(urlsplit(backend.url).query))["schema"]
        backend.raw(f"CREATE SCHEMA {schema}")
        steps = postgres_schema.STEPS
    else:
        steps = sqlite_schema.STEPS
    backend.raw("CREATE TABLE schema_version (version integer NOT NULL)")
    for ddl in steps[0]:
        backend.raw(ddl)
    backend.raw("INSERT INTO schema_version VALUES (1)")


def tables(backend: Backend) -> set[str]:
    if backend.name == "sqlite":
        rows = backend.raw("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = backend.raw(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {row[0] for row in rows}


def test_both_backends_are_at_the_same_schema_version() -> None:
    assert sqlite_schema.SCHEMA_VERSION == postgres_schema.SCHEMA_VERSION == 2
    assert len(sqlite_schema.STEPS) == len(postgres_schema.STEPS) == 2


def test_a_version_1_database_is_migrated_on_open(backend: Backend) -> None:
    make_v1_database(backend)
    backend.raw(
        "INSERT INTO subjects VALUES (?, ?, ?, ?, ?, ?)",
        ("310101199001011234", "natural", "张三", "310000", "scrypt$abc", 5.0),
    )
    assert "licences" not in tables(backend)

    store = backend.open()
    try:
        assert backend.raw("SELECT version FROM schema_version") == [(2,)]
        assert {"licences", "cases", "case_events", "case_ratings"} <= tables(backend)
        # the old data is intact and the old tables still work
        assert store.get_subject("310101199001011234") == SubjectRecord(
            "310101199001011234", "natural", "张三", "310000", "scrypt$abc", 5.0
        )
        store.append_audit(AuditDraft(1.0, "310000", "migrate", "ok"))
        # and so do the new ones
        assert store.add_licence(licence(1)) == (licence(1), True)
        assert store.add_licence(licence(1)) == (licence(1), False)
        store.set_licence_status(licence(1).identifier, 1, 9.0)
        assert store.status_entries() == [(1, 1)]
        store.create_case(case(), event())
        moved = store.transition_case("c1", 1, "review", {}, event(to_state="review"))
        assert moved.version == 2
        assert [e.seq for e in store.case_events("c1")] == [1, 2]
        store.rate_case(rating())
        assert store.case_ratings() == [rating()]
    finally:
        store.close()

    reopened = backend.open()  # a migrated database opens as it is
    try:
        assert backend.raw("SELECT version FROM schema_version") == [(2,)]
        assert reopened.get_case("c1") == moved
        assert verify_chain(reopened.audit_entries()).entries == 1
    finally:
        reopened.close()


def test_a_new_database_gets_every_table_and_one_version_row(backend: Backend) -> None:
    backend.open().close()
    backend.open().close()
    assert backend.raw("SELECT version FROM schema_version") == [(2,)]
    assert {
        "subjects",
        "face_templates",
        "sessions",
        "replay_cache",
        "quotas",
        "audit_log",
        "licences",
        "cases",
        "case_events",
        "case_ratings",
        "schema_version",
    } == tables(backend)
