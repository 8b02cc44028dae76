"""PostgreSQL node store (psycopg 3 with a connection pool); one schema per node in a shared DB."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from federation.audit import AuditDraft, AuditRecord
from federation.errors import FailedPrecondition, InvalidArgument, Unavailable
from federation.storage._records import CASE_COLS, EVENT_COLS
from federation.storage.base import LicenceRecord
from federation.storage.group_commit import CommitObserver, GroupCommit
from federation.storage.postgres_audit import PostgresAuditChain
from federation.storage.postgres_schema import Connection, migrate
from federation.storage.sql_cases import CASE_READ
from federation.storage.sql_dialect import Append, AppendDraft, Dialect, Row, no_append
from federation.storage.sql_dialect import Connection as SqlConnection
from federation.storage.sql_store import JTI_PURGE_BATCH, JTI_PURGE_INTERVAL, REMEMBER_JTI

# lower case only: an unquoted name in search_path is folded to lower case by the server
_SCHEMA_NAME = re.compile(r"^(?!pg_)[a-z_][a-z0-9_]{0,62}$")

_PURGE_JTI = (
    "DELETE FROM replay_cache WHERE (audience, jti) IN (SELECT audience, jti"
    " FROM replay_cache WHERE expires_at <= %s LIMIT %s)"
)
_INSERT_PARTIES = (
    "INSERT INTO licence_parties (identifier, party_code) SELECT %s, unnest(%s::text[])"
)
# One statement each, so autocommit makes them atomic: the case and its first event, or the
# version-checked update and the next event. ON CONFLICT has no target for the reason given in
# sql_licences. Under READ COMMITTED a racer blocked on the case row re-checks `version` against
# the winner's committed row, so exactly one racer matches; `last_seq + 1` is computed from that
# same row, so event numbers never collide.
_EVENT_VALUES = "%s::float8, %s::text, %s::text, %s::text, %s::json"
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
    f" RETURNING {CASE_READ.format(text='::text')}, last_seq),"
    f" e AS (INSERT INTO case_events ({EVENT_COLS})"
    f" SELECT c.case_id, c.last_seq, {_EVENT_VALUES} FROM c RETURNING seq)"
    f" SELECT {CASE_COLS} FROM c"
)


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


def _translate(exc: Exception) -> Exception | None:
    if isinstance(exc, PoolClosed):
        return FailedPrecondition("the store is closed")
    if isinstance(exc, PoolTimeout):
        return Unavailable(f"no PostgreSQL connection available: {exc}")
    if isinstance(exc, pg_errors.ProgramLimitExceeded):  # e.g. a value too large for its index
        return InvalidArgument(f"value too large for the store: {exc}")
    if isinstance(exc, psycopg.OperationalError):
        return Unavailable(f"PostgreSQL store unavailable: {str(exc).strip()}")
    if isinstance(exc, psycopg.DataError):
        return InvalidArgument(f"value rejected by PostgreSQL: {exc}")
    return None


def _batch_wide(exc: BaseException) -> bool:
    """A store failure, which fails a whole group-committed batch (its transaction aborted)."""
    return isinstance(
        exc, (psycopg.Error, PoolClosed, PoolTimeout, Unavailable, FailedPrecondition)
    )


def _float_array(template: Sequence[float]) -> list[float]:
    try:
        return [float(x) for x in template]
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"a face template is a sequence of numbers: {exc}") from None


def _party_codes(codes: list[str] | None) -> list[str]:
    return codes or []  # array_agg over no rows is NULL


POSTGRES = Dialect(
    name="postgresql",
    placeholder="%s",
    insertion_order="ord",
    json_param="?::json",
    json_text="::text",  # psycopg would parse json; the codec must see the exact text
    template_param="?::float8[]",
    array_agg="array_agg",
    unique_violation=(pg_errors.UniqueViolation,),
    translate=_translate,
    encode_template=_float_array,
    decode_template=list,
    decode_parties=_party_codes,
)


class PostgresStore(PostgresAuditChain):
    """The Store protocol on a psycopg pool; hot-path calls are one autocommit round trip."""

    dialect = POSTGRES

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
        self._init_audit_chain(schema)
        # audited replay-cache writes share transactions under load: one commit (one WAL
        # flush) per batch, where each used to hold the audit lock for a commit of its own
        self._jti_group: GroupCommit[tuple[Connection, Callable[[AuditDraft], object]]] = (
            GroupCommit(self._audited, _batch_wide)
        )
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
        except (PoolClosed, PoolTimeout, psycopg.Error) as exc:
            mapped = _translate(exc)
            if mapped is None:
                raise
            raise mapped from None

    @contextmanager
    def _write(
        self, audit: AuditDraft | None = None, *, atomic: bool = True
    ) -> Iterator[tuple[Connection, Append]]:
        if audit is not None:
            with self._audited() as (conn, append):
                yield conn, lambda: append(audit)
            return
        with self._connection() as conn, conn.transaction() if atomic else nullcontext():
            yield conn, no_append

    @contextmanager
    def _write_audited(self) -> Iterator[tuple[Connection, AppendDraft]]:
        with self._audited() as scope:
            yield scope

    @contextmanager
    def without_waiting(self) -> Iterator[bool]:
        """False: every call is a network round trip (see Store.without_waiting)."""
        yield False

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
        if audit is None:  # one autocommit round trip
            with self._connection() as conn:
                first = self._insert_jti(conn, audience, jti, expires_at, now)
                self._maybe_purge(conn, now)
            return first

        def remember(scope: tuple[Connection, Callable[[AuditDraft], object]]) -> bool:
            # a jti used earlier in the same batch is a replay here too: its row is visible
            conn, append = scope
            first = self._insert_jti(conn, audience, jti, expires_at, now)
            if first:
                append(audit)
            return first

        first = self._jti_group.submit(remember)
        with self._connection() as conn:  # purged outside the audit lock
            self._maybe_purge(conn, now)
        return first

    def remember_jti_now(
        self,
        audience: str,
        jti: str,
        expires_at: float,
        now: float,
        audit: AuditDraft | None = None,
    ) -> bool | None:
        """Always None: every write here is a network round trip, which a caller that must not
        wait (an event loop) leaves to `remember_jti` on a thread of its own."""
        return None

    def append_audit_now(self, draft: AuditDraft) -> AuditRecord | None:
        """Always None, as remember_jti_now: the append is left to `append_audit`."""
        return None

    @staticmethod
    def _insert_jti(
        conn: Connection, audience: str, jti: str, expires_at: float, now: float
    ) -> bool:
        row = conn.execute(
            POSTGRES.sql(REMEMBER_JTI), (audience, jti, float(expires_at), float(now))
        ).fetchone()
        return row is not None

    def _maybe_purge(self, conn: Connection, now: float) -> None:
        if now >= self._next_purge and self._purge_lock.acquire(blocking=False):
            try:
                self._purge_expired(conn, float(now))
            finally:
                self._purge_lock.release()

    def _purge_expired(self, conn: Connection, now: float) -> None:
        deleted = conn.execute(_PURGE_JTI, (now, JTI_PURGE_BATCH)).rowcount
        self._next_purge = now if deleted >= JTI_PURGE_BATCH else now + JTI_PURGE_INTERVAL

    # writes PostgreSQL makes in one statement (DML in WITH), atomic even in autocommit
    def _insert_parties(self, conn: SqlConnection, licence: LicenceRecord) -> None:
        if licence.parties:
            conn.execute(_INSERT_PARTIES, (licence.identifier, list(licence.parties)))

    def _insert_case(self, conn: SqlConnection, case: Row, first: Row) -> bool:
        return conn.execute(_CREATE, case + first[2:]).fetchone() is not None

    def _update_case(self, conn: SqlConnection, update: Row, event: Row) -> Any:
        return conn.execute(_TRANSITION, update + event[2:]).fetchone()

    def observe_commits(self, observer: CommitObserver | None) -> None:
        """Call `observer(writes, seconds)` after each group-commit transaction (None: stop)."""
        self._jti_group.observer = observer

    def close(self) -> None:
        """Close the pool (idempotent); later calls raise FailedPrecondition."""
        if not self._closed:
            self._closed = True
            self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self.schema!r})"
