"""The case register in shared SQL: cross-province cases, version-checked transitions, ratings."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from federation.audit import AuditDraft
from federation.errors import AlreadyExists, IntegrityError, InvalidArgument, NotFound
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
from federation.storage.base import CaseEvent, CaseRating, CaseRecord, CaseStep
from federation.storage.sql_dialect import AppendDraft, Connection, Row, SqlBackend

# JSON columns are read as their exact stored text: the codec, not the driver, decodes them
CASE_READ = CASE_COLS.replace(" data,", " data{text},")
_EVENT_READ = EVENT_COLS.replace(" detail", " detail{text}")
_RATING_READ = RATING_COLS.replace(" reasons,", " reasons{text},")
_BY_REQUEST = f"SELECT {CASE_READ} FROM cases WHERE request_id = ?"
_BY_ID = f"SELECT {CASE_READ} FROM cases WHERE case_id = ?"
_VERSION = "SELECT version FROM cases WHERE case_id = ?"
_EVENTS = f"SELECT {_EVENT_READ} FROM case_events WHERE case_id = ? AND seq > ? ORDER BY seq"
_LIST = f"SELECT {CASE_READ} FROM cases{{where}} ORDER BY created_at, {{order}}"
_PAGE = (
    f"SELECT {CASE_READ} FROM cases WHERE {{where}} ORDER BY created_at DESC, case_id DESC LIMIT ?"
)
_COUNTS = "SELECT state, COUNT(*) FROM cases WHERE owner_region = ? GROUP BY state"
_RATE = f"INSERT INTO case_ratings ({RATING_COLS}) VALUES (?, ?, {{json}}, ?, ?)"
_Filed = tuple[Row, Row, AuditDraft]
"""A step ready to file: update parameters without the expected version, event row, entry."""
_RATINGS = f"SELECT {_RATING_READ} FROM case_ratings ORDER BY rated_at, {{order}}"


class SqlCases(SqlBackend):
    """Case methods of the SQL stores; the backend writes a case with its event (one statement
    where its SQL can, several in a transaction where not)."""

    @abstractmethod
    def _insert_case(self, conn: Connection, case: Row, first: Row) -> bool:
        """Insert the case (case_params) and its first event (event_params, seq 1) together;
        False, writing nothing, if the case_id or request_id is taken."""

    @abstractmethod
    def _update_case(self, conn: Connection, update: Row, event: Row) -> Any:
        """Run the version-checked update (state, data, updated_at, case_id, expected version)
        and file `event` (event_params; its seq is ignored) as the case's next seq: the case's
        new row (CASE_COLS first), or None, writing nothing, if it is absent or has changed."""

    def create_case(
        self,
        case: CaseRecord,
        first: CaseEvent,
        audit: AuditDraft | None = None,
        then: Sequence[CaseStep] = (),
    ) -> tuple[CaseRecord, bool]:
        """Insert the case and its first event (filed as seq 1 of this case) atomically;
        idempotent by request_id like add_licence; a duplicate case_id raises AlreadyExists.
        An insert appends `audit` (if given) and files the steps `then` (each with its entry)
        in the same transaction; a retry appends and files nothing."""
        data = encode_json(case.data, "case data")
        first_event = event_params(
            case.case_id, 1, first, encode_json(first.detail, "case event detail")
        )
        filed = self._encode_steps(case.case_id, then)
        if not filed:
            with self._write(audit, atomic=False) as (conn, append):
                if self._insert_case(conn, case_params(case, data), first_event):
                    append()
                    return replace(case, data=decode_json(data)), True
                row = conn.execute(self.dialect.sql(_BY_REQUEST), (case.request_id,)).fetchone()
        else:
            with self._write_audited() as (conn, append_draft):
                if self._insert_case(conn, case_params(case, data), first_event):
                    if audit is not None:
                        append_draft(audit)
                    return self._file_steps(conn, append_draft, case.case_id, 1, filed), True
                row = conn.execute(self.dialect.sql(_BY_REQUEST), (case.request_id,)).fetchone()
        if row is None:  # the case_id is taken by another request
            raise AlreadyExists(f"case {case.case_id} already exists")
        stored = case_from_row(row)
        check_retry("case", stored.case_id, case.request_id, stored.request_hash, case.request_hash)
        return stored, False

    def advance_case(
        self, case_id: str, expected_version: int, steps: Sequence[CaseStep]
    ) -> CaseRecord:
        """transition_case for every step, in one transaction with every step's audit entry:
        all commit, or nothing does (FailedPrecondition / NotFound as transition_case)."""
        filed = self._encode_steps(case_id, steps)
        if not filed:
            raise InvalidArgument("advance_case needs at least one step")
        with self._write_audited() as (conn, append_draft):
            version = int(expected_version)
            row = self._update_case(conn, (*filed[0][0][:4], version), filed[0][1])
            if row is not None:
                append_draft(filed[0][2])
                if len(filed) == 1:
                    return case_from_row(row)
                return self._file_steps(conn, append_draft, case_id, version + 1, filed[1:])
            found = conn.execute(self.dialect.sql(_VERSION), (case_id,)).fetchone()
        if found is None:
            raise NotFound(f"case {case_id} not found")
        raise changed_concurrently(case_id, int(found[0]), expected_version)

    @staticmethod
    def _encode_steps(case_id: str, steps: Sequence[CaseStep]) -> list[_Filed]:
        """Each step's update parameters (without the version), event row and audit entry;
        encoded before any transaction opens, so a value that cannot be stored writes nothing.
        Consecutive steps with the same data share its encoding."""
        filed: list[_Filed] = []
        last_data: Mapping[str, Any] | None = None
        data_text = ""
        for step in steps:
            if step.data is not last_data:
                data_text = encode_json(step.data, "case data")
                last_data = step.data
            detail = encode_json(step.event.detail, "case event detail")
            update = (step.state, data_text, float(step.event.time), case_id)
            filed.append((update, event_params(case_id, 0, step.event, detail), step.audit))
        return filed

    def _file_steps(
        self,
        conn: Connection,
        append_draft: AppendDraft,
        case_id: str,
        version: int,
        filed: Sequence[_Filed],
    ) -> CaseRecord:
        """File steps inside the caller's transaction, the first expected at `version`; any
        failure raises, so the transaction rolls back whole."""
        row: Any = None
        for update, event, audit in filed:
            row = self._update_case(conn, (*update, version), event)
            if row is None:  # only another writer could have moved it, inside our transaction
                raise IntegrityError(f"case {case_id} changed while its steps were filed")
            append_draft(audit)
            version += 1
        return case_from_row(row)

    def get_case(self, case_id: str) -> CaseRecord | None:
        with self._connection() as conn:
            row = conn.execute(self.dialect.sql(_BY_ID), (case_id,)).fetchone()
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
        update = (state, data_text, float(event.time), case_id, int(expected_version))
        detail = encode_json(event.detail, "case event detail")
        filed = event_params(case_id, 0, event, detail)
        with self._write(audit, atomic=False) as (conn, append):
            row = self._update_case(conn, update, filed)
            if row is not None:
                append()
                return case_from_row(row)
            found = conn.execute(self.dialect.sql(_VERSION), (case_id,)).fetchone()
        if found is None:
            raise NotFound(f"case {case_id} not found")
        raise changed_concurrently(case_id, int(found[0]), expected_version)

    def case_events(self, case_id: str, after_seq: int = 0) -> list[CaseEvent]:
        """Events of a case with seq > after_seq, in order ([] for an unknown case)."""
        with self._connection() as conn:
            rows = conn.execute(self.dialect.sql(_EVENTS), (case_id, after_seq)).fetchall()
        return [event_from_row(row) for row in rows]

    def list_cases(
        self,
        owner_region: str | None = None,
        window_region: str | None = None,
        applicant_id: str | None = None,
    ) -> list[CaseRecord]:
        """Cases matching every given filter, oldest first (created_at, then insertion order)."""
        where, params = case_filters(owner_region, window_region, applicant_id, "?")
        # three optional filters make at most 8 shapes: each is rendered (and cached) once
        statement = self.dialect.sql(_LIST.replace("{where}", where))
        with self._connection() as conn:
            rows = conn.execute(statement, params).fetchall()
        return [case_from_row(row) for row in rows]

    def case_counts(self, owner_region: str) -> dict[str, int]:
        """Number of cases of `owner_region` in each state (states without cases left out)."""
        with self._connection() as conn:
            rows = conn.execute(self.dialect.sql(_COUNTS), (owner_region,)).fetchall()
        return {str(state): int(count) for state, count in rows}

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
            params.extend((float(before[0]), float(before[0]), before[1]))
        params.append(max(0, limit))
        # four optional filters and a cursor make at most 32 shapes, each rendered once
        statement = self.dialect.sql(_PAGE.replace("{where}", " AND ".join(clauses)))
        with self._connection() as conn:
            rows = conn.execute(statement, params).fetchall()
        return [case_from_row(row) for row in rows]

    def rate_case(self, rating: CaseRating) -> None:
        """Store the rating; AlreadyExists if the case was rated already."""
        params = rating_params(rating)
        with self._connection() as conn:
            try:
                conn.execute(self.dialect.sql(_RATE), params)
            except self.dialect.unique_violation:
                raise AlreadyExists(f"case {rating.case_id} was rated already") from None

    def case_ratings(self) -> list[CaseRating]:
        """Every rating, oldest first (rated_at, then insertion order)."""
        with self._connection() as conn:
            rows = conn.execute(self.dialect.sql(_RATINGS)).fetchall()
        return [rating_from_row(row) for row in rows]
