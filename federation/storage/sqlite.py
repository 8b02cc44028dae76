"""SQLite node store: one WAL-mode file per node, safe to call from a gRPC server's thread pool."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from federation.audit import AUDIT_UNAVAILABLE, GENESIS_HASH, AuditDraft, AuditRecord, link
from federation.errors import (
    AlreadyExists,
    FailedPrecondition,
    IntegrityError,
    InvalidArgument,
    Unavailable,
)
from federation.storage._records import encode_json
from federation.storage.base import QuotaResult, Revocation, SessionRecord, SubjectRecord
from federation.storage.sqlite_cases import SqliteCases
from federation.storage.sqlite_homes import SqliteHomes
from federation.storage.sqlite_licences import SqliteLicences
from federation.storage.sqlite_schema import migrate

MEMORY = ":memory:"
DEFAULT_FILENAME = "node.sqlite3"
BUSY_TIMEOUT_MS = 5000
# Expired replay-cache rows are purged at most once per this many seconds of caller time, in
# bounded batches, so the per-token hot path stays one small upsert.
JTI_PURGE_INTERVAL = 30.0
JTI_PURGE_BATCH = 5000
AUDIT_PAGE = 500
# WAL + NORMAL: a commit has been written (write(2)) to the WAL before it returns, so it survives
# the process being killed (kill -9) because the OS page cache still holds it; only a power loss
# or kernel crash can lose the last transactions, and never corrupts the file. FULL also fsyncs
# the WAL on every commit and survives power loss, at a large latency cost: `?synchronous=full`.
SYNCHRONOUS_MODES = {"normal": "NORMAL", "full": "FULL"}

_SUBJECT_COLS = (
    "subject_id, kind, name, home_region, password_hash, created_at, home_attestation"
)
_SESSION_COLS = "session_id, subject_id, secret_hash, acr, created_at, expires_at, revoked_at"
_AUDIT_COLS = "seq, time, actor, action, outcome, subject, detail, prev_hash, hash"


def default_sqlite_url(data_dir: str | os.PathLike[str], filename: str = DEFAULT_FILENAME) -> str:
    """The store URL of a node whose data lives in `data_dir`: sqlite:///<abs dir>/node.sqlite3."""
    path = Path(data_dir).expanduser().resolve() / filename
    return "sqlite://" + quote(path.as_posix())


