"""The Store methods whose SQL and logic every SQL backend shares, spelled by its dialect."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Self

from federation.audit import GENESIS_HASH, AuditRecord
from federation.errors import AlreadyExists, IntegrityError, NotFound
from federation.storage._records import (
    AUDIT_COLS,
    HOME_COLS,
    SESSION_COLS,
    SUBJECT_COLS,
    audit_from_row,
    home_from_row,
    session_from_row,
    session_params,
    subject_from_row,
    subject_params,
)
from federation.storage.base import (
    QuotaResult,
    Revocation,
    SessionRecord,
    SubjectHome,
    SubjectRecord,
)
from federation.storage.sql_cases import SqlCases
from federation.storage.sql_dialect import Connection
from federation.storage.sql_licences import SqlLicences

AUDIT_PAGE = 500
# Expired replay-cache rows are purged at most once per this many seconds of caller time, in
# bounded batches, so the per-token hot path stays one small upsert (the backends purge).
JTI_PURGE_INTERVAL = 30.0
JTI_PURGE_BATCH = 5000

_INSERT_SUBJECT = f"INSERT INTO subjects ({SUBJECT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_SUBJECT = f"SELECT {SUBJECT_COLS} FROM subjects WHERE subject_id = ?"
_SET_ATTESTATION = "UPDATE subjects SET home_attestation = ? WHERE subject_id = ?"
_CLAIM_HOME = (
    f"INSERT INTO subject_homes ({HOME_COLS}) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (subject_id) DO NOTHING"
)
_HOME = f"SELECT {HOME_COLS} FROM subject_homes WHERE subject_id = ?"
_PUT_TEMPLATE = (
    "INSERT INTO face_templates (subject_id, template) VALUES (?, {template})"
    " ON CONFLICT (subject_id) DO UPDATE SET template = excluded.template"
)
_TEMPLATE = "SELECT template FROM face_templates WHERE subject_id = ?"
_INSERT_SESSION = f"INSERT INTO sessions ({SESSION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_SESSION = f"SELECT {SESSION_COLS} FROM sessions WHERE session_id = ?"
_REVOKE = (
    "UPDATE sessions SET revoked_at = coalesce(revoked_at, ?) WHERE session_id = ?"
    f" RETURNING {SESSION_COLS}"
)
_REVOKED = (
    "SELECT session_id, revoked_at, expires_at FROM sessions"
    " WHERE revoked_at IS NOT NULL AND revoked_at >= ? AND expires_at > ?"
    " ORDER BY revoked_at, session_id"
)
_CONSUME = (
    "INSERT INTO quotas (bucket, period, used) SELECT ?, ?, 1 WHERE ? >= 1"
    " ON CONFLICT (bucket, period) DO UPDATE SET used = quotas.used + 1"
    " WHERE quotas.used < ? RETURNING used"
)
# a first sighting, or a sighting of a row that has expired (counted as absent, purged or not)
REMEMBER_JTI = (
    "INSERT INTO replay_cache (audience, jti, expires_at) VALUES (?, ?, ?)"
    " ON CONFLICT (audience, jti) DO UPDATE SET expires_at = excluded.expires_at"
    " WHERE replay_cache.expires_at <= ? RETURNING 1"
)
_QUOTA = "SELECT used FROM quotas WHERE bucket = ? AND period = ?"
_AUDIT_PAGE = (
    f"SELECT {AUDIT_COLS.replace(' detail,', ' detail{text},')} FROM audit_log"
    " WHERE seq > ? ORDER BY seq LIMIT ?"
)
_HEAD = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"


class SqlStore(SqlLicences, SqlCases):
    """Subjects, homes, face templates, sessions, quotas and audit reads in shared SQL; a backend
    adds connections, the schema, the replay cache and the audit-chain append."""

    # subjects
    def add_subject(self, subject: SubjectRecord) -> None:
        """Insert; raises federation.errors.AlreadyExists if the subject_id exists."""
        params = subject_params(subject)
        with self._connection() as conn:
            try:
                conn.execute(self.dialect.sql(_INSERT_SUBJECT), params)
            except self.dialect.unique_violation:
                raise AlreadyExists(f"subject {subject.subject_id} already exists") from None

    def get_subject(self, subject_id: str) -> SubjectRecord | None:
        with self._connection() as conn:
            row = conn.execute(self.dialect.sql(_SUBJECT), (subject_id,)).fetchone()
        return None if row is None else subject_from_row(row)

    def set_home_attestation(self, subject_id: str, attestation: str) -> None:
        """Store the hub's home attestation of a subject; raises NotFound if unknown."""
        with self._connection() as conn:
            cursor = conn.execute(self.dialect.sql(_SET_ATTESTATION), (attestation, subject_id))
            if cursor.rowcount == 0:
                raise NotFound(f"no subject {subject_id}")

    # home registry (hub)
    def claim_home(self, home: SubjectHome) -> SubjectHome:
        """Insert unless the subject already has a home; answer the stored home (atomic)."""
        # DO NOTHING waits for a racing insert of the same subject to commit; the SELECT that
        # follows (a new snapshot under PostgreSQL's READ COMMITTED) then sees the winner's row.
        params = (home.subject_id, home.kind, home.home_region, float(home.claimed_at))
        with self._write() as (conn, _):
            conn.execute(self.dialect.sql(_CLAIM_HOME), params)
            row = conn.execute(self.dialect.sql(_HOME), (home.subject_id,)).fetchone()
        if row is None:
            raise IntegrityError(f"home of {home.subject_id} vanished while claimed")
        return home_from_row(row)

    def get_home(self, subject_id: str) -> SubjectHome | None:
        with self._connection() as conn:
            row = conn.execute(self.dialect.sql(_HOME), (subject_id,)).fetchone()
        return None if row is None else home_from_row(row)

    # face templates
    def put_face_template(self, subject_id: str, template: Sequence[float]) -> None:
        """Insert or replace the enrolled template of a subject."""
        value = self.dialect.encode_template(template)
        with self._connection() as conn:
            conn.execute(self.dialect.sql(_PUT_TEMPLATE), (subject_id, value))

    def get_face_template(self, subject_id: str) -> list[float] | None:
        with self._connection() as conn:
            row = conn.execute(self.dialect.sql(_TEMPLATE), (subject_id,)).fetchone()
        return None if row is None else self.dialect.decode_template(row[0])

    # sessions
    def add_session(self, session: SessionRecord) -> None:
        """Insert; raises federation.errors.AlreadyExists if the session_id exists."""
        params = session_params(session)
        with self._connection() as conn:
            try:
                conn.execute(self.dialect.sql(_INSERT_SESSION), params)
            except self.dialect.unique_violation:
                raise AlreadyExists(f"session {session.session_id} already exists") from None

    def get_session(self, session_id: str) -> SessionRecord | None:
        with self._connection() as conn:
            row = conn.execute(self.dialect.sql(_SESSION), (session_id,)).fetchone()
        return None if row is None else session_from_row(row)

    def revoke_session(self, session_id: str, at: float) -> SessionRecord | None:
        """Mark revoked (idempotent: the first revocation time is kept); None if unknown."""
        # fetchall: SQLite commits a RETURNING statement only once it is stepped to the end
        with self._connection() as conn:
            rows = conn.execute(self.dialect.sql(_REVOKE), (float(at), session_id)).fetchall()
        return session_from_row(rows[0]) if rows else None

    def revoked_sessions(self, since: float, now: float) -> list[Revocation]:
        """Sessions revoked at or after `since` that have not yet expired at `now`."""
        with self._connection() as conn:
            rows = conn.execute(self.dialect.sql(_REVOKED), (float(since), float(now))).fetchall()
        return [Revocation(r[0], float(r[1]), float(r[2])) for r in rows]

    # quotas (hub face verification)
    def consume_quota(self, bucket: str, period: str, limit: int) -> QuotaResult:
        """Atomically add one use to (bucket, period) unless `limit` is already reached."""
        with self._write(atomic=False) as (conn, _):
            rows = conn.execute(
                self.dialect.sql(_CONSUME), (bucket, period, limit, limit)
            ).fetchall()
            if rows:
                return QuotaResult(True, int(rows[0][0]), limit)
            # refused: one more read, off the fast path
            row = conn.execute(self.dialect.sql(_QUOTA), (bucket, period)).fetchone()
        return QuotaResult(False, 0 if row is None else int(row[0]), limit)

    def quota_used(self, bucket: str, period: str) -> int:
        """Uses counted against (bucket, period) so far (0 if none)."""
        with self._connection() as conn:
            row = conn.execute(self.dialect.sql(_QUOTA), (bucket, period)).fetchone()
        return 0 if row is None else int(row[0])

    # audit log (the append, with its locking, is the backend's)
    def audit_entries(self, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        """Entries with seq > after_seq, in order (read in pages; no connection held between)."""
        remaining = limit
        while remaining is None or remaining > 0:
            page = AUDIT_PAGE if remaining is None else min(AUDIT_PAGE, remaining)
            with self._connection() as conn:
                rows = conn.execute(self.dialect.sql(_AUDIT_PAGE), (after_seq, page)).fetchall()
            for row in rows:
                yield audit_from_row(row)
            if len(rows) < page:
                return
            after_seq = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry, or (0, GENESIS_HASH) if the log is empty."""
        with self._connection() as conn:
            return self._head(conn)

    @staticmethod
    def _head(conn: Connection) -> tuple[int, str]:
        row = conn.execute(_HEAD).fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
