"""SQLite case register: cross-province cases, their version-checked transitions and ratings."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from federation.audit import AuditDraft, AuditRecord
from federation.errors import AlreadyExists, NotFound
from federation.storage._records import (
    CASE_COLS,
    EVENT_COLS,
    RATING_COLS,
    case_filters,
    case_from_row,
    case_params,
    changed_concurrently,
    check_retry,
    decode_json,
    encode_json,
    event_from_row,
    event_params,
    rating_from_row,
    rating_params,
)
from federation.storage.base import CaseEvent, CaseRating, CaseRecord

_INSERT_CASE = (
    f"INSERT INTO cases ({CASE_COLS}, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " 1) ON CONFLICT DO NOTHING RETURNING case_id"
)
_INSERT_EVENT = f"INSERT INTO case_events ({EVENT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_TRANSITION = (
    "UPDATE cases SET state = ?, data = ?, updated_at = ?, version = version + 1,"
    " last_seq = last_seq + 1 WHERE case_id = ? AND version = ?"
    f" RETURNING {CASE_COLS}, last_seq"
)


class SqliteCases:
    """Case methods of SqliteStore (mixed in; it provides the connection)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractContextManager[sqlite3.Connection]: ...

        @staticmethod
        def _transaction(conn: sqlite3.Connection) -> AbstractContextManager[None]: ...

        def _append_within(self, conn: sqlite3.Connection, draft: AuditDraft) -> AuditRecord: ...

    def create_case(
        self, case: CaseRecord, first: CaseEvent, audit: AuditDraft | None = None
    ) -> tuple[CaseRecord, bool]:
        """Insert the case and its first event (filed as seq 1 of this case) atomically;
        idempotent by request_id like add_licence; a duplicate case_id raises AlreadyExists.
        An insert appends `audit` (if given) in the same transaction; a retry appends nothing."""
        data = encode_json(case.data, "case data")
        detail = encode_json(first.detail, "case event detail")
        with self._connection() as conn, self._transaction(conn):
            if conn.execute(_INSERT_CASE, case_params(case, data)).fetchall():
                conn.execute(_INSERT_EVENT, event_params(case.case_id, 1, first, detail))
                if audit is not None:
                    self._append_within(conn, audit)
                return replace(case, data=decode_json(data)), True
            row = conn.execute(
                f"SELECT {CASE_COLS} FROM cases WHERE request_id = ?", (case.request_id,)
            ).fetchone()
        if row is None:  # the case_id is taken by another request
            raise AlreadyExists(f"case {case.case_id} already exists")
        stored = case_from_row(row)
        check_retry("case", stored.case_id, case.request_id, stored.request_hash, case.request_hash)
        return stored, False

    def get_case(self, case_id: str) -> CaseRecord | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {CASE_COLS} FROM cases WHERE case_id = ?", (case_id,)
            ).fetchone()
        return None if row is None else case_from_row(row)

    def transition_case(
        self,
        case_id: str,
        expected_version: int,
        state: str,
        data: Mapping[str, Any],
        event: CaseEvent,
        audit: AuditDraft | None = None,
    ) -> CaseRecord:
        """Atomically set state, data and updated_at (= event.time), bump version and append
        the event as the case's next seq, only if the stored version equals expected_version
        (else FailedPrecondition); NotFound if absent. `audit` (if given) commits with it."""
        data_text = encode_json(data, "case data")
        detail = encode_json(event.detail, "case event detail")
        with self._connection() as conn, self._transaction(conn):
            rows = conn.execute(
                _TRANSITION,
                (state, data_text, float(event.time), case_id, int(expected_version)),
            ).fetchall()
            if not rows:
                found = conn.execute(
                    "SELECT version FROM cases WHERE case_id = ?", (case_id,)
                ).fetchone()
                if found is None:
                    raise NotFound(f"case {case_id} not found")
                raise changed_concurrently(case_id, int(found[0]), expected_version)
            conn.execute(_INSERT_EVENT, event_params(case_id, int(rows[0][-1]), event, detail))
            if audit is not None:
                self._append_within(conn, audit)
        return case_from_row(rows[0])

    def case_events(self, case_id: str, after_seq: int = 0) -> list[CaseEvent]:
        """Events of a case with seq > after_seq, in order ([] for an unknown case)."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLS} FROM case_events WHERE case_id = ? AND seq > ? ORDER BY seq",
                (case_id, after_seq),
            ).fetchall()
        return [event_from_row(row) for row in rows]

    def list_cases(
        self,
        owner_region: str | None = None,
        window_region: str | None = None,
        applicant_id: str | None = None,
    ) -> list[CaseRecord]:
        """Cases matching every given filter, oldest first (created_at, then insertion order)."""
        where, params = case_filters(owner_region, window_region, applicant_id, "?")
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {CASE_COLS} FROM cases{where} ORDER BY created_at, rowid", params
            ).fetchall()
        return [case_from_row(row) for row in rows]

    def page_cases(
        self,
        owner_region: str,
        *,
        state: str | None = None,
        item_code: str | None = None,
        window_region: str | None = None,
        window_id: str | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> list[CaseRecord]:
        """Cases of `owner_region` matching every given filter, newest first, after `before`."""
        clauses = ["owner_region = ?"]
        params: list[Any] = [owner_region]
        for column, value in (
            ("state", state),
            ("item_code", item_code),
            ("window_region", window_region),
            ("window_id", window_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if before is not None:
            clauses.append("(created_at < ? OR (created_at = ? AND case_id < ?))")
            params.extend((before[0], before[0], before[1]))
        params.append(max(0, limit))
        query = (
            f"SELECT {CASE_COLS} FROM cases WHERE {' AND '.join(clauses)}"
            " ORDER BY created_at DESC, case_id DESC LIMIT ?"
        )
        with self._connection() as conn:
            rows = conn.execute(query, params).fetchall()
        return [case_from_row(row) for row in rows]

    def rate_case(self, rating: CaseRating) -> None:
        """Store the rating; AlreadyExists if the case was rated already."""
        params = rating_params(rating)
        with self._connection() as conn:
            try:
                conn.execute(
                    f"INSERT INTO case_ratings ({RATING_COLS}) VALUES (?, ?, ?, ?, ?)", params
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"case {rating.case_id} was rated already") from None

    def case_ratings(self) -> list[CaseRating]:
        """Every rating, oldest first (rated_at, then insertion order)."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {RATING_COLS} FROM case_ratings ORDER BY rated_at, rowid"
            ).fetchall()
        return [rating_from_row(row) for row in rows]