def parse_sqlite_url(url: str) -> tuple[str, str]:
    """(database path or ':memory:', synchronous mode) from sqlite:///abs/path[?synchronous=full]."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        raise InvalidArgument("a SQLite store URL starts with sqlite:///")
    if parts.netloc:
        raise InvalidArgument("a SQLite store URL has no host: use sqlite:///absolute/path")
    path = unquote(parts.path)
    if path == "/" + MEMORY:
        path = MEMORY
    elif path in ("", "/") or path.endswith("/"):
        raise InvalidArgument("a SQLite store URL needs a file path: sqlite:///absolute/path")
    synchronous = "normal"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "synchronous":
            raise InvalidArgument(f"unknown SQLite store URL parameter {key!r}; known: synchronous")
        if value.lower() not in SYNCHRONOUS_MODES:
            raise InvalidArgument("synchronous must be 'normal' or 'full'")
        synchronous = value.lower()
    return path, synchronous


def encode_detail(detail: Mapping[str, Any]) -> str:
    """Audit detail as strict JSON text that decodes to a value with the same canonical hash."""
    return encode_json(detail, "audit detail")


def pack_template(template: Sequence[float]) -> bytes:
    try:
        return struct.pack(f"<{len(template)}d", *template)
    except struct.error as exc:
        raise InvalidArgument(f"a face template is a sequence of numbers: {exc}") from None


def _unpack_template(blob: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(blob) // 8}d", blob))


def _subject(row: Sequence[Any]) -> SubjectRecord:
    return SubjectRecord(row[0], row[1], row[2], row[3], row[4], float(row[5]), row[6])


def _session(row: Sequence[Any]) -> SessionRecord:
    revoked = None if row[6] is None else float(row[6])
    return SessionRecord(row[0], row[1], row[2], row[3], float(row[4]), float(row[5]), revoked)


def _audit(row: Sequence[Any]) -> AuditRecord:
    return AuditRecord(
        seq=row[0],
        time=float(row[1]),
        actor=row[2],
        action=row[3],
        outcome=row[4],
        subject=row[5],
        detail=json.loads(row[6]),
        prev_hash=row[7],
        hash=row[8],
    )


class SqliteStore(SqliteLicences, SqliteCases, SqliteHomes):
    """The Store protocol on one SQLite connection, serialised by a lock (calls are short)."""

    def __init__(
        self, path: str, *, synchronous: str = "normal", busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise InvalidArgument("synchronous must be 'normal' or 'full'")
        self.path = path
        self._lock = threading.Lock()
        self._next_purge = float("-inf")
        try:
            conn = sqlite3.connect(
                path,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot open SQLite store {path}: {exc}") from None
        self._conn: sqlite3.Connection | None = conn
        try:
            self._setup(conn, synchronous, busy_timeout_ms)
        except BaseException:
            conn.close()
            self._conn = None
            raise

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        path, synchronous = parse_sqlite_url(url)
        return cls(path, synchronous=synchronous)

    def _setup(self, conn: sqlite3.Connection, synchronous: str, busy_timeout_ms: int) -> None:
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if self.path != MEMORY:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS_MODES[synchronous]}")
            with self._transaction(conn):
                migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise Unavailable(f"cannot open SQLite store {self.path}: {exc}") from None

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: a read that later upgrades to a write in WAL
        # mode fails with SQLITE_BUSY at once instead of waiting on the busy timeout.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise FailedPrecondition("the store is closed")
            try:
                yield conn
            except sqlite3.OperationalError as exc:  # locked past the busy timeout, I/O error
                raise Unavailable(f"SQLite store unavailable: {exc}") from None
            except sqlite3.DatabaseError as exc:
                raise IntegrityError(f"SQLite store damaged: {exc}") from None

    @property
    def synchronous(self) -> str:
        """The effective synchronous mode, read back from SQLite ('normal' or 'full')."""
        with self._connection() as conn:
            level = conn.execute("PRAGMA synchronous").fetchone()[0]
        return {1: "normal", 2: "full"}.get(level, str(level))

    # subjects
    def add_subject(self, subject: SubjectRecord) -> None:
        """Insert; raises federation.errors.AlreadyExists if the subject_id exists."""
        with self._connection() as conn:
            try:
                conn.execute(
                    f"INSERT INTO subjects ({_SUBJECT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        subject.subject_id,
                        subject.kind,
                        subject.name,
                        subject.home_region,
                        subject.password_hash,
                        subject.created_at,
                        subject.home_attestation,
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"subject {subject.subject_id} already exists") from None

    def get_subject(self, subject_id: str) -> SubjectRecord | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {_SUBJECT_COLS} FROM subjects WHERE subject_id = ?", (subject_id,)
            ).fetchone()
        return None if row is None else _subject(row)

    # face templates
    def put_face_template(self, subject_id: str, template: Sequence[float]) -> None:
        """Insert or replace the enrolled template of a subject."""
        blob = pack_template(template)
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO face_templates (subject_id, template) VALUES (?, ?)"
                " ON CONFLICT (subject_id) DO UPDATE SET template = excluded.template",
                (subject_id, blob),
            )

    def get_face_template(self, subject_id: str) -> list[float] | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT template FROM face_templates WHERE subject_id = ?", (subject_id,)
            ).fetchone()
        return None if row is None else _unpack_template(row[0])

    # sessions
    def add_session(self, session: SessionRecord) -> None:
        """Insert; raises federation.errors.AlreadyExists if the session_id exists."""
        with self._connection() as conn:
            try:
                conn.execute(
                    f"INSERT INTO sessions ({_SESSION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        session.session_id,
                        session.subject_id,
                        session.secret_hash,
                        session.acr,
                        session.created_at,
                        session.expires_at,
                        session.revoked_at,
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"session {session.session_id} already exists") from None

    def get_session(self, session_id: str) -> SessionRecord | None:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
        return None if row is None else _session(row)

    def revoke_session(self, session_id: str, at: float) -> SessionRecord | None:
        """Mark revoked (idempotent: the first revocation time is kept); None if unknown."""
        with self._connection() as conn:
            rows = conn.execute(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, ?) WHERE session_id = ?"
                f" RETURNING {_SESSION_COLS}",
                (at, session_id),
            ).fetchall()
        return _session(rows[0]) if rows else None

    def revoked_sessions(self, since: float, now: float) -> list[Revocation]:
        """Sessions revoked at or after `since` that have not yet expired at `now`."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT session_id, revoked_at, expires_at FROM sessions"
                " WHERE revoked_at IS NOT NULL AND revoked_at >= ? AND expires_at > ?"
                " ORDER BY revoked_at, session_id",
                (since, now),
            ).fetchall()
        return [Revocation(r[0], float(r[1]), float(r[2])) for r in rows]

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
        with self._connection() as conn, self._transaction(conn):
            # a row that has already expired counts as absent, whether or not it was purged yet
            first = conn.execute(
                "INSERT INTO replay_cache (audience, jti, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (audience, jti) DO UPDATE SET expires_at = excluded.expires_at"
                " WHERE replay_cache.expires_at <= ? RETURNING 1",
                (audience, jti, expires_at, now),
            ).fetchall()
            if first and audit is not None:
                self._append_within(conn, audit)
            if now >= self._next_purge:
                deleted = conn.execute(
                    "DELETE FROM replay_cache WHERE rowid IN (SELECT rowid FROM replay_cache"
                    " WHERE expires_at <= ? LIMIT ?)",
                    (now, JTI_PURGE_BATCH),
                ).rowcount
                self._next_purge = now if deleted >= JTI_PURGE_BATCH else now + JTI_PURGE_INTERVAL
        return bool(first)

    # quotas
    def consume_quota(self, bucket: str, period: str, limit: int) -> QuotaResult:
        """Atomically add one use to (bucket, period) unless `limit` is already reached."""
        with self._connection() as conn, self._transaction(conn):
            rows = conn.execute(
                "INSERT INTO quotas (bucket, period, used) SELECT ?, ?, 1 WHERE ? >= 1"
                " ON CONFLICT (bucket, period) DO UPDATE SET used = used + 1 WHERE used < ?"
                " RETURNING used",
                (bucket, period, limit, limit),
            ).fetchall()
            if rows:
                return QuotaResult(True, int(rows[0][0]), limit)
            row = conn.execute(
                "SELECT used FROM quotas WHERE bucket = ? AND period = ?", (bucket, period)
            ).fetchone()
        return QuotaResult(False, 0 if row is None else int(row[0]), limit)

    # audit log
    def append_audit(self, draft: AuditDraft) -> AuditRecord:
        """Link the draft after the current head (federation.audit.link) and persist it."""
        with self._connection() as conn, self._transaction(conn):
            return self._append_linked(conn, draft)

    def _append_linked(self, conn: sqlite3.Connection, draft: AuditDraft) -> AuditRecord:
        detail = encode_detail(draft.detail)
        seq, prev = self._head(conn)
        try:
            record = link(draft, seq + 1, prev)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"audit entry cannot be hashed: {exc}") from None
        conn.execute(
            f"INSERT INTO audit_log ({_AUDIT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.seq,
                record.time,
                record.actor,
                record.action,
                record.outcome,
                record.subject,
                detail,
                record.prev_hash,
                record.hash,
            ),
        )
        return record

    def _append_within(self, conn: sqlite3.Connection, draft: AuditDraft) -> AuditRecord:
        """Append inside the caller's open transaction, which commits or rolls back with it."""
        try:
            return self._append_linked(conn, draft)
        except sqlite3.Error as exc:
            raise Unavailable(f"{AUDIT_UNAVAILABLE} ({exc})") from exc

    def audit_entries(self, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        """Entries with seq > after_seq, in order (read in pages; the lock is not held between)."""
        remaining = limit
        while remaining is None or remaining > 0:
            page = AUDIT_PAGE if remaining is None else min(AUDIT_PAGE, remaining)
            with self._connection() as conn:
                rows = conn.execute(
                    f"SELECT {_AUDIT_COLS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
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
    def _head(conn: sqlite3.Connection) -> tuple[int, str]:
        row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise FailedPrecondition."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
