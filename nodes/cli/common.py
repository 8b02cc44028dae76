"""Shared pieces of the yrd command: JSON output, domain errors to exit codes, options."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from federation.clock import iso_cst
from federation.errors import FederationError, InvalidArgument

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = {
    "INVALID_ARGUMENT": 2,
    "UNAUTHENTICATED": 3,
    "PERMISSION_DENIED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "FAILED_PRECONDITION": 7,
    "RESOURCE_EXHAUSTED": 8,
    "UNAVAILABLE": 9,
    "DEADLINE_EXCEEDED": 9,
    "DATA_LOSS": 10,
}


EPOCH_FIELDS = frozenset({"time", "iat", "exp", "nbf", "since", "as_of"})
"""Names of epoch-seconds fields besides those ending in `_at` (JWT claims, audit and events)."""
CST_SUFFIX = "_cst"
_LAST_EPOCH = 253402300799  # 9999-12-31T23:59:59Z: later numbers are not instants


def is_epoch_field(name: str) -> bool:
    return name in EPOCH_FIELDS or name.endswith("_at")


def _epoch(value: Any) -> int | float | None:
    """The number an epoch-seconds field holds: a JSON number, or the decimal string that the
    protobuf JSON mapping makes of an int64; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int | float) and 0 <= value <= _LAST_EPOCH:
        return value
    return None


def with_cst_times(value: Any) -> Any:
    """The one rule for times in output: every epoch-seconds field keeps its number and gains a
    `<name>_cst` twin, the same instant as ISO 8601 in China Standard Time (+08:00).

    Epoch-seconds fields are the names in EPOCH_FIELDS and any name ending in `_at`, at any
    depth; an int64 the protobuf JSON mapping turned into a string becomes a number again.
    """
    if isinstance(value, list | tuple):
        return [with_cst_times(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        epoch = _epoch(item) if isinstance(key, str) and is_epoch_field(key) else None
        if epoch is None:
            out[key] = with_cst_times(item)
            continue
        out[key] = epoch
        if key + CST_SUFFIX not in value:
            out[key + CST_SUFFIX] = iso_cst(epoch)
    return out


def emit(value: Any) -> None:
    """Print a result as indented JSON, times also in China Standard Time (`with_cst_times`)."""
    click.echo(json.dumps(with_cst_times(value), indent=2, ensure_ascii=False, default=str))


def emit_line(value: Any) -> None:
    """One JSON Lines record (a streamed event), under the same time rule as `emit`."""
    click.echo(json.dumps(with_cst_times(value), ensure_ascii=False, default=str))


def fail(exc: FederationError) -> None:
    click.echo(
        json.dumps({"error": exc.code_name, "message": exc.message}, ensure_ascii=False), err=True
    )
    sys.exit(EXIT_CODES.get(exc.code_name, 1))


def domain_errors(fn: F) -> F:
    """Print a domain error as JSON on stderr and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FederationError as exc:
            fail(exc)

    return wrapper  # type: ignore[return-value]


def default_dir() -> Path:
    return Path(os.environ.get("YRD_FEDERATION_DIR", "federation-dir"))


dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_dir,
    show_default="$YRD_FEDERATION_DIR or ./federation-dir",
    help="Federation directory created by `yrd federation init`.",
)


def parse_pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """Repeated `name=value` options as a dict; a malformed one is InvalidArgument."""
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{option} expects name=value, got {value!r}")
        out[key] = rest
    return out


def region_arg(value: str) -> str:
    """A region given by code or short name (SH, JS, ...) as its code."""
    from federation.regions import parse_region

    return parse_region(value).code
