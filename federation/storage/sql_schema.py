"""Schema versions shared by the SQL backends: each version's DDL run once, in order, on open."""

from __future__ import annotations

from collections.abc import Sequence

from federation.errors import FailedPrecondition
from federation.storage.sql_dialect import Connection

SCHEMA_VERSION = 5


def run_steps(conn: Connection, steps: Sequence[Sequence[str]], placeholder: str) -> int:
    """Bring the schema up to SCHEMA_VERSION inside the caller's transaction (steps[v - 1] turns
    a version v - 1 database into version v); the version it had."""
    if len(steps) != SCHEMA_VERSION:
        raise ValueError(f"{len(steps)} schema steps for version {SCHEMA_VERSION}")
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    current = 0 if row is None or row[0] is None else int(row[0])
    if current > SCHEMA_VERSION:
        raise FailedPrecondition(
            f"store schema version {current} is newer than this code ({SCHEMA_VERSION})"
        )
    for step in steps[current:]:
        for ddl in step:
            conn.execute(ddl)
    if current == 0:
        conn.execute(f"INSERT INTO schema_version VALUES ({placeholder})", (SCHEMA_VERSION,))
    elif current < SCHEMA_VERSION:
        conn.execute(f"UPDATE schema_version SET version = {placeholder}", (SCHEMA_VERSION,))
    return current
