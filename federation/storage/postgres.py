"""PostgreSQL node store (psycopg 3 with a connection pool); one schema per node in a shared DB."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from federation.audit import AUDIT_UNAVAILABLE, GENESIS_HASH, AuditDraft, AuditRecord, link
from federation.errors import AlreadyExists, FailedPrecondition, InvalidArgument, Unavailable
from federation.storage._records import encode_json
from federation.storage.base import QuotaResult, Revocation, SessionRecord, SubjectRecord
from federation.storage.postgres_cases import PostgresCases
from federation.storage.postgres_homes import PostgresHomes
from federation.storage.postgres_licences import PostgresLicences
from federation.storage.postgres_schema import Connection, migrate

# lower case only: an unquoted name in search_path is folded to lower case by the server
_SCHEMA_NAME = re.compile(r"^(?!pg_)[a-z_][a-z0-9_]{0,62}$")
JTI_PURGE_INTERVAL = 30.0
JTI_PURGE_BATCH = 5000
AUDIT_PAGE = 500
AUDIT_APPEND_ATTEMPTS = 50
AUDIT_CONTENDED_SECONDS = 5.0

_SUBJECT_COLS = (
    "subject_id, kind, name, home_region, password_hash, created_at, home_attestation"
)
_SESSION_COLS = "session_id, subject_id, secret_hash, acr, created_at, expires_at, revoked_at"
_AUDIT_COLS = "seq, time, actor, action, outcome, subject, detail, prev_hash, hash"
_AUDIT_READ = "seq, time, actor, action, outcome, subject, detail::text, prev_hash, hash"


def parse_postgres_url(url: str) -> tuple[str, str | None]:
    """(libpq conninfo, schema) from postgresql://...?schema=NAME; other parameters go to libpq."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise InvalidArgument("a PostgreSQL store URL starts with postgresql:// or postgres://")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    if len(schemas) > 1:
        raise InvalidArgument("give the store URL parameter 'schema' at most once")
    schema = schemas[0] if schemas else None
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise InvalidArgument(
            "schema must be 1-63 lower-case letters, digits or '_', not starting with a digit"
            " or 'pg_'"
        )
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
    try:
        options = conninfo_to_dict(base).get("options")
        if schema is not None:
            options = f"{options or ''} -c search_path={schema}".strip()
        conninfo = make_conninfo(base, options=options) if options else make_conninfo(base)
    except psycopg.ProgrammingError as exc:
        raise InvalidArgument(f"invalid PostgreSQL store URL: {exc}") from None
    return conninfo, schema


def _subject(row: Sequence[Any]) -> SubjectRecord:
    return SubjectRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


def _session(row: Sequence[Any]) -> SessionRecord:
    return SessionRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


def _audit(row: Sequence[Any]) -> AuditRecord:
    return AuditRecord(
        seq=row[0],
        time=row[1],
        actor=row[2],
        action=row[3],
        outcome=row[4],
        subject=row[5],
        detail=json.loads(row[6]),
        prev_hash=row[7],
        hash=row[8],
    )


