"""SQLite home registry (hub) and the home attestation a region keeps with each subject."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from federation.errors import NotFound
from federation.storage.base import SubjectHome

_HOME_COLS = "subject_id, kind, home_region, claimed_at"


def _home(row: Sequence[Any]) -> SubjectHome:
    return SubjectHome(row[0], row[1], row[2], float(row[3]))


class SqliteHomes:
    """Home methods of SqliteStore (mixed in; it provides the connection)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractContextManager[sqlite3.Connection]: ...

        @staticmethod
        def _transaction(conn: sqlite3.Connection) -> AbstractContextManager[None]: ...

    def set_home_attestation(self, subject_id: str, attestation: str) -> None:
        """Store the hub's home attestation of a subject; raises NotFound if unknown."""
        with self._connection() as conn:
            cursor = conn.execute(
                "UPDATE subjects SET home_attestation = ? WHERE subject_id = ?",
                (attestation, subject_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"no subject {subject_id}")

    def claim_home(self, home: SubjectHome) -> SubjectHome:
        """Insert unless the subject already has a home; answer the stored home (atomic)."""
        with self._connection() as conn, self._transaction(conn):
            conn.execute(
                f"INSERT INTO subject_homes ({_HOME_COLS}) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (subject_id) DO NOTHING",
                (home.subject_id, home.kind, home.home_region, home.claimed_at),
            )
            row = conn.execute(
                f"SELECT {_HOME_COLS} FROM subject_homes WHERE subject_id = ?", (home.subject_id,)
            ).fetchone()
        return _home(row)

    def get_home(self, subject_id: str) -> SubjectHome | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {_HOME_COLS} FROM subject_homes WHERE subject_id = ?", (subject_id,)
            ).fetchone()
        return None if row is None else _home(row)
