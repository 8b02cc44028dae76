"""The `yrd` command: a thin shell that parses, calls the library, prints JSON, maps errors.

The root loads each subcommand group only when it is used, so `yrd --help` imports almost
nothing and `yrd sim ...` never imports grpc.
"""

from __future__ import annotations

import importlib
import logging

import click

# subcommand -> (module, attribute, one-line help shown by `yrd --help` without importing it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "audit": ("nodes.cli.audit", "audit", "Verify and read a node's hash-chained audit log."),
    "bench": ("nodes.cli.tools", "bench", "Run a benchmark script (JSON report with baselines)."),
    "case": ("nodes.cli.case", "case", "Remote virtual window cases (跨省通办)."),
    "catalogue": (
        "nodes.cli.case",
        "catalogue",
        "The hub-signed cross-province service catalogue.",
    ),
    "demo": ("nodes.cli.tools", "demo", "Run the whole story end to end on five local nodes."),
    "federation": ("nodes.cli.federation", "federation", "Create and run a whole federation."),
    "identity": ("nodes.cli.identity", "identity", "Subjects, logins and federated tokens."),
    "lab": (
        "nodes.lab.cli",
        "lab",
        "The federation under an emulated WAN: faults, open-loop load, SLA report.",
    ),
    "licence": ("nodes.cli.licence", "licence", "Electronic licences (电子证照)."),
    "node": ("nodes.cli.node", "node", "Run and inspect one regional node or the hub."),
    "sim": ("simulator.cli", "sim", "Simulate remote-virtual-window demand (SimPy)."),
    "stats": ("nodes.cli.case", "stats", "Per-item and per-window evaluation statistics."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        command = getattr(importlib.import_module(entry[0]), entry[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def root(verbose: int) -> None:
    """Yangtze River Delta government-service federation (长三角 一网通办).

    Regions are accepted by code or short name: HUB=100000, SH=310000, JS=320000,
    ZJ=330000, AH=340000. Every command prints JSON; errors go to stderr as JSON with
    a non-zero exit code.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def main() -> None:
    root(prog_name="yrd")


__all__ = ["COMMANDS", "LazyGroup", "main", "root"]
