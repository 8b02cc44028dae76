"""PostgreSQL audit chain: appends linked under an in-process lock, racing processes serialised.

Several processes may share one schema (a node's worker processes, a region's replicas): an
entry is inserted as head+1 with `ON CONFLICT (seq) DO NOTHING`, so a stale head never links
a fork (the insert is refused and the head re-read), and audited transactions take the
schema's advisory transaction lock first, so two of them never wait on each other's rows.
"""

from __future__ import annotations

import hashlib
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import psycopg

from federation.audit import AUDIT_UNAVAILABLE, AuditDraft, AuditRecord, link
from federation.errors import InvalidArgument, Unavailable
from federation.storage._records import AUDIT_COLS, audit_params, encode_json
from federation.storage.postgres_schema import Connection
from federation.storage.sql_store import SqlStore

AUDIT_APPEND_ATTEMPTS = 50
AUDIT_CONTENDED_SECONDS = 5.0
_INSERT_AUDIT = (
    f"INSERT INTO audit_log ({AUDIT_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (seq) DO NOTHING RETURNING seq"
)


class PostgresAuditChain(SqlStore):
    """The audit-chain append of PostgresStore (its base; the store provides the pool)."""

    @abstractmethod
    def _connection(self) -> AbstractContextManager[Connection]:
        """A pooled connection (psycopg's, for its transactions)."""

    def _init_audit_chain(self, schema: str | None) -> None:
        # In-process appends are serialised here and link to the cached head; other processes
        # on the same schema are detected by the seq primary key and force a re-read.
        self._audit_lock = threading.Lock()
        self._audit_head: tuple[int, str] | None = None
        self._audit_contended_until = float("-inf")
        digest = hashlib.sha256(f"yrd-audit:{schema}".encode()).digest()
        self._audit_lock_key = int.from_bytes(digest[:8], "big", signed=True)

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
        inserted = conn.execute(_INSERT_AUDIT, audit_params(record, detail)).fetchone()
        return None if inserted is None else record

    @contextmanager
    def _audited(self) -> Iterator[tuple[Connection, Callable[[AuditDraft], AuditRecord]]]:
        """A transaction whose audit appends commit or roll back with its other writes."""
        appended: list[AuditRecord] = []
        with self._audit_lock, self._connection() as conn:
            with conn.transaction():
                # Serialise audited transactions of every process on this schema (worker
                # processes, replicas): one that wrote a replay row or licence and then waits
                # for another's uncommitted chain entry could otherwise deadlock with it, should
                # the other go on to write the same row. Uncontended, it is one round trip.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._audit_lock_key,))

                def append(draft: AuditDraft) -> AuditRecord:
                    # after this transaction's own last entry (the committed head is older)
                    record = self._append_within(conn, draft, appended[-1] if appended else None)
                    appended.append(record)
                    return record

                yield conn, append
            # committed: only now may later appends link to this entry
            if appended:
                self._audit_head = (appended[-1].seq, appended[-1].hash)

    def _append_within(
        self, conn: Connection, draft: AuditDraft, after: AuditRecord | None = None
    ) -> AuditRecord:
        detail = encode_json(draft.detail, "audit detail")
        head = (after.seq, after.hash) if after is not None else None
        head = head or self._audit_head or self._head(conn)
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
