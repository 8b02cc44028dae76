"""The `yrd sim sweep` command: a grid of scenario overrides on a process pool or Dask."""

from __future__ import annotations

import json

import click

from simulator.cli_common import SET_HELP, fail
from simulator.latency_cli import apply_latency_from, latency_options, tag_rows

# Only click at import time (see simulator.cli): the library loads inside the command.

__all__ = ["sweep_cmd"]


@click.command("sweep")
@click.argument("scenario")
@click.option(
    "--grid",
    "grid_items",
    multiple=True,
    required=True,
    metavar="KEY=V1,V2",
    help="A scenario key and the values to try (repeatable; points are the product).",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option(
    "--replications",
    "-n",
    default=3,
    show_default=True,
    type=click.IntRange(1),
    help="Replications per grid point (the same seeds at every point).",
)
@click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address (tcp://host:port); default: a local process pool.",
)
@click.option("--workers", default=None, type=click.IntRange(1), help="Process-pool size.")
@click.option(
    "--out", "out_file", type=click.Path(dir_okay=False), default=None, help="CSV of the results."
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="Metric paths to report (repeatable); default: waits, sojourn, abandonment, "
    "throughput per open hour.",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@latency_options
def sweep_cmd(
    scenario: str,
    grid_items: tuple[str, ...],
    overrides: tuple[str, ...],
    replications: int,
    scheduler: str | None,
    workers: int | None,
    out_file: str | None,
    metrics: tuple[str, ...],
    progress: bool,
    latency_from: str | None,
    failure_from_report: bool,
) -> None:
    """Run SCENARIO over a grid of overrides (common random numbers across points).

    With --latency-from every grid point's measured links sample the report; each output
    row names the report (path and sha256).
    """
    from simulator.loading import apply_overrides, build_scenario, read_raw
    from simulator.output import clean_json, write_csv
    from simulator.scenario import ScenarioError
    from simulator.sweep import DEFAULT_METRICS, parse_grid, sweep

    try:
        raw = apply_overrides(read_raw(scenario), overrides)
        base = build_scenario(raw)
        _, applied = apply_latency_from(base, latency_from, failure_from_report, err=True)
        adjust = None if applied is None else applied.adjust
        grid = parse_grid(grid_items)
        rows = sweep(
            raw,
            grid,
            replications,
            metrics or DEFAULT_METRICS,
            scheduler,
            workers,
            progress,
            adjust=adjust,
        )
    except ScenarioError as exc:
        fail(str(exc))
        return
    tag_rows(rows, applied)
    for row in rows:
        click.echo(json.dumps(clean_json(row)))
    if out_file:
        write_csv(out_file, rows)