class PostgresStore(PostgresLicences, PostgresCases, PostgresHomes):
    """The Store protocol on a psycopg pool; hot-path calls are one autocommit round trip."""

    def __init__(
        self,
        conninfo: str,
        schema: str | None = None,
        *,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 10.0,
    ) -> None:
        self.schema = schema
        self._closed = False
        self._purge_lock = threading.Lock()
        self._next_purge = float("-inf")
        # In-process appends are serialised here and link to the cached head; other processes
        # on the same schema are detected by the seq primary key and force a re-read.
        self._audit_lock = threading.Lock()
        self._audit_head: tuple[int, str] | None = None
        self._audit_contended_until = float("-inf")
        digest = hashlib.sha256(f"yrd-audit:{schema}".encode()).digest()
        self._audit_lock_key = int.from_bytes(digest[:8], "big", signed=True)
        self._setup(conninfo, schema)
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            kwargs={"autocommit": True},
            name=f"yrd-store-{schema or 'default'}",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise Unavailable(f"PostgreSQL store pool did not open: {exc}") from None

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        conninfo, schema = parse_postgres_url(url)
        return cls(conninfo, schema)

    @staticmethod
    def _setup(conninfo: str, schema: str | None) -> None:
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
                # nodes opening the same schema at once would race on CREATE ... IF NOT EXISTS
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"yrd-store:{schema}",))
                if schema is not None:
                    conn.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                    )
                migrate(conn)
        except psycopg.OperationalError as exc:
            raise Unavailable(f"PostgreSQL store unreachable: {str(exc).strip()}") from None
        except psycopg.Error as exc:
            raise FailedPrecondition(f"PostgreSQL store setup failed: {exc}") from None

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        if self._closed:
            raise FailedPrecondition("the store is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolClosed:
            raise FailedPrecondition("the store is closed") from None
        except PoolTimeout as exc:
            raise Unavailable(f"no PostgreSQL connection available: {exc}") from None
        except pg_errors.ProgramLimitExceeded as exc:  # e.g. a value too large for its index
            raise InvalidArgument(f"value too large for the store: {exc}") from None
        except psycopg.OperationalError as exc:
            raise Unavailable(f"PostgreSQL store unavailable: {str(exc).strip()}") from None
        except psycopg.DataError as exc:
            raise InvalidArgument(f"value rejected by PostgreSQL: {exc}") from None

    # subjects
    def add_subject(self, subject: SubjectRecord) -> None:
        """Insert; raises federation.errors.AlreadyExists if the subject_id exists."""
        with self._connection() as conn:
            try:
                conn.execute(
                    f"INSERT INTO subjects ({_SUBJECT_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        subject.subject_id,
                        subject.kind,
                        subject.name,
                        subject.home_region,
                        subject.password_hash,
                        float(subject.created_at),
                        subject.home_attestation,
                    ),
                )
            except pg_errors.UniqueViolation:
                raise AlreadyExists(f"subject {subject.subject_id} already exists") from None

    def get_subject(self, subject_id: str) -> SubjectRecord | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {_SUBJECT_COLS} FROM subjects WHERE subject_id = %s", (subject_id,)
            ).fetchone()
        return None if row is None else _subject(row)

    # face templates
    def put_face_template(self, subject_id: str, template: Sequence[float]) -> None:
        """Insert or replace the enrolled template of a subject."""
        try:
            values = [float(x) for x in template]
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"a face template is a sequence of numbers: {exc}") from None
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO face_templates (subject_id, template) VALUES (%s, %s::float8[])"
                " ON CONFLICT (subject_id) DO UPDATE SET template = EXCLUDED.template",
                (subject_id, values),
            )

    def get_face_template(self, subject_id: str) -> list[float] | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT template FROM face_templates WHERE subject_id = %s", (subject_id,)
            ).fetchone()
        return None if row is None else list(row[0])

    # sessions
    def add_session(self, session: SessionRecord) -> None:
        """Insert; raises federation.errors.AlreadyExists if the session_id exists."""
        revoked = None if session.revoked_at is None else float(session.revoked_at)
        with self._connection() as conn:
            try:
                conn.execute(
                    f"INSERT INTO sessions ({_SESSION_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        session.session_id,
                        session.subject_id,
                        session.secret_hash,
                        session.acr,
                        float(session.created_at),
                        float(session.expires_at),
                        revoked,
                    ),
                )
            except pg_errors.UniqueViolation:
                raise AlreadyExists(f"session {session.session_id} already exists") from None

    def get_session(self, session_id: str) -> SessionRecord | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE session_id = %s", (session_id,)
            ).fetchone()
        return None if row is None else _session(row)

    def revoke_session(self, session_id: str, at: float) -> SessionRecord | None:
        """Mark revoked (idempotent: the first revocation time is kept); None if unknown."""
        with self._connection() as conn:
            row = conn.execute(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, %s)"
                f" WHERE session_id = %s RETURNING {_SESSION_COLS}",
                (float(at), session_id),
            ).fetchone()
        return None if row is None else _session(row)

    def revoked_sessions(self, since: float, now: float) -> list[Revocation]:
        """Sessions revoked at or after `since` that have not yet expired at `now`."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT session_id, revoked_at, expires_at FROM sessions"
                " WHERE revoked_at IS NOT NULL AND revoked_at >= %s AND expires_at > %s"
                " ORDER BY revoked_at, session_id",
                (float(since), float(now)),
            ).fetchall()
        return [Revocation(r[0], r[1], r[2]) for r in rows]

    # replay cache
    def remember_jti(
        self,
        audience: str,
        jti: str,
        expires_at: float,
        now: float,
        audit: AuditDraft | None = None,
    ) -> bool:
        """Record (audience, jti); True if first seen, False if a replay. Purges expired rows.
        A first sighting appends `audit` (if given) in the same transaction."""
        if audit is None:
            with self._connection() as conn:
                first = self._insert_jti(conn, audience, jti, expires_at, now)
                self._maybe_purge(conn, now)
            return first
        with self._audited() as (conn, append):
            first = self._insert_jti(conn, audience, jti, expires_at, now)
            if first:
                append(audit)
        with self._connection() as conn:
            self._maybe_purge(conn, now)
        return first

    @staticmethod
    def _insert_jti(
        conn: Connection, audience: str, jti: str, expires_at: float, now: float
    ) -> bool:
        # a row that has already expired counts as absent, whether or not it was purged yet
        row = conn.execute(
            "INSERT INTO replay_cache (audience, jti, expires_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (audience, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at"
            " WHERE replay_cache.expires_at <= %s RETURNING 1",
            (audience, jti, float(expires_at), float(now)),
        ).fetchone()
        return row is not None

    def _maybe_purge(self, conn: Connection, now: float) -> None:
        if now >= self._next_purge and self._purge_lock.acquire(blocking=False):
            try:
                self._purge_expired(conn, float(now))
            finally:
                self._purge_lock.release()

    def _purge_expired(self, conn: Connection, now: float) -> None:
        deleted = conn.execute(
            "DELETE FROM replay_cache WHERE (audience, jti) IN (SELECT audience, jti"
            " FROM replay_cache WHERE expires_at <= %s LIMIT %s)",
            (now, JTI_PURGE_BATCH),
        ).rowcount
        self._next_purge = now if deleted >= JTI_PURGE_BATCH else now + JTI_PURGE_INTERVAL

    # quotas
    def consume_quota(self, bucket: str, period: str, limit: int) -> QuotaResult:
        """Atomically add one use to (bucket, period) unless `limit` is already reached."""
        with self._connection() as conn:
            row = conn.execute(
                "INSERT INTO quotas (bucket, period, used) SELECT %s, %s, 1 WHERE %s >= 1"
                " ON CONFLICT (bucket, period) DO UPDATE SET used = quotas.used + 1"
                " WHERE quotas.used < %s RETURNING used",
                (bucket, period, limit, limit),
            ).fetchone()
            if row is not None:
                return QuotaResult(True, int(row[0]), limit)
            # refused: one more read, off the fast path
            row = conn.execute(
                "SELECT used FROM quotas WHERE bucket = %s AND period = %s", (bucket, period)
            ).fetchone()
        return QuotaResult(False, 0 if row is None else int(row[0]), limit)

    # audit log
    def append_audit(self, draft: AuditDraft) -> AuditRecord:
        """Link the draft after the current head (federation.audit.link) and persist it."""
        detail = encode_json(draft.detail, "audit detail")
        with self._audit_lock, self._connection() as conn:
            for _ in range(AUDIT_APPEND_ATTEMPTS):
                if time.monotonic() < self._audit_contended_until:
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._audit_lock_key,))
                        record = self._insert_audit(conn, draft, detail, self._head(conn))
                else:
                    head = self._audit_head or self._head(conn)
                    record = self._insert_audit(conn, draft, detail, head)
                if record is not None:
                    return record
                # Another process appends to this schema too: queue behind a shared lock for a
                # while, so neither writer can starve the other by always winning the race.
                self._audit_contended_until = time.monotonic() + AUDIT_CONTENDED_SECONDS
        raise Unavailable("audit log too contended: another writer kept appending")

    def _insert_audit(
        self, conn: Connection, draft: AuditDraft, detail: str, head: tuple[int, str]
    ) -> AuditRecord | None:
        """Insert the draft as entry head+1; None if that seq was taken meanwhile."""
        self._audit_head = None  # unknown until the insert is known to have committed
        record = self._link_insert(conn, draft, detail, head)
        if record is not None:
            self._audit_head = (record.seq, record.hash)
        return record

    @staticmethod
    def _link_insert(
        conn: Connection, draft: AuditDraft, detail: str, head: tuple[int, str]
    ) -> AuditRecord | None:
        try:
            record = link(draft, head[0] + 1, head[1])
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"audit entry cannot be hashed: {exc}") from None
        inserted = conn.execute(
            f"INSERT INTO audit_log ({_AUDIT_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (seq) DO NOTHING RETURNING seq",
            (
                record.seq,
                float(record.time),
                record.actor,
                record.action,
                record.outcome,
                record.subject,
                detail,
                record.prev_hash,
                record.hash,
            ),
        ).fetchone()
        return None if inserted is None else record

    @contextmanager
    def _audited(self) -> Iterator[tuple[Connection, Callable[[AuditDraft], AuditRecord]]]:
        """A transaction whose audit appends commit or roll back with its other writes."""
        appended: list[AuditRecord] = []
        with self._audit_lock, self._connection() as conn:
            with conn.transaction():

                def append(draft: AuditDraft) -> AuditRecord:
                    record = self._append_within(conn, draft)
                    appended.append(record)
                    return record

                yield conn, append
            # committed: only now may later appends link to this entry
            if appended:
                self._audit_head = (appended[-1].seq, appended[-1].hash)

    def _append_within(self, conn: Connection, draft: AuditDraft) -> AuditRecord:
        detail = encode_json(draft.detail, "audit detail")
        head = self._audit_head or self._head(conn)
        try:
            for _ in range(AUDIT_APPEND_ATTEMPTS):
                record = self._link_insert(conn, draft, detail, head)
                if record is not None:
                    return record
                # another process appended meanwhile; each statement sees the newest commit
                head = self._head(conn)
        except psycopg.Error as exc:
            raise Unavailable(f"{AUDIT_UNAVAILABLE} ({str(exc).strip()})") from exc
        raise Unavailable(f"{AUDIT_UNAVAILABLE} (audit log too contended)")

    def audit_entries(self, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        """Entries with seq > after_seq, in order (read in pages; no connection held between)."""
        remaining = limit
        while remaining is None or remaining > 0:
            page = AUDIT_PAGE if remaining is None else min(AUDIT_PAGE, remaining)
            with self._connection() as conn:
                rows = conn.execute(
                    f"SELECT {_AUDIT_READ} FROM audit_log WHERE seq > %s ORDER BY seq LIMIT %s",
                    (after_seq, page),
                ).fetchall()
            for row in rows:
                yield _audit(row)
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
        row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def close(self) -> None:
        """Close the pool (idempotent); later calls raise FailedPrecondition."""
        if not self._closed:
            self._closed = True
            self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self.schema!r})"
