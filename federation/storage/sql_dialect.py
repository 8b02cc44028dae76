"""What differs between the SQL backends' statements: placeholders, casts, and error translation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from federation.audit import AuditDraft


class Cursor(Protocol):
    """The part of a DB-API cursor the shared SQL uses (sqlite3 and psycopg both have it)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """A connection that runs one statement with positional parameters."""

    def execute(self, query: str, params: Sequence[Any] = ..., /) -> Cursor: ...


Append = Callable[[], object]
AppendDraft = Callable[[AuditDraft], object]
Row = tuple[Any, ...]


def no_append() -> None:
    """The `append` of a write that carries no audit entry."""


@dataclass(frozen=True)
class Dialect:
    """One backend's spelling of the shared statements, which are written with `?` marks and
    `{name}` slots (see `sql`), and how its driver's errors become federation errors."""

    name: str
    placeholder: str  # "?" or "%s"
    insertion_order: str  # the column that orders rows as inserted (`{order}`)
    json_param: str  # a placeholder for a value stored in a JSON column (`{json}`)
    json_text: str  # suffix reading a JSON column as its exact stored text (`{text}`)
    template_param: str  # a placeholder for a face template (`{template}`)
    array_agg: str  # the aggregate that collects a licence's party codes (`{array_agg}`)
    # errors a duplicate key raises, to be answered with AlreadyExists
    unique_violation: tuple[type[Exception], ...]
    translate: Callable[[Exception], Exception | None]  # a driver error as a federation error
    encode_template: Callable[[Sequence[float]], Any]
    decode_template: Callable[[Any], list[float]]
    decode_parties: Callable[[Any], list[str]]
    _rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def sql(self, statement: str) -> str:
        """The statement in this dialect (rendered once, then cached)."""
        try:
            return self._rendered[statement]
        except KeyError:
            rendered = statement.format(
                order=self.insertion_order,
                json=self.json_param,
                text=self.json_text,
                template=self.template_param,
                array_agg=self.array_agg,
            ).replace("?", self.placeholder)
            self._rendered[statement] = rendered
            return rendered


class SqlBackend(ABC):
    """What a backend gives the shared SQL methods: its dialect, connections and write scopes."""

    dialect: Dialect

    @abstractmethod
    def _connection(self) -> AbstractContextManager[Connection]:
        """A connection for one call, whose driver errors are translated on the way out."""

    def _connection_now(self) -> AbstractContextManager[Connection] | None:
        """`_connection` if it can be had without waiting (a read an event loop may do itself);
        None when it would wait, which every network round trip does (the default)."""
        return None

    @abstractmethod
    def _write(
        self, audit: AuditDraft | None = None, *, atomic: bool = True
    ) -> AbstractContextManager[tuple[Connection, Append]]:
        """A connection for a write and `append()`, which adds `audit` (if given, else nothing)
        to the audit log in the same transaction. `atomic`: the statements that follow must
        commit together (a backend may use a transaction even when it is False)."""

    @abstractmethod
    def _write_audited(self) -> AbstractContextManager[tuple[Connection, AppendDraft]]:
        """A connection in one transaction and `append(draft)`, which adds each draft to the
        audit log (after the transaction's own earlier entries) in that transaction: its
        writes and entries commit together or roll back together."""

    @abstractmethod
    def close(self) -> None:
        """Release the backend's connections (idempotent); later calls raise FailedPrecondition."""
