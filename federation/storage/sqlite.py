"""SQLite node store: one WAL-mode file per node, safe to call from a gRPC server's thread pool."""

from __future__ import annotations

import os
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from federation.audit import (
    AUDIT_UNAVAILABLE,
    AuditDraft,
    AuditRecord,
    canonical_detail,
    draft_hash,
    sealed,
)
from federation.errors import FailedPrecondition, IntegrityError, InvalidArgument, Unavailable
from federation.storage._records import (
    AUDIT_COLS,
    CASE_COLS,
    EVENT_COLS,
    decode_json,
    party_params,
)
from federation.storage.base import LicenceRecord, WouldWait
from federation.storage.group_commit import CommitObserver, GroupCommit
from federation.storage.sql_dialect import (
    Append,
    AppendDraft,
    Connection,
    Dialect,
    Row,
    no_append,
)
from federation.storage.sql_store import (
    JTI_PURGE_BATCH,
    JTI_PURGE_INTERVAL,
    REMEMBER_JTI,
    SqlStore,
)
from federation.storage.sqlite_batch import HeldTransaction
from federation.storage.sqlite_checkpoint import WalCheckpointer
from federation.storage.sqlite_schema import migrate

MEMORY = ":memory:"
DEFAULT_FILENAME = "node.sqlite3"
BUSY_TIMEOUT_MS = 5000
# WAL + NORMAL: a commit has been written (write(2)) to the WAL before it returns, so it survives
# the process being killed (kill -9) because the OS page cache still holds it; only a power loss
# or kernel crash can lose the last transactions, and never corrupts the file. FULL also fsyncs
# the WAL on every commit and survives power loss, at a large latency cost: `?synchronous=full`.
SYNCHRONOUS_MODES = {"normal": "NORMAL", "full": "FULL"}

_INSERT_PARTY = "INSERT INTO licence_parties (identifier, party_code) VALUES (?, ?)"
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
# replay_cache has no rowid (schema version 5): rows go by their key, found by the PK
_PURGE_JTI = (
    "DELETE FROM replay_cache WHERE (audience, jti) IN (SELECT audience, jti FROM replay_cache"
    " WHERE expires_at <= ? LIMIT ?)"
)
_INSERT_AUDIT = f"INSERT INTO audit_log ({AUDIT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


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


def pack_template(template: Sequence[float]) -> bytes:
    try:
        return struct.pack(f"<{len(template)}d", *template)
    except struct.error as exc:
        raise InvalidArgument(f"a face template is a sequence of numbers: {exc}") from None


def _unpack_template(blob: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(blob) // 8}d", blob))


def _batch_wide(exc: BaseException) -> bool:
    """A store failure, which fails a whole group-committed batch (nothing of it committed)."""
    return isinstance(exc, (sqlite3.Error, Unavailable))


def _translate(exc: Exception) -> Exception | None:
    if isinstance(exc, sqlite3.OperationalError):  # locked past the busy timeout, I/O error
        return Unavailable(f"SQLite store unavailable: {exc}")
    if isinstance(exc, sqlite3.DatabaseError):
        return IntegrityError(f"SQLite store damaged: {exc}")
    return None


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    insertion_order="rowid",
    json_param="?",
    json_text="",
    template_param="?",
    array_agg="json_group_array",
    unique_violation=(sqlite3.IntegrityError,),
    translate=_translate,
    encode_template=pack_template,
    decode_template=_unpack_template,
    decode_parties=decode_json,
)


