"""PostgreSQL licence registry: issued licences, idempotent by request id, and status entries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from typing import TYPE_CHECKING, Any

from federation.audit import AuditDraft, AuditRecord
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
from federation.storage.postgres_schema import Connection

# ON CONFLICT without a target: every unique index is an arbiter. With only request_id as the
# target, a racer repeating the same request could pass the request_id check before the winner's
# entry exists and then fail on the identifier index instead. DO NOTHING waits for a conflicting
# insert in progress to commit; the SELECT that follows (a new snapshot) then sees the winner.
_INSERT = (
    f"INSERT INTO licences ({LICENCE_COLS})"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT DO NOTHING RETURNING identifier"
)
_INSERT_PARTIES = (
    "INSERT INTO licence_parties (identifier, party_code) SELECT %s, unnest(%s::text[])"
)
# every licence column, then its party codes as an array (one statement, one snapshot)
_COLS = (
    f"{LICENCE_COLS}, ARRAY(SELECT party_code FROM licence_parties"
    " WHERE licence_parties.identifier = licences.identifier)"
)


def _licence(row: Sequence[Any]) -> LicenceRecord:
    return licence_from_row(row, row[11])


class PostgresLicences:
    """Licence methods of PostgresStore (mixed in; it provides the pooled connection)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractContextManager[Connection]: ...

        def _audited(
            self,
        ) -> AbstractContextManager[tuple[Connection, Callable[[AuditDraft], AuditRecord]]]: ...

    def add_licence(
        self, licence: LicenceRecord, audit: AuditDraft | None = None
    ) -> tuple[LicenceRecord, bool]:
        """Insert the licence and its parties; idempotent by request_id: a retry with the same
        request_hash returns the stored record and False; the same request_id with another
        hash raises AlreadyExists; a duplicate identifier or status_index raises AlreadyExists.
        An insert appends `audit` (if given) in the same transaction; a retry appends nothing."""
        licence = normalise_parties(licence)
        params = licence_params(licence)
        with ExitStack() as stack:
            if audit is None:
                conn = stack.enter_context(self._connection())
                stack.enter_context(conn.transaction())
            else:
                conn, append = stack.enter_context(self._audited())
            if conn.execute(_INSERT, params).fetchone() is not None:
                if licence.parties:
                    conn.execute(_INSERT_PARTIES, (licence.identifier, list(licence.parties)))
                if audit is not None:
                    append(audit)
                return licence, True
            row = conn.execute(
                f"SELECT {_COLS} FROM licences WHERE request_id = %s", (licence.request_id,)
            ).fetchone()
            if row is None:
                taken = conn.execute(
                    "SELECT 1 FROM licences WHERE identifier = %s", (licence.identifier,)
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
                f"SELECT {_COLS} FROM licences WHERE identifier = %s", (identifier,)
            ).fetchone()
        return None if row is None else _licence(row)

    def licences_of_holder(self, holder_code: str) -> list[LicenceRecord]:
        """Licences held by `holder_code` or concerning it as a party, oldest first (by
        issued_at, then insertion order), each once."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLS} FROM licences WHERE holder_code = %s OR identifier IN"
                " (SELECT identifier FROM licence_parties WHERE party_code = %s)"
                " ORDER BY issued_at, ord",
                (holder_code, holder_code),
            ).fetchall()
        return [_licence(row) for row in rows]

    def set_licence_status(self, identifier: str, status: int, at: float) -> LicenceRecord:
        """Change the status and set updated_at to `at`; NotFound for an unknown identifier."""
        with self._connection() as conn:
            row = conn.execute(
                "UPDATE licences SET status = %s, updated_at = %s WHERE identifier = %s"
                f" RETURNING {_COLS}",
                (int(status), float(at), identifier),
            ).fetchone()
        if row is None:
            raise NotFound(f"licence {identifier} not found")
        return _licence(row)

    def status_entries(self) -> list[tuple[int, int]]:
        """(status_index, status) of every licence, by status_index."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT status_index, status FROM licences ORDER BY status_index"
            ).fetchall()
        return [(int(index), int(status)) for index, status in rows]
