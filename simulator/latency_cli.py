"""`--latency-from REPORT.json` for `yrd sim run`/`sweep`, and `yrd sim latency-compare`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from simulator.cli_common import KERNEL_HELP, SET_HELP, fail_json

# Only click at import time (see simulator.cli): the library loads inside the commands.
if TYPE_CHECKING:
    from simulator.engine import Kernel
    from simulator.measured_latency import AppliedLatency
    from simulator.scenario import Scenario

__all__ = ["apply_latency_from", "describe", "latency_compare_cmd", "latency_options", "tag_rows"]

F = TypeVar("F", bound=Callable[..., Any])

LATENCY_HELP = (
    "A `yrd lab run` JSON report (or `example`, the shipped one): each cross-region licence "
    "fetch on a link it measured samples that link's measured round trips (its `links` "
    "section, ms) instead of the scenario's assumed latency; links it lacks keep theirs."
)
FAILURE_HELP = (
    "With --latency-from: also set each measured link's failure_prob to the report's error "
    "rate (errors / attempts); by default the scenario's failure_prob is kept."
)


def latency_options(fn: F) -> F:
    """Add --latency-from and --failure-from-report to a command."""
    fn = click.option("--failure-from-report", is_flag=True, help=FAILURE_HELP)(fn)
    return click.option(
        "--latency-from",
        "latency_from",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="REPORT.json",
        help=LATENCY_HELP,
    )(fn)


def apply_latency_from(
    sc: Scenario, latency_from: str | None, failure_from_report: bool, err: bool = False
) -> tuple[Scenario, AppliedLatency | None]:
    """The scenario with the report's links applied (a JSON error and exit when unusable).

    Prints the source and which links were measured and which assumed (on stderr if err).
    """
    if latency_from is None:
        if failure_from_report:
            fail_json(
                {
                    "error": "USAGE",
                    "message": "--failure-from-report needs --latency-from",
                    "hint": "give the lab report with --latency-from REPORT.json",
                }
            )
        return sc, None
    from simulator.measured_latency import LatencyReportError, apply_measured, load_report

    try:
        applied_sc, applied = apply_measured(sc, load_report(latency_from), failure_from_report)
    except LatencyReportError as exc:
        fail_json(exc.as_json())
        raise AssertionError("unreachable") from None
    for line in describe(applied):
        click.echo(line, err=err)
    return applied_sc, applied


def tag_rows(rows: list[dict[str, Any]], applied: AppliedLatency | None) -> None:
    """Name the report (path and sha256) in each sweep row."""
    if applied is not None:
        for row in rows:
            row["latency_from"] = applied.report.path
            row["latency_from_sha256"] = applied.report.sha256


def describe(applied: AppliedLatency) -> list[str]:
    """Human lines: the source and which links were measured and which assumed."""
    src = applied.report.source()
    lines = [
        f"latency from {src['path']} (sha256 {src['sha256'][:16]}..., "
        f"generated_at {src['generated_at']})",
        f"  measured links: {', '.join(applied.measured) or 'none'}",
        f"  assumed links:  {', '.join(applied.assumed) or 'none'}",
    ]
    operations = sorted({u.measured["operation"] for u in applied.links if u.measured})
    if operations:
        lines.append(f"  operation timed: {', '.join(operations)}")
    if applied.unused:
        lines.append(f"  measured but unused by the scenario: {', '.join(applied.unused)}")
    reasons: dict[str, list[str]] = {}
    for key, why in applied.report.ignored.items():
        reasons.setdefault(why, []).append(key)
    for why, keys in reasons.items():
        lines.append(f"  ignored ({why}): {', '.join(keys)}")
    return lines


@click.command("latency-compare")
@click.argument("scenario")
@click.option(
    "--latency-from",
    "latency_from",
    required=True,
    type=click.Path(dir_okay=False),
    metavar="REPORT.json",
    help="The `yrd lab run` JSON report with the measured `links` (or `example`).",
)
@click.option("--failure-from-report", is_flag=True, help=FAILURE_HELP)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help=SET_HELP,
)
@click.option(
    "--replications",
    "-n",
    default=10,
    show_default=True,
    type=click.IntRange(2),
    help="Replications of each variant (paired: replication r shares every random stream).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="Metric paths to compare (repeatable); default: total sojourn (time in system), "
    "wait, first response and throughput per open hour.",
)
@click.option(
    "--kernel",
    type=click.Choice(["auto", "simpy", "fast"]),
    default="auto",
    show_default=True,
    help=KERNEL_HELP + " Both variants use it.",
)
@click.option(
    "--plot", type=click.Path(dir_okay=False), default=None, help="PNG of the comparison."
)
@click.option(
    "--out", "out_file", type=click.Path(dir_okay=False), default=None, help="JSON of the result."
)
def latency_compare_cmd(
    scenario: str,
    latency_from: str,
    failure_from_report: bool,
    overrides: tuple[str, ...],
    replications: int,
    metrics: tuple[str, ...],
    kernel: Kernel,
    plot: str | None,
    out_file: str | None,
) -> None:
    """Compare SCENARIO's assumed link latencies with a lab report's measured ones.

    Prints, per link the scenario uses, assumed and measured mean/p50/p90/p99 (ms), then runs
    both variants with common random numbers and prints each metric's 95% CIs and the paired
    difference measured - assumed.
    """
    from simulator.latency_compare import COMPARE_METRICS, compare_latency, plot_compare
    from simulator.loading import load_scenario
    from simulator.output import clean_json, write_json
    from simulator.scenario import ScenarioError

    try:
        assumed = load_scenario(scenario, overrides)
    except ScenarioError as exc:
        fail_json({"error": "BAD_SCENARIO", "message": str(exc), "hint": "see yrd sim --help"})
        return
    measured, applied = apply_latency_from(assumed, latency_from, failure_from_report)
    assert applied is not None
    try:
        result = compare_latency(
            assumed, measured, applied, replications, metrics or COMPARE_METRICS, kernel
        )
    except KeyError as exc:
        fail_json({"error": "BAD_METRIC", "message": str(exc.args[0]), "hint": "see --help"})
        return
    head = f"{'link':8s} {'source':8s} {'operation':10s} {'n':>5s}"
    click.echo(
        f"{head}  {'assumed mean/p50/p90/p99 ms':>30s}  {'measured mean/p50/p90/p99 ms':>30s}"
    )
    for row in result["links"]:
        a, m = row["assumed"], row["measured"]
        cells = [
            f"{x['mean_ms']:.1f}/{x['p50_ms']:.1f}/{x['p90_ms']:.1f}/{x['p99_ms']:.1f}"
            for x in (a, m)
        ]
        n = "" if row["samples"] is None else str(row["samples"])
        op = row["operation"] or "-"
        click.echo(
            f"{row['link']:8s} {row['source']:8s} {op:10s} {n:>5s}  {cells[0]:>30s}  "
            f"{cells[1]:>30s}"
        )
    click.echo(f"effect over {replications} paired replications (95% CI):")
    for name, eff in result["effects"].items():
        a, m, d = eff["assumed"], eff["measured"], eff["difference"]
        click.echo(
            f"  {name:32s} assumed {a['mean']:.4f} +- {a['half_width']:.4f}  "
            f"measured {m['mean']:.4f} +- {m['half_width']:.4f}  "
            f"difference {d['mean']:+.4f} +- {d['half_width']:.4f}"
        )
    if out_file:
        write_json(Path(out_file), clean_json(result))
        click.echo(f"wrote {out_file}")
    if plot:
        click.echo(f"wrote {plot_compare(result, assumed, measured, plot)}")