class SqliteStore(SqlStore):
    """The Store protocol on one SQLite connection, serialised by a lock (calls are short).

    Replay-cache and audit appends go through a group committer: under concurrency they share
    one IMMEDIATE transaction per batch, and each caller returns only after that COMMIT.
    """

    dialect = SQLITE

    def __init__(
        self, path: str, *, synchronous: str = "normal", busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise InvalidArgument("synchronous must be 'normal' or 'full'")
        self.path = path
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._no_wait = threading.local()  # .on: this thread's calls must not wait (see below)
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
        # replay-cache and audit appends share transactions under load (one commit per batch)
        self._group: GroupCommit[sqlite3.Connection] = GroupCommit(self._batch, _batch_wide)
        self._checkpointer: WalCheckpointer | None = None
        try:
            self._setup(conn, synchronous, busy_timeout_ms)
            if path != MEMORY:
                self._checkpointer = WalCheckpointer(path)
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
                # checkpoints run on a background thread (sqlite_checkpoint), not in a COMMIT
                conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS_MODES[synchronous]}")
            # the schema in one IMMEDIATE transaction, as every write (HeldTransaction); no
            # checkpointer to tell yet, nor another thread to hold the lock against
            conn.execute("BEGIN IMMEDIATE")
            try:
                migrate(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise Unavailable(f"cannot open SQLite store {self.path}: {exc}") from None

    def _connection(self) -> AbstractContextManager[sqlite3.Connection]:
        """The one connection, held by this thread until the `with` block ends (callers always
        enter it at once). Inside `without_waiting`, WouldWait instead of waiting for it."""
        self._take_lock()
        return self._held_connection()

    def _take_lock(self) -> None:
        """Take the connection's lock, waiting for it; inside `without_waiting`, WouldWait
        instead of waiting."""
        if getattr(self._no_wait, "on", False):
            if not self._lock.acquire(blocking=False):
                raise WouldWait("the SQLite connection is in use by another thread")
        else:
            self._lock.acquire()

    @contextmanager
    def without_waiting(self) -> Iterator[bool]:
        """Calls on this thread take the connection only if it is free, else raise WouldWait
        (before anything is written). Not with synchronous=FULL, whose commits wait on fsync:
        then this yields False and changes nothing."""
        if self._synchronous != "normal" or getattr(self._no_wait, "on", False):
            yield self._synchronous == "normal"
            return
        self._no_wait.on = True
        try:
            yield True
        finally:
            self._no_wait.on = False

    def _connection_now(self) -> AbstractContextManager[sqlite3.Connection] | None:
        """`_connection`, but None instead of waiting when another thread holds it: a read
        in WAL mode then costs no more than a thread hop would (no lock, no disk wait)."""
        if not self._lock.acquire(blocking=False):
            return None
        return self._held_connection()

    @contextmanager
    def _held_connection(self) -> Iterator[sqlite3.Connection]:
        """The connection whose lock this thread has just taken; released when the block ends."""
        try:
            conn = self._conn
            if conn is None:
                raise FailedPrecondition("the store is closed")
            try:
                yield conn
            except sqlite3.DatabaseError as exc:
                raise (_translate(exc) or exc) from None
        finally:
            self._lock.release()

    def _batch(self) -> HeldTransaction:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT) on the connection, taken as
        `_connection` takes it; every write of this store runs in one."""
        self._take_lock()
        return self._held_batch()

    def _batch_now(self) -> AbstractContextManager[sqlite3.Connection] | None:
        """`_batch`, but None instead of waiting when another thread holds the connection."""
        if self._synchronous != "normal" or not self._lock.acquire(blocking=False):
            return None  # FULL fsyncs every commit: that waits on the disk, so not here
        return self._held_batch()

    def _held_batch(self) -> HeldTransaction:
        """The transaction of a batch on the connection whose lock this thread has just taken
        (a class, not nested generators: every inline VerifyToken commit opens one)."""
        checkpointer = self._checkpointer
        return HeldTransaction(
            self._conn,
            self._lock,
            _translate,
            None if checkpointer is None else checkpointer.committed,
        )

    @contextmanager
    def _write(
        self, audit: AuditDraft | None = None, *, atomic: bool = True
    ) -> Iterator[tuple[Connection, Append]]:
        # always one IMMEDIATE transaction: it holds the write lock the audit chain links under
        with self._batch() as conn:
            if audit is None:
                yield conn, no_append
            else:
                yield conn, lambda: self._append_within(conn, audit)

    @contextmanager
    def _write_audited(self) -> Iterator[tuple[Connection, AppendDraft]]:
        with self._batch() as conn:
            yield conn, lambda draft: self._append_within(conn, draft)

    @property
    def synchronous(self) -> str:
        """The effective synchronous mode, read back from SQLite ('normal' or 'full')."""
        with self._connection() as conn:
            level = conn.execute("PRAGMA synchronous").fetchone()[0]
        return {1: "normal", 2: "full"}.get(level, str(level))

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
        if getattr(self._no_wait, "on", False):
            first = self.remember_jti_now(audience, jti, expires_at, now, audit)
            if first is None:
                raise WouldWait("a replay-cache write would wait for another batch")
            return first
        return self._group.submit(self._remember_op(audience, jti, expires_at, now, audit))

    def remember_jti_now(
        self,
        audience: str,
        jti: str,
        expires_at: float,
        now: float,
        audit: AuditDraft | None = None,
    ) -> bool | None:
        """`remember_jti` on the calling thread if it need not wait for anything (no batch
        in progress, the connection free, synchronous=NORMAL so the commit is a write to the
        WAL without fsync); None, with nothing written, when it would have to wait."""
        done, first = self._group.try_submit(
            self._remember_op(audience, jti, expires_at, now, audit), self._batch_now
        )
        return bool(first) if done else None

    def _remember_op(
        self, audience: str, jti: str, expires_at: float, now: float, audit: AuditDraft | None
    ) -> Callable[[sqlite3.Connection], bool]:
        def remember(conn: sqlite3.Connection) -> bool:
            # a jti seen earlier in the same batch is a replay here too: its row is visible
            first = bool(conn.execute(REMEMBER_JTI, (audience, jti, expires_at, now)).fetchall())
            if first and audit is not None:
                self._insert_within(conn, audit)
            if now >= self._next_purge:
                deleted = conn.execute(_PURGE_JTI, (now, JTI_PURGE_BATCH)).rowcount
                self._next_purge = now if deleted >= JTI_PURGE_BATCH else now + JTI_PURGE_INTERVAL
            return first

        return remember

    # audit log: BEGIN IMMEDIATE holds the database's one write lock while the entry links
    def append_audit(self, draft: AuditDraft) -> AuditRecord:
        """Link the draft after the current head (federation.audit.link) and persist it."""
        if getattr(self._no_wait, "on", False):
            record = self.append_audit_now(draft)
            if record is None:
                raise WouldWait("an audit append would wait for another batch")
            return record
        return self._group.submit(lambda conn: self._append_linked(conn, draft))

    def append_audit_now(self, draft: AuditDraft) -> AuditRecord | None:
        """`append_audit` on the calling thread if it need not wait (see remember_jti_now)."""
        done, record = self._group.try_submit(
            lambda conn: self._append_linked(conn, draft), self._batch_now
        )
        return record if done else None

    def _append_linked(self, conn: sqlite3.Connection, draft: AuditDraft) -> AuditRecord:
        return sealed(draft, *self._insert_linked(conn, draft))

    def _insert_linked(self, conn: sqlite3.Connection, draft: AuditDraft) -> tuple[int, str, str]:
        """Link the draft after the head (as federation.audit.link) and insert it: its (seq,
        prev_hash, hash). The detail is encoded once, for the row and for the hash."""
        try:
            detail = canonical_detail(draft.detail)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"audit detail is not JSON-serialisable: {exc}") from None
        seq, prev = self._head(conn)
        seq += 1
        try:
            digest = draft_hash(draft, seq, prev, detail)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"audit entry cannot be hashed: {exc}") from None
        conn.execute(
            _INSERT_AUDIT,
            (
                seq,
                float(draft.time),
                draft.actor,
                draft.action,
                draft.outcome,
                draft.subject,
                detail,
                prev,
                digest,
            ),
        )
        return seq, prev, digest

    def _append_within(self, conn: sqlite3.Connection, draft: AuditDraft) -> AuditRecord:
        """Append inside the caller's open transaction, which commits or rolls back with it."""
        try:
            return self._append_linked(conn, draft)
        except sqlite3.Error as exc:
            raise Unavailable(f"{AUDIT_UNAVAILABLE} ({exc})") from exc

    def _insert_within(self, conn: sqlite3.Connection, draft: AuditDraft) -> None:
        """`_append_within` for a caller that needs no record back (a replay row's audit)."""
        try:
            self._insert_linked(conn, draft)
        except sqlite3.Error as exc:
            raise Unavailable(f"{AUDIT_UNAVAILABLE} ({exc})") from exc

    # writes whose statements SQLite spells differently (no DML in a WITH clause)
    def _insert_parties(self, conn: Connection, licence: LicenceRecord) -> None:
        for params in party_params(licence):
            conn.execute(_INSERT_PARTY, params)

    def _insert_case(self, conn: Connection, case: Row, first: Row) -> bool:
        if not conn.execute(_INSERT_CASE, case).fetchall():
            return False
        conn.execute(_INSERT_EVENT, first)
        return True

    def _update_case(self, conn: Connection, update: Row, event: Row) -> Any:
        rows = conn.execute(_TRANSITION, update).fetchall()
        if not rows:
            return None
        conn.execute(_INSERT_EVENT, (event[0], int(rows[0][-1]), *event[2:]))
        return rows[0]

    def observe_commits(self, observer: CommitObserver | None) -> None:
        """Call `observer(writes, seconds)` after each group-commit transaction (None: stop)."""
        self._group.observer = observer

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise FailedPrecondition."""
        if self._checkpointer is not None:
            self._checkpointer.close()  # first: the last connection to close checkpoints
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
