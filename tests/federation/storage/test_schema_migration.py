"""A database written by an older store is migrated on open, keeping its data."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import pytest
from store_builders import case, event, licence, rating

from federation.audit import AuditDraft, verify_chain
from federation.errors import NotFound
from federation.storage import SubjectHome, SubjectRecord, postgres_schema, sqlite_schema
from federation.storage.sql_schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from tests._support.storage import Backend


def make_old_database(backend: Backend, version: int) -> None:
    """Create exactly what a store of `version` created: its tables and that version row."""
    if backend.name == "postgresql":
        schema = dict(parse_qsl(urlsplit(backend.url).query))["schema"]
        backend.raw(f"CREATE SCHEMA {schema}")
        steps = postgres_schema.STEPS
    else:
        steps = sqlite_schema.STEPS
    backend.raw("CREATE TABLE schema_version (version integer NOT NULL)")
    for step in steps[:version]:
        for ddl in step:
            backend.raw(ddl)
    backend.raw("INSERT INTO schema_version VALUES (?)", (version,))


def tables(backend: Backend) -> set[str]:
    if backend.name == "sqlite":
        rows = backend.raw("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = backend.raw(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {row[0] for row in rows}


def test_both_backends_are_at_the_same_schema_version() -> None:
    assert sqlite_schema.SCHEMA_VERSION == postgres_schema.SCHEMA_VERSION == SCHEMA_VERSION == 5
    assert len(sqlite_schema.STEPS) == len(postgres_schema.STEPS) == 5


def test_a_version_1_database_is_migrated_on_open(backend: Backend) -> None:
    make_old_database(backend, 1)
    backend.raw(
        "INSERT INTO subjects VALUES (?, ?, ?, ?, ?, ?)",
        ("310101199001011234", "natural", "张三", "310000", "scrypt$abc", 5.0),
    )
    assert "licences" not in tables(backend)

    store = backend.open()
    try:
        assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert {"licences", "licence_parties", "cases", "case_events", "case_ratings"} <= tables(
            backend
        )
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
        assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert reopened.get_case("c1") == moved
        assert verify_chain(reopened.audit_entries()).entries == 1
    finally:
        reopened.close()


def test_a_new_database_gets_every_table_and_one_version_row(backend: Backend) -> None:
    backend.open().close()
    backend.open().close()
    assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    assert {
        "subjects",
        "face_templates",
        "sessions",
        "replay_cache",
        "quotas",
        "audit_log",
        "licences",
        "licence_parties",
        "cases",
        "case_events",
        "case_ratings",
        "subject_homes",
        "schema_version",
    } == tables(backend)


def test_a_version_2_database_is_migrated_on_open(backend: Backend) -> None:
    make_old_database(backend, 2)
    old = licence(1)
    backend.raw(
        "INSERT INTO licences (identifier, request_id, request_hash, type_code, holder_code,"
        " authority_code, sd_jwt, status_index, status, issued_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            old.identifier,
            old.request_id,
            old.request_hash,
            old.type_code,
            old.holder_code,
            old.authority_code,
            old.sd_jwt,
            old.status_index,
            old.status,
            old.issued_at,
            old.updated_at,
        ),
    )
    assert "licence_parties" not in tables(backend)

    store = backend.open()
    try:
        assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert "licence_parties" in tables(backend)
        # a licence issued before parties existed has none, and is still its holder's
        assert store.get_licence(old.identifier) == old
        assert store.licences_of_holder(old.holder_code) == [old]
        assert store.add_licence(old) == (old, False)
        # new licences keep their parties
        new = licence(2, holder_code="91320505MA1XK7Q2XX", parties=(old.holder_code,))
        assert store.add_licence(new) == (new, True)
        assert store.licences_of_holder(old.holder_code) == [old, new]
    finally:
        store.close()

    reopened = backend.open()
    try:
        assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert reopened.get_licence(new.identifier) == new
    finally:
        reopened.close()


def test_a_version_3_database_is_migrated_on_open(backend: Backend) -> None:
    make_old_database(backend, 3)
    backend.raw(
        "INSERT INTO subjects VALUES (?, ?, ?, ?, ?, ?)",
        ("310101199001011234", "natural", "张三", "310000", "scrypt$abc", 5.0),
    )
    assert "subject_homes" not in tables(backend)

    store = backend.open()
    try:
        assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        # a subject registered before home attestations has none (claimed at its next login)
        old = SubjectRecord("310101199001011234", "natural", "张三", "310000", "scrypt$abc", 5.0)
        assert store.get_subject(old.subject_id) == old
        store.set_home_attestation(old.subject_id, "att")
        assert store.get_subject(old.subject_id) == SubjectRecord(
            *(old.subject_id, "natural", "张三", "310000", "scrypt$abc", 5.0, "att")
        )
        with pytest.raises(NotFound):
            store.set_home_attestation("330106198805172315", "att")
        home = SubjectHome(old.subject_id, "natural", "310000", 6.0)
        assert store.claim_home(home) == home
        assert store.get_home(old.subject_id) == home
    finally:
        store.close()

    reopened = backend.open()
    try:
        assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert reopened.get_home(old.subject_id) == home
    finally:
        reopened.close()


def _replay_table_sql(backend: Backend) -> str:
    rows = backend.raw("SELECT sql FROM sqlite_master WHERE name = 'replay_cache'")
    return str(rows[0][0])


def test_a_version_4_database_is_migrated_on_open(backend: Backend) -> None:
    make_old_database(backend, 4)
    backend.raw("INSERT INTO replay_cache VALUES (?, ?, ?)", ("aud", "kept", 500.0))
    backend.raw("INSERT INTO replay_cache VALUES (?, ?, ?)", ("aud", "expired", 50.0))
    if backend.name == "sqlite":
        assert "WITHOUT ROWID" not in _replay_table_sql(backend)

    store = backend.open()
    try:
        assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        if backend.name == "sqlite":  # SQLite's replay cache is keyed by (audience, jti) alone
            assert "WITHOUT ROWID" in _replay_table_sql(backend)
            indexes = backend.raw(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'replay_cache'"
                " AND name NOT LIKE 'sqlite_autoindex%'"
            )
            assert indexes == [("replay_cache_expiry",)]
        # a jti remembered before the migration is still a replay; an expired one is not kept
        assert store.remember_jti("aud", "kept", 500.0, 100.0) is False
        assert store.remember_jti("aud", "fresh", 500.0, 100.0) is True
        assert store.remember_jti("aud", "fresh", 500.0, 100.0) is False
        assert sorted(backend.raw("SELECT jti FROM replay_cache")) == [("fresh",), ("kept",)]
    finally:
        store.close()

    reopened = backend.open()
    try:
        assert backend.raw("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert reopened.remember_jti("aud", "kept", 500.0, 100.0) is False
    finally:
        reopened.close()
