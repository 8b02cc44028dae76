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


def emit(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


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
