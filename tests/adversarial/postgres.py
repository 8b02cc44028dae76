"""Throwaway PostgreSQL schemas for a federation under attack (pytest-independent).

Each federation gets a prefix `adv_<hex>`; provisioning gives every node its own schema
`<prefix>_<region>` in the shared database, and `drop_schemas` removes them all afterwards.
The server and the switch that turns a skip into a failure are the ones `tests/conftest.py` reads.
"""

from __future__ import annotations

import os
import re
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# trust auth on the CI and development machines; the same variables as tests/conftest.py
POSTGRES_BASE_URL = os.environ.get(
    "YRD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("YRD_REQUIRE_POSTGRES", "") == "1"
PREFIX = re.compile(r"^adv_[0-9a-f]{12}$")


def base_of(url: str) -> str:
    """`url` without its `schema` parameter: what psycopg connects to."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def unavailable_reason(url: str = POSTGRES_BASE_URL) -> str | None:
    """None when the server answers, otherwise why it does not."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a hard dependency
        return f"psycopg is not importable: {exc}"
    try:
        with psycopg.connect(base_of(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {base_of(url)}: {str(exc).strip()}"
    return None


def new_federation_url(url: str = POSTGRES_BASE_URL) -> tuple[str, str]:
    """(URL for `init_federation(postgres_url=...)`, schema prefix) for a fresh federation."""
    prefix = f"adv_{secrets.token_hex(6)}"
    parts = urlsplit(base_of(url))
    query = [*parse_qsl(parts.query), ("schema", prefix)]
    return urlunsplit(parts._replace(query=urlencode(query))), prefix


def schemas_of(url: str, prefix: str) -> list[str]:
    """The schemas the federation with `prefix` holds in the database (its nodes', once opened)."""
    import psycopg

    _check(prefix)
    with psycopg.connect(base_of(url), autocommit=True, connect_timeout=3) as conn:
        rows = conn.execute(
            "SELECT schema_name FROM information_schema.schemata"
            " WHERE schema_name = %s OR schema_name LIKE %s ORDER BY schema_name",
            (prefix, prefix + "\\_%"),
        ).fetchall()
    return [str(row[0]) for row in rows]


def drop_schemas(url: str, prefix: str) -> list[str]:
    """Drop every schema of the federation with `prefix`; returns their names."""
    import psycopg
    from psycopg import sql

    names = schemas_of(url, prefix)
    with psycopg.connect(base_of(url), autocommit=True, connect_timeout=3) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    return names


def _check(prefix: str) -> None:
    if not PREFIX.match(prefix):
        raise ValueError(f"refusing to touch schemas of non-adversarial prefix {prefix!r}")
