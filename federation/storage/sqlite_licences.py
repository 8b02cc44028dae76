"""SQLite licence registry: issued licences, idempotent by request id, and their status entries."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from federation.audit import AuditDraft, AuditRecord
from federation.errors import NotFound
from federation.storage._records import (
    LICENCE_COLS,
    check_retry,
    decode_json,
    duplicate_licence,
    licence_from_row,
    licence_params,
    normalise_parties,
    party_params,
)
from federation.storage.base import LicenceRecord

_INSERT = (
    f"INSERT INTO licences ({LICENCE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING RETURNING identifier"
)
_INSERT_PARTY = "INSERT INTO licence_parties (identifier, party_code) VALUES (?, ?)"
# every licence column, then its party codes as a JSON array (one statement, one snapshot)
_COLS = (
    f"{LICENCE_COLS}, (SELECT json_group_array(party_code) FROM licence_parties"
    " WHERE licence_parties.identifier = licences.identifier)"
)


def _licence(row: Sequence[Any]) -> LicenceRecord:
    return licence_from_row(row, decode_json(row[11]))


class SqliteLicences:
    """Licence methods of SqliteStore (mixed in; it provides the connection)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractContextManager[sqlite3.Connection]: ...

        @staticmethod
        def _transaction(conn: sqlite3.Connection) -> AbstractContextManager[None]: ...

        def _append_within(self, conn: sqlite3.Connection, draft: AuditDraft) -> AuditRecord: ...

    def add_licence(
        self, licence: LicenceRecord, audit: AuditDraft | None = None
    ) -> tuple[LicenceRecord, bool]:
        """Insert the licence and its parties; idempotent by request_id: a retry with the same
        request_hash returns the stored record and False; the same request_id with another
        hash raises AlreadyExists; a duplicate identifier or status_index raises AlreadyExists.
        An insert appends `audit` (if given) in the same transaction; a retry appends nothing."""
        licence = normalise_parties(licence)
        params = licence_params(licence)
        with self._connection() as conn, self._transaction(conn):
            if conn.execute(_INSERT, params).fetchall():
                conn.executemany(_INSERT_PARTY, party_params(licence))
                if audit is not None:
                    self._append_within(conn, audit)
                return licence, True
            row = conn.execute(
                f"SELECT {_COLS} FROM licences WHERE request_id = ?", (licence.request_id,)
            ).fetchone()
            if row is None:
                taken = conn.execute(
                    "SELECT 1 FROM licences WHERE identifier = ?", (licence.identifier,)
                ).fetchone()
                raise duplicate_licence(licence, taken is not None)
        stored = _licence(row)
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
            row = conn.execute(
                f"SELECT {_COLS} FROM licences WHERE identifier = ?", (identifier,)
            ).fetchone()
        return None if row is None else _licence(row)

    def licences_of_holder(self, holder_code: str) -> list[LicenceRecord]:
        """Licences held by `holder_code` or concerning it as a party, oldest first (by
        issued_at, then insertion order), each once."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLS} FROM licences WHERE holder_code = ? OR identifier IN"
                " (SELECT identifier FROM licence_parties WHERE party_code = ?)"
                " ORDER BY issued_at, rowid",
                (holder_code, holder_code),
            ).fetchall()
        return [_licence(row) for row in rows]

    def set_licence_status(self, identifier: str, status: int, at: float) -> LicenceRecord:
        """Change the status and set updated_at to `at`; NotFound for an unknown identifier."""
        # fetchall: a RETURNING statement commits only once it has been stepped to the end
        with self._connection() as conn:
            rows = conn.execute(
                "UPDATE licences SET status = ?, updated_at = ? WHERE identifier = ?"
                f" RETURNING {_COLS}",
                (int(status), float(at), identifier),
            ).fetchall()
        if not rows:
            raise NotFound(f"licence {identifier} not found")
        return _licence(rows[0])

    def status_entries(self) -> list[tuple[int, int]]:
        """(status_index, status) of every licence, by status_index."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT status_index, status FROM licences ORDER BY status_index"
            ).fetchall()
        return [(int(index), int(status)) for index, status in rows]
