"""Removing a node's PostgreSQL store, for `yrd federation init --force` only."""

from __future__ import annotations

import psycopg
from psycopg import sql

from federation.errors import Unavailable
from federation.storage.postgres import parse_postgres_url

NODE_TABLES = frozenset({"schema_version", "audit_log", "subjects"})


def drop_node_schema(url: str) -> bool:
    """Drop the schema a node's store URL names, if it holds a node store (False otherwise).

    Used by `yrd federation init --force`: only a schema named in the URL that holds a node
    store's tables is dropped, never the default search path.
    """
    conninfo, schema = parse_postgres_url(url)
    if schema is None:
        return False
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
            tables = {
                str(row[0])
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (schema,),
                ).fetchall()
            }
            if not NODE_TABLES.issubset(tables):
                return False  # not a node store: not ours to drop
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    except psycopg.OperationalError as exc:
        raise Unavailable(f"PostgreSQL store unreachable: {str(exc).strip()}") from None
    return True
