"""The shared SQL renders in each dialect, and each dialect turns its driver's errors into ours."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg_pool import PoolClosed, PoolTimeout
from store_builders import licence

from federation.errors import FailedPrecondition, IntegrityError, InvalidArgument, Unavailable
from federation.storage import sql_cases, sql_licences, sql_store
from federation.storage.base import LicenceRecord, Store, SubjectRecord
from federation.storage.postgres import POSTGRES
from federation.storage.sql_dialect import Dialect
from federation.storage.sqlite import SQLITE, SqliteStore

DIALECTS = [SQLITE, POSTGRES]


def shared_statements(*modules: ModuleType) -> list[str]:
    return [
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, str) and value.split(" ", 1)[0] in ("SELECT", "INSERT", "UPDATE")
    ]


# list_cases fills its `{where}` slot itself, before the dialect renders the rest


STATEMENTS = [
    statement.replace("{where}", " WHERE owner_region = ?")
    for statement in shared_statements(sql_store, sql_licences, sql_cases)
]


def test_the_shared_statements_are_found() -> None:
    assert len(STATEMENTS) >= 25


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_every_shared_statement_renders_in_the_dialect(dialect: Dialect) -> None:
    for statement in STATEMENTS:
        rendered = dialect.sql(statement)
        assert "{" not in rendered and "}" not in rendered, rendered
        marks = sum(statement.count(mark) for mark in ("?", "{json}", "{template}"))
        assert rendered.count(dialect.placeholder) == marks, rendered
        assert dialect.sql(statement) is rendered  # rendered once, then cached
    if dialect is POSTGRES:
        assert not any("?" in dialect.sql(s) for s in STATEMENTS)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sqlite3.OperationalError("database is locked"), Unavailable),
        (sqlite3.DatabaseError("file is not a database"), IntegrityError),
        (ValueError("not a driver error"), None),
    ],
)
def test_sqlite_errors_are_translated(error: Exception, expected: type[Exception] | None) -> None:
    translated = SQLITE.translate(error)
    assert translated is None if expected is None else type(translated) is expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PoolClosed("closed"), FailedPrecondition),
        (PoolTimeout("no connection in 10 s"), Unavailable),
        (pg_errors.ProgramLimitExceeded("index row size exceeds maximum"), InvalidArgument),
        (psycopg.OperationalError("server closed the connection"), Unavailable),
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL"), InvalidArgument),
        (pg_errors.UniqueViolation("duplicate key"), None),  # AlreadyExists, where it is known
    ],
)
def test_postgres_errors_are_translated(error: Exception, expected: type[Exception] | None) -> None:
    translated = POSTGRES.translate(error)
    assert translated is None if expected is None else type(translated) is expected


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_duplicate_key_is_a_unique_violation(dialect: Dialect) -> None:
    duplicate = {"sqlite": sqlite3.IntegrityError, "postgresql": pg_errors.UniqueViolation}
    assert duplicate[dialect.name] in dialect.unique_violation


def subject(subject_id: str, name: str = "张三") -> SubjectRecord:
    return SubjectRecord(subject_id, "natural", name, "310000", "hash", 1.0)


def test_a_key_too_large_for_an_index_is_stored_or_invalid(store: Store) -> None:
    # PostgreSQL's btree refuses index rows over ~2.7 kB; SQLite stores them: neither leaks a
    # driver error from the shared insert
    huge = secrets.token_hex(8000)
    try:
        store.add_subject(subject(huge))
    except InvalidArgument as exc:
        assert "too large" in str(exc)
        assert store.get_subject("x") is None  # the store still answers
    else:
        assert store.get_subject(huge) == subject(huge)


def test_a_nul_character_is_stored_or_invalid(store: Store) -> None:
    try:
        store.add_subject(subject("s1", name="a\x00b"))
    except InvalidArgument:
        assert store.get_subject("s1") is None
    else:
        assert store.get_subject("s1") == subject("s1", name="a\x00b")


def test_a_licence_too_large_for_an_index_writes_nothing(store: Store) -> None:
    huge: LicenceRecord = licence(1, request_id=secrets.token_hex(8000))
    try:
        store.add_licence(huge)
    except InvalidArgument:
        assert store.get_licence(huge.identifier) is None
    else:
        assert store.add_licence(huge) == (huge, False)
    assert store.add_licence(licence(2)) == (licence(2), True)


def test_sqlite_locked_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = str(tmp_path / "node.sqlite3")
    store = SqliteStore(path, busy_timeout_ms=50)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(Unavailable, match="SQLite store unavailable"):
            store.add_subject(subject("s1"))
        holder.execute("ROLLBACK")
        store.add_subject(subject("s1"))  # and usable again once the lock is gone
        assert store.get_subject("s1") == subject("s1")
    finally:
        holder.close()
        store.close()
