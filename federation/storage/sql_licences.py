"""The licence registry in shared SQL: issued licences, idempotent by request id, status entries."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from federation.audit import AuditDraft
from federation.errors import NotFound
from federation.storage._records import (
    LICENCE_COLS,
    check_retry,
    duplicate_licence,
    licence_from_row,
    licence_params,
    normalise_parties,
)
from federation.storage.base import LicenceRecord
from federation.storage.sql_dialect import Connection, SqlBackend

# ON CONFLICT without a target: every unique index is an arbiter. With only request_id as the
# target, a racer repeating the same request could pass the request_id check before the winner's
# entry exists and then fail on the identifier index instead. DO NOTHING waits for a conflicting
# insert in progress to commit; the SELECT that follows (a new snapshot) then sees the winner.
_INSERT = (
    f"INSERT INTO licences ({LICENCE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING RETURNING identifier"
)
# every licence column, then its party codes (one statement, one snapshot)
_COLS = (
    f"{LICENCE_COLS}, (SELECT {{array_agg}}(party_code) FROM licence_parties"
    " WHERE licence_parties.identifier = licences.identifier)"
)
_BY_REQUEST = f"SELECT {_COLS} FROM licences WHERE request_id = ?"
_TAKEN = "SELECT 1 FROM licences WHERE identifier = ?"
_BY_IDENTIFIER = f"SELECT {_COLS} FROM licences WHERE identifier = ?"
_OF_HOLDER = (
    f"SELECT {_COLS} FROM licences WHERE holder_code = ? OR identifier IN"
    " (SELECT identifier FROM licence_parties WHERE party_code = ?)"
    " ORDER BY issued_at, {order}"
)
_SET_STATUS = (
    f"UPDATE licences SET status = ?, updated_at = ? WHERE identifier = ? RETURNING {_COLS}"
)
_STATUS_ENTRIES = "SELECT status_index, status FROM licences ORDER BY status_index"


class SqlLicences(SqlBackend):
    """Licence methods of the SQL stores; the backend inserts a licence's parties."""

    @abstractmethod
    def _insert_parties(self, conn: Connection, licence: LicenceRecord) -> None:
        """File the (normalised) licence's party codes in licence_parties."""

    def _licence(self, row: Sequence[Any]) -> LicenceRecord:
        return licence_from_row(row, self.dialect.decode_parties(row[11]))

    def add_licence(
        self, licence: LicenceRecord, audit: AuditDraft | None = None
    ) -> tuple[LicenceRecord, bool]:
        """Insert the licence and its parties; idempotent by request_id: a retry with the same
        request_hash returns the stored record and False; the same request_id with another
        hash raises AlreadyExists; a duplicate identifier or status_index raises AlreadyExists.
        An insert appends `audit` (if given) in the same transaction; a retry appends nothing."""
        licence = normalise_parties(licence)
        params = licence_params(licence)
        sql = self.dialect.sql
        with self._write(audit) as (conn, append):
            if conn.execute(sql(_INSERT), params).fetchall():
                self._insert_parties(conn, licence)
                append()
                return licence, True
            row = conn.execute(sql(_BY_REQUEST), (licence.request_id,)).fetchone()
            if row is None:
                taken = conn.execute(sql(_TAKEN), (licence.identifier,)).fetchone()
                raise duplicate_licence(licence, taken is not None)
        stored = self._licence(row)
        check_retry(
            "licence",
            stored.identifier,
            licence.request_id,
            stored.request_hash,
            licence.request_hash,
        )
        return stored, False

    def get_licence(self, identifier: str) -> LicenceRecord | None:
        with self._connection() as conn:
            row = conn.execute(self.dialect.sql(_BY_IDENTIFIER), (identifier,)).fetchone()
        return None if row is None else self._licence(row)

    def licences_of_holder(self, holder_code: str) -> list[LicenceRecord]:
        """Licences held by `holder_code` or concerning it as a party, oldest first (by
        issued_at, then insertion order), each once."""
        with self._connection() as conn:
            rows = conn.execute(self.dialect.sql(_OF_HOLDER), (holder_code, holder_code)).fetchall()
        return [self._licence(row) for row in rows]

    def licences_of_holder_now(self, holder_code: str) -> list[LicenceRecord] | None:
        """`licences_of_holder` on the calling thread if the connection is free at once (a
        local database); None, having read nothing, when it would wait."""
        scope = self._connection_now()
        if scope is None:
            return None
        with scope as conn:
            rows = conn.execute(self.dialect.sql(_OF_HOLDER), (holder_code, holder_code)).fetchall()
        return [self._licence(row) for row in rows]

    def set_licence_status(self, identifier: str, status: int, at: float) -> LicenceRecord:
        """Change the status and set updated_at to `at`; NotFound for an unknown identifier."""
        # fetchall: SQLite commits a RETURNING statement only once it is stepped to the end
        with self._connection() as conn:
            rows = conn.execute(
                self.dialect.sql(_SET_STATUS), (int(status), float(at), identifier)
            ).fetchall()
        if not rows:
            raise NotFound(f"licence {identifier} not found")
        return self._licence(rows[0])

    def status_entries(self) -> list[tuple[int, int]]:
        """(status_index, status) of every licence, by status_index."""
        with self._connection() as conn:
            rows = conn.execute(_STATUS_ENTRIES).fetchall()
        return [(int(index), int(status)) for index, status in rows]
