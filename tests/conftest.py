"""Shared test fixtures: a fresh PostgreSQL schema per test, skipped when no server is reachable."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
from collections.abc import Callable, Iterator

import pytest

# trust auth on the CI and development machines; override to point at another server
POSTGRES_BASE_URL = os.environ.get(
    "YRD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("YRD_REQUIRE_POSTGRES", "") == "1"
_SCHEMA_NAME = re.compile(r"^t_[0-9a-f]+$")


@functools.cache
def postgres_unavailable_reason() -> str | None:
    """None when the test server answers, otherwise why it does not (checked once per run)."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a hard dependency
        return f"psycopg is not importable: {exc}"
    try:
        with psycopg.connect(POSTGRES_BASE_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {POSTGRES_BASE_URL}: {str(exc).strip()}"
    return None


def require_postgres() -> None:
    """Skip the calling test without a server, or fail it when YRD_REQUIRE_POSTGRES=1."""
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"{reason} (YRD_REQUIRE_POSTGRES=1 turns this skip into a failure)")
    pytest.skip(f"{reason} (set YRD_REQUIRE_POSTGRES=1 to fail instead)")


def drop_postgres_schema(schema: str) -> None:
    """Drop a throwaway schema made by `postgres_url_factory`."""
    import psycopg
    from psycopg import sql

    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"refusing to drop non-test schema {schema!r}")
    with psycopg.connect(POSTGRES_BASE_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextlib.contextmanager
def _schema_urls() -> Iterator[Callable[[], str]]:
    require_postgres()
    schemas: list[str] = []

    def make() -> str:
        schema = f"t_{secrets.token_hex(8)}"
        schemas.append(schema)
        sep = "&" if "?" in POSTGRES_BASE_URL else "?"
        return f"{POSTGRES_BASE_URL}{sep}schema={schema}"

    yield make
    for schema in schemas:
        drop_postgres_schema(schema)


@pytest.fixture
def postgres_url_factory() -> Iterator[Callable[[], str]]:
    """Make any number of `postgresql://...?schema=t_<random>` URLs; all dropped afterwards."""
    with _schema_urls() as make:
        yield make


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    """Like `postgres_url`, shared by the tests of one module (dropped after the module)."""
    with _schema_urls() as make:
        yield make()


@pytest.fixture
def postgres_url(postgres_url_factory: Callable[[], str]) -> str:
    """A URL naming a fresh, empty PostgreSQL schema (created by whoever opens it)."""
    return postgres_url_factory()
