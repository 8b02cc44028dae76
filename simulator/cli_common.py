"""Help texts and error exits shared by the `yrd sim` command modules (only click here)."""

from __future__ import annotations

import json

import click

__all__ = ["KERNEL_HELP", "SET_HELP", "fail", "fail_json"]

SET_HELP = "Override a scenario key, e.g. run.horizon_days=28 (repeatable; values are YAML)."
KERNEL_HELP = (
    "auto: the fast station kernel when the scenario is one FCFS window pool, else SimPy; "
    "simpy: always the SimPy model; fast: the station kernel or an error."
)


def fail(message: str, code: int = 2) -> None:
    """Print a plain-text error (a scenario problem, one line per key) on stderr and exit."""
    click.echo(message, err=True)
    raise click.exceptions.Exit(code)


def fail_json(error: dict[str, str], code: int = 2) -> None:
    """Print a JSON error object on stderr and exit."""
    click.echo(json.dumps(error, ensure_ascii=False), err=True)
    raise click.exceptions.Exit(code)
