"""PostgreSQL home registry (hub) and the home attestation a region keeps with each subject."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from federation.errors import IntegrityError, NotFound
from federation.storage.base import SubjectHome
from federation.storage.postgres_schema import Connection

_HOME_COLS = "subject_id, kind, home_region, claimed_at"


def _home(row: Sequence[Any]) -> SubjectHome:
    return SubjectHome(row[0], row[1], row[2], float(row[3]))


class PostgresHomes:
    """Home methods of PostgresStore (mixed in; it provides the pooled connection)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractContextManager[Connection]: ...

    def set_home_attestation(self, subject_id: str, attestation: str) -> None:
        """Store the hub's home attestation of a subject; raises NotFound if unknown."""
        with self._connection() as conn:
            cursor = conn.execute(
                "UPDATE subjects SET home_attestation = %s WHERE subject_id = %s",
                (attestation, subject_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"no subject {subject_id}")

    def claim_home(self, home: SubjectHome) -> SubjectHome:
        """Insert unless the subject already has a home; answer the stored home (atomic)."""
        # DO NOTHING waits for a racing insert of the same subject to commit; the SELECT that
        # follows (a new snapshot under READ COMMITTED) then sees the winner's row.
        with self._connection() as conn, conn.transaction():
            conn.execute(
                f"INSERT INTO subject_homes ({_HOME_COLS}) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (subject_id) DO NOTHING",
                (home.subject_id, home.kind, home.home_region, float(home.claimed_at)),
            )
            row = conn.execute(
                f"SELECT {_HOME_COLS} FROM subject_homes WHERE subject_id = %s",
                (home.subject_id,),
            ).fetchone()
        if row is None:
            raise IntegrityError(f"home of {home.subject_id} vanished while claimed")
        return _home(row)

    def get_home(self, subject_id: str) -> SubjectHome | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {_HOME_COLS} FROM subject_homes WHERE subject_id = %s", (subject_id,)
            ).fetchone()
        return None if row is None else _home(row)
