"""A database a store contract test runs on, with raw SQL access for tampering and inspection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from federation.storage import Store, open_store


@dataclass
class Backend:
    """One database a store can live in, with raw SQL access for tampering and inspection."""

    name: str
    url: str
    path: Path | None = None  # SQLite file

    def open(self) -> Store:
        return open_store(self.url)

    def raw(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement outside the store (placeholders: '?'), committed; rows if any."""
        if self.name == "sqlite":
            import sqlite3

            assert self.path is not None
            with sqlite3.connect(self.path, timeout=5) as conn:
                cur = conn.execute(statement, params)
                return cur.fetchall()
        import psycopg

        parts = urlsplit(self.url)
        query = parse_qsl(parts.query)
        schema = dict(query)["schema"]
        base = urlunsplit(parts._replace(query=urlencode([q for q in query if q[0] != "schema"])))
        with psycopg.connect(base, autocommit=True, options=f"-c search_path={schema}") as pg:
            pg_cur = pg.execute(statement.replace("?", "%s"), params)
            return pg_cur.fetchall() if pg_cur.description else []


def drop_node_schemas(url: str, prefix: str) -> None:
    """Drop the schemas of a federation's nodes made under `prefix` (its URL's schema)."""
    import psycopg
    from psycopg import sql

    assert re.fullmatch(r"t_[0-9a-f]+", prefix), prefix
    base = url.split("?")[0]
    with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
        rows = conn.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
            (prefix + "\\_%",),
        ).fetchall()
        for (name,) in rows:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
