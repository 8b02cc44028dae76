"""PostgreSQL case register: cross-province cases, version-checked transitions and ratings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from psycopg import errors as pg_errors

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
from federation.storage.postgres_schema import Connection

# json columns are read as text: psycopg would parse them, and the codec must see the exact text
_CASE_READ = CASE_COLS.replace(" data,", " data::text,")
_EVENT_READ = EVENT_COLS.replace(" detail", " detail::text")
_RATING_READ = RATING_COLS.replace(" reasons,", " reasons::text,")
_EVENT_VALUES = "%s::float8, %s::text, %s::text, %s::text, %s::json"
# ON CONFLICT has no target for the reason given in postgres_licences. One statement each, so
# autocommit makes them atomic: the case and its first event, or the
# version-checked update and the next event. Under READ COMMITTED a racer blocked on the case
# row re-checks `version` against the winner's committed row, so exactly one racer matches;
# `last_seq + 1` is computed from that same row, so event numbers never collide.
_CREATE = (
    f"WITH c AS (INSERT INTO cases ({CASE_COLS}, last_seq)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::json, %s, %s, %s, %s, 1)"
    " ON CONFLICT DO NOTHING RETURNING case_id)"
    f" INSERT INTO case_events ({EVENT_COLS}) SELECT c.case_id, 1, {_EVENT_VALUES} FROM c"
    " RETURNING seq"
)
_TRANSITION = (
    "WITH c AS (UPDATE cases SET state = %s, data = %s::json, updated_at = %s::float8,"
    " version = version + 1, last_seq = last_seq + 1 WHERE case_id = %s AND version = %s"
    f" RETURNING {_CASE_READ}, last_seq),"
    f" e AS (INSERT INTO case_events ({EVENT_COLS})"
    f" SELECT c.case_id, c.last_seq, {_EVENT_VALUES} FROM c RETURNING seq)"
    f" SELECT {CASE_COLS} FROM c"
)


class PostgresCases:
    """Case methods of PostgresStore (mixed in; it provides the pooled connection)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractContextManager[Connection]: ...

        def _audited(
            self,
        ) -> AbstractContextManager[tuple[Connection, Callable[[AuditDraft], AuditRecord]]]: ...

    def _maybe_audited(
        self, stack: ExitStack, audit: AuditDraft | None
    ) -> tuple[Connection, Callable[[], object]]:
        """A pooled connection; with `audit`, inside a transaction that appends it on demand."""
        if audit is None:
            return stack.enter_context(self._connection()), lambda: None
        conn, append = stack.enter_context(self._audited())
        return conn, lambda: append(audit)

    def create_case(
        self, case: CaseRecord, first: CaseEvent, audit: AuditDraft | None = None
    ) -> tuple[CaseRecord, bool]:
        """Insert the case and its first event (filed as seq 1 of this case) atomically;
        idempotent by request_id like add_licence; a duplicate case_id raises AlreadyExists.
        An insert appends `audit` (if given) in the same transaction; a retry appends nothing."""
        data = encode_json(case.data, "case data")
        detail = encode_json(first.detail, "case event detail")
        event = event_params(case.case_id, 1, first, detail)[2:]
        with ExitStack() as stack:
            conn, append = self._maybe_audited(stack, audit)
            if conn.execute(_CREATE, case_params(case, data) + event).fetchone() is not None:
                append()
                return replace(case, data=decode_json(data)), True
            row = conn.execute(
                f"SELECT {_CASE_READ} FROM cases WHERE request_id = %s", (case.request_id,)
            ).fetchone()
        if row is None:  # the case_id is taken by another request
            raise AlreadyExists(f"case {case.case_id} already exists")
        stored = case_from_row(row)
        check_retry("case", stored.case_id, case.request_id, stored.request_hash, case.request_hash)
        return stored, False

    def get_case(self, case_id: str) -> CaseRecord | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {_CASE_READ} FROM cases WHERE case_id = %s", (case_id,)
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
        params = (state, data_text, float(event.time), case_id, int(expected_version))
        with ExitStack() as stack:
            conn, append = self._maybe_audited(stack, audit)
            row = conn.execute(
                _TRANSITION, params + event_params(case_id, 0, event, detail)[2:]
            ).fetchone()
            if row is not None:
                append()
                return case_from_row(row)
            found = conn.execute(
                "SELECT version FROM cases WHERE case_id = %s", (case_id,)
            ).fetchone()
        if found is None:
            raise NotFound(f"case {case_id} not found")
        raise changed_concurrently(case_id, int(found[0]), expected_version)

    def case_events(self, case_id: str, after_seq: int = 0) -> list[CaseEvent]:
        """Events of a case with seq > after_seq, in order ([] for an unknown case)."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_EVENT_READ} FROM case_events WHERE case_id = %s AND seq > %s"
                " ORDER BY seq",
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
        where, params = case_filters(owner_region, window_region, applicant_id, "%s")
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_CASE_READ} FROM cases{where} ORDER BY created_at, ord", params
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
        clauses = ["owner_region = %s"]
        params: list[Any] = [owner_region]
        for column, value in (
            ("state", state),
            ("item_code", item_code),
            ("window_region", window_region),
            ("window_id", window_id),
        ):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        if before is not None:
            clauses.append(
                "(created_at < %s::float8 OR (created_at = %s::float8 AND case_id < %s))"
            )
            params.extend((before[0], before[0], before[1]))
        params.append(max(0, limit))
        query = (
            f"SELECT {_CASE_READ} FROM cases WHERE {' AND '.join(clauses)}"
            " ORDER BY created_at DESC, case_id DESC LIMIT %s"
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
                    f"INSERT INTO case_ratings ({RATING_COLS}) VALUES (%s, %s, %s::json, %s, %s)",
                    params,
                )
            except pg_errors.UniqueViolation:
                raise AlreadyExists(f"case {rating.case_id} was rated already") from None

    def case_ratings(self) -> list[CaseRating]:
        """Every rating, oldest first (rated_at, then insertion order)."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_RATING_READ} FROM case_ratings ORDER BY rated_at, ord"
            ).fetchall()
        return [rating_from_row(row) for row in rows]
