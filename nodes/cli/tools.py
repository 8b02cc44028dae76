"""`yrd bench` and `yrd demo`: benchmark scripts and the end-to-end story."""

from __future__ import annotations

import time
from pathlib import Path

import click

from nodes.cli.common import domain_errors

BENCHMARKS = {
    "identity": "benchmarks.identity_bench",
    "licence": "benchmarks.licence_bench",
    "case": "benchmarks.case_bench",
    "scale": "benchmarks.scale_bench",
    "simulator": "benchmarks.simulator_bench",
    "startup": "benchmarks.startup_bench",
    "observability": "benchmarks.observability_bench",
}


@click.command(
    "bench",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("name", type=click.Choice(sorted(BENCHMARKS)))
@click.pass_context
def bench(ctx: click.Context, name: str) -> None:
    """Run a benchmark script (JSON report); extra options go to it, e.g. `--quick`.

    Each compares itself with a baseline measured in the same run (raw mTLS echo or bare
    SimPy). `yrd bench identity -- --help` shows a benchmark's own options.
    """
    import runpy
    import sys

    module = BENCHMARKS[name]
    sys.argv = [module, *ctx.args]
    runpy.run_module(module, run_name="__main__")


# --- yrd demo -------------------------------------------------------------------------
@click.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Create the federation here and keep it, instead of a temporary directory.",
)
@domain_errors
def demo(keep: Path | None) -> None:
    """Run the whole story end to end on five local nodes and print a readable trace."""
    from nodes.demo import run_demo

    started = time.monotonic()
    run_demo(keep)
    click.echo(f"\ndemo finished in {time.monotonic() - started:.1f} s")
