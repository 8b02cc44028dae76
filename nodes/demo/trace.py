"""The readable trace `yrd demo` prints: numbered steps, successes and expected refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from federation.errors import FederationError


class Trace:
    """Numbered steps, each shown as done, refused-as-expected, or failed."""

    def __init__(self) -> None:
        self.step = 0
        self.failures = 0

    def section(self, title: str) -> None:
        click.secho(f"\n== {title}", bold=True)

    def ok(self, text: str, detail: str = "") -> None:
        self.step += 1
        click.echo(f"{self.step:>3}. " + click.style("OK     ", fg="green") + text)
        if detail:
            click.echo(f"       {detail}")

    def expect_refusal(self, text: str, fn: Callable[[], Any], code: str) -> None:
        self.step += 1
        try:
            fn()
        except FederationError as exc:
            if exc.code_name == code:
                click.echo(f"{self.step:>3}. " + click.style("REFUSED", fg="yellow") + f" {text}")
                click.echo(f"       {code}: {exc.message}")
                return
            self.failures += 1
            click.echo(
                f"{self.step:>3}. "
                + click.style("WRONG  ", fg="red")
                + f"{text}: expected {code}, got {exc.code_name}: {exc.message}"
            )
            return
        self.failures += 1
        click.echo(
            f"{self.step:>3}. " + click.style("ACCEPTED", fg="red") + f" {text} (should fail)"
        )
