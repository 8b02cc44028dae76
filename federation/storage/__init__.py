"""Node persistence: the Store protocol and its SQLite and PostgreSQL backends, chosen by URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from federation.errors import InvalidArgument
from federation.storage.base import (
    CaseEvent,
    CaseRating,
    CaseRecord,
    CaseStep,
    LicenceRecord,
    QuotaResult,
    Revocation,
    SessionRecord,
    Store,
    SubjectHome,
    SubjectRecord,
    WouldWait,
)
from federation.storage.sqlite import SqliteStore, default_sqlite_url

if TYPE_CHECKING:
    from federation.storage.postgres import PostgresStore

# Where things are:
#   base          the Store protocol and its records (what a node persists)
#   _records      rows <-> records, column lists, JSON codec, refusal messages
#   sql_dialect   Dialect (placeholders, casts, error translation) and the SqlBackend hooks
#   sql_store     every method whose SQL and logic both backends share (with sql_licences,
#                 sql_cases), written once with `?` marks and spelled by the backend's dialect
#   sql_schema    the schema-version runner; sqlite_schema / postgres_schema hold each DDL
#   sqlite        SQLITE dialect, one locked connection in WAL mode, replay cache, audit append;
#                 sqlite_checkpoint runs its WAL checkpoints on a background thread
#   group_commit  leader/follower batching: concurrent replay-cache and audit writes share one
#                 transaction, each caller answered after it commits (both backends use it)
#   postgres      POSTGRES dialect, psycopg pool, replay cache, one-statement case writes;
#                 postgres_audit holds its audit-chain append, postgres_admin `init --force`
ACCEPTED_URLS = "sqlite:///absolute/path, sqlite:///:memory:, postgresql://... or postgres://..."


def open_store(url: str) -> Store:
    """Open the store a URL names: sqlite:///abs/path[?synchronous=full] or postgresql://...

    A PostgreSQL URL may carry `?schema=NAME` (created if missing) so several nodes can share
    one database; every other query parameter is passed to libpq.
    """
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme == "sqlite":
        return SqliteStore.from_url(url)
    if scheme in ("postgresql", "postgres"):
        from federation.storage.postgres import PostgresStore

        return PostgresStore.from_url(url)
    shown = f"scheme {scheme!r}" if scheme else "a URL without a scheme"
    raise InvalidArgument(f"unsupported store URL: {shown}; accepted: {ACCEPTED_URLS}")


def __getattr__(name: str) -> Any:
    # psycopg is imported only by deployments (and tests) that use PostgreSQL
    if name == "PostgresStore":
        from federation.storage.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CaseEvent",
    "CaseRating",
    "CaseRecord",
    "CaseStep",
    "LicenceRecord",
    "PostgresStore",
    "QuotaResult",
    "Revocation",
    "SessionRecord",
    "SqliteStore",
    "Store",
    "SubjectHome",
    "SubjectRecord",
    "WouldWait",
    "default_sqlite_url",
    "open_store",
]
