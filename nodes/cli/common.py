"""Shared pieces of the yrd command: JSON output, domain errors to exit codes, options."""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
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


TRACEBACK_ENV = "YRD_TRACEBACK"
"""Set it to see the traceback of an unexpected error besides its JSON document."""

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


def fail_json(code_name: str, message: str, exit_code: int | None = None) -> None:
    """One JSON error document on stderr, then exit (the code's number unless given)."""
    click.echo(json.dumps({"error": code_name, "message": message}, ensure_ascii=False), err=True)
    sys.exit(EXIT_CODES.get(code_name, 1) if exit_code is None else exit_code)


def fail(exc: FederationError) -> None:
    fail_json(exc.code_name, exc.message)


def domain_errors(fn: F) -> F:
    """Every error of the command as one JSON document on stderr and a non-zero exit.

    Domain errors exit with their code; a click error raised in the command keeps its exit
    code; anything else (a file that cannot be read, a bug) is INTERNAL, exit 1, with no
    traceback on the terminal unless YRD_TRACEBACK is set.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FederationError as exc:
            fail(exc)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:
            fail_json("USAGE", exc.format_message(), exc.exit_code)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            fail_json("INTERNAL", f"{where}{exc.strerror or exc}")
        except Exception as exc:
            if os.environ.get(TRACEBACK_ENV):
                traceback.print_exc()
            fail_json("INTERNAL", f"{type(exc).__name__}: {exc}")

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


def status_timeout_option(what: str) -> Callable[[F], F]:
    """`--timeout` of the status commands: seconds for `what` and for each peer probe."""
    return click.option(
        "--timeout",
        "timeout_s",
        default=2.0,
        show_default=True,
        type=click.FloatRange(0.1, 60),
        help=f"Seconds to wait for {what} (and for each peer probe).",
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


def _read_secret_file(path: str, option: str) -> str:
    """A secret from a file (`-` is standard input): its first line, without the line break."""
    try:
        text = sys.stdin.readline() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint=option) from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def resolve_secret(
    name: str,
    given: str | None,
    path: str | None,
    env: str | None,
    *,
    confirm: bool = False,
) -> str:
    """The one secret from the one source given (option, file, environment variable), or a
    hidden prompt when none is; UsageError for two sources, an empty secret or a missing
    variable."""
    flag = f"--{name}"
    sources = [
        source
        for source, value in ((flag, given), (f"{flag}-file", path), (f"{flag}-env", env))
        if value is not None
    ]
    if len(sources) > 1:
        raise click.UsageError(f"give the {name} one way only, not {' and '.join(sources)}")
    if path is not None:
        secret = _read_secret_file(path, f"{flag}-file")
    elif env is not None:
        if env not in os.environ:
            raise click.UsageError(f"{flag}-env: environment variable {env} is not set")
        secret = os.environ[env]
    elif given is not None:
        secret = given
    else:
        try:
            secret = click.prompt(
                name.replace("-", " ").capitalize(),
                hide_input=True,
                confirmation_prompt=confirm,
                default="",
                show_default=False,
            )
        except click.Abort:
            raise click.UsageError(
                f"no {name}: give {flag}-file, {flag}-env or type it at the prompt"
            ) from None
    if not secret:
        raise click.UsageError(f"the {name} is empty ({sources[0] if sources else 'prompt'})")
    return secret


def secret_options(name: str, *, confirm: bool = False, what: str = "") -> Callable[[F], F]:
    """`--NAME`, `--NAME-file PATH` and `--NAME-env VAR`, resolved to one `NAME` argument.

    At most one may be given; with none the command prompts with hidden input (twice when
    `confirm`, so a new password is not mistyped).
    """
    dest = name.replace("-", "_")
    what = what or f"The {name}"

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs[dest] = resolve_secret(
                name,
                kwargs.pop(dest),
                kwargs.pop(f"{dest}_file"),
                kwargs.pop(f"{dest}_env"),
                confirm=confirm,
            )
            return fn(*args, **kwargs)

        options: list[Callable[[Any], Any]] = [
            click.option(
                f"--{name}-env",
                f"{dest}_env",
                metavar="VAR",
                help=f"{what} from environment variable VAR.",
            ),
            click.option(
                f"--{name}-file",
                f"{dest}_file",
                metavar="PATH",
                help=f"{what} from the first line of file PATH (`-`: standard input).",
            ),
            click.option(
                f"--{name}",
                dest,
                metavar="TEXT",
                help=f"{what} on the command line (visible to other local users and kept in "
                f"shell history: prefer --{name}-file, --{name}-env or the hidden prompt, "
                "used when none is given).",
            ),
        ]
        for option in options:
            wrapper = option(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


def members_option(what: str) -> Callable[[F], F]:
    """`--region` (repeatable) naming the members a TLS command acts on."""
    option: Callable[[F], F] = click.option(
        "--region",
        "regions",
        multiple=True,
        metavar="REGION",
        help=f"{what}: a region code or short name (HUB, ZJ, ...) or `operator` (the "
        "console's); repeatable. Default: every node and the operator.",
    )
    return option
