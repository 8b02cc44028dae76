"""The `yrd sim` command group: run, sweep, validate, mmc, latency-compare (a thin shell)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from simulator.cli_common import KERNEL_HELP, SET_HELP
from simulator.cli_common import fail as _fail
from simulator.latency_cli import apply_latency_from, latency_compare_cmd, latency_options
from simulator.sweep_cli import sweep_cmd

# Only click at import time: `yrd sim --help` must start fast, so each command imports the
# library (pydantic, numpy, SimPy; scipy, matplotlib and dask only where they are used) itself.
if TYPE_CHECKING:
    from simulator.engine import Kernel

__all__ = ["sim"]

SCENARIO_HELP = """Simulate remote-virtual-window service halls (SimPy).

\b
SCENARIO is a YAML/TOML file or the word `default` (the shipped YRD scenario).
Clock in minutes; distributions are {kind, ...} with kind constant(value),
exponential(mean), lognormal(mean, sd|cv), gamma(mean, sd|cv), uniform(low, high),
triangular(low, mode, high) or empirical(path[, field]) (a benchmark JSON with
samples_ms or percentiles_ms), and an optional unit: ms, s, min, h, d.

\b
Scenario keys (override any with --set dotted.key=value):
  regions.<SH|JS|ZJ|AH>.arrivals   cross_per_hour, local_per_hour, hourly_profile[24],
                                   day_factors[7], appointments{share, slot_min,
                                   punctuality_sd_min, no_show}
  regions.<R>.od                   destination shares of cross-province items (sum 1)
  regions.<R>.calendar             open, close (HH:MM), days [0=Mon..6], drain_queue_at_close
  regions.<R>.clerks / reviewers   shifts [{start, end, staff}] (no overlap), days
  regions.<R>.face_quota_per_day   hub face checks per day, then manual checks
  hub                              concurrency, latency, failure_prob, max_retries, manual_check
  materials                        licences_per_case, default_link{latency, failure_prob,
                                   timeout_s, retries}, links{"SH->JS": ...}, paper_scan
  case                             formal_share, contact_service, local_service, intake,
                                   session, clerk_held, decision{approve, return, reject},
                                   rework_delay, max_returns, delivery{electronic_share, express}
  behaviour                        balk_queue, balk_prob, patience, green_share
  output                           service_level_min[], first_response_target_min,
                                   sample_interval_min, max_series_points, trace
  run                              horizon_days, warmup_days, max_arrivals, warmup_arrivals,
                                   start_weekday, seed
"""

KEY_METRICS = (
    "total.wait.mean",
    "total.wait.p90",
    "total.sojourn.mean",
    "total.first_response.mean",
    "total.abandonment.rate",
    "total.throughput_per_open_hour",
)


@click.group(name="sim", help=SCENARIO_HELP, commands=[sweep_cmd, latency_compare_cmd])
def sim() -> None:
    """Simulator commands."""


@sim.command("run")
@click.argument("scenario")
@click.option(
    "--replications",
    "-n",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Independent replications (replication r always uses the same random streams).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory for summary.json, groups.csv, resources.csv and the PNG plots.",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option(
    "--warmup",
    type=click.Choice(["fixed", "mser5"]),
    default="fixed",
    show_default=True,
    help="fixed: the scenario's run.warmup_*; mser5: estimate it from pilot runs (MSER-5).",
)
@click.option(
    "--precision",
    type=float,
    default=None,
    help="Add replications until --metric has this relative CI half-width.",
)
@click.option(
    "--metric",
    default="total.wait.mean",
    show_default=True,
    help="Metric path for --precision, also printed (e.g. regions.SH.wait.p90).",
)
@click.option(
    "--trace",
    type=click.Path(dir_okay=False),
    default=None,
    help="Per-visit trace (.csv or .jsonl) of replication 0.",
)
@click.option(
    "--plots/--no-plots",
    default=True,
    show_default=True,
    help="Write PNG plots over all replications into --out.",
)
@click.option(
    "--kernel",
    type=click.Choice(["auto", "simpy", "fast"]),
    default="auto",
    show_default=True,
    help=KERNEL_HELP,
)
@latency_options
def run_cmd(
    scenario: str,
    replications: int,
    out_dir: str | None,
    overrides: tuple[str, ...],
    warmup: str,
    precision: float | None,
    metric: str,
    trace: str | None,
    plots: bool,
    kernel: Kernel,
    latency_from: str | None,
    failure_from_report: bool,
) -> None:
    """Run SCENARIO with replications and print confidence intervals."""
    from simulator.engine import simulate
    from simulator.loading import load_scenario
    from simulator.output import group_rows, resource_rows, write_csv, write_json
    from simulator.scenario import ScenarioError
    from simulator.statistics import (
        estimate_warmup,
        littles_law_holds,
        replicate,
        run_until_precision,
        summarise,
        with_warmup,
    )

    try:
        sc = load_scenario(scenario, overrides)
    except ScenarioError as exc:
        _fail(str(exc))
        return
    sc, applied = apply_latency_from(sc, latency_from, failure_from_report)
    if warmup == "mser5":
        sc = with_warmup(sc, estimate_warmup(sc, kernel=kernel))
    first = simulate(sc, 0, kernel, trace=trace)
    if precision is not None:
        runs, _ = run_until_precision(
            sc, metric, precision, max(replications, 2), kernel=kernel, done=[first]
        )
    else:
        runs = [first, *replicate(sc, replications - 1, kernel, first=1)]
    metrics = [*KEY_METRICS, *(f"regions.{r}.wait.mean" for r in sc.region_codes())]
    if metric not in metrics:
        metrics.append(metric)
    estimates = summarise(runs, metrics)
    click.echo(f"{sc.name}: {len(runs)} replication(s), kernel {first.data['kernel']}")
    for name, est in estimates.items():
        click.echo(f"  {name:32s} {est.mean:12.4f} +- {est.half_width:.4f}")
    click.echo(f"  Little's law holds on every run: {all(littles_law_holds(r) for r in runs)}")
    if out_dir:
        out = Path(out_dir)
        write_json(
            out / "summary.json",
            {
                "scenario": sc.model_dump(mode="json", by_alias=True),
                "latency_from": None if applied is None else applied.as_dict(),
                "estimates": {k: v.as_dict() for k, v in estimates.items()},
                "replications": [r.data for r in runs],
            },
        )
        write_csv(
            out / "groups.csv", [row for r in runs for row in group_rows(r.data, r.replication)]
        )
        write_csv(
            out / "resources.csv",
            [row for r in runs for row in resource_rows(r.data, r.replication)],
        )
        if plots:
            from simulator.plots import plot_all

            plot_all(runs, out)
        click.echo(f"wrote {out}")


@sim.command("validate")
@click.option(
    "--replications",
    "-n",
    default=10,
    show_default=True,
    type=click.IntRange(2),
    help="Replications per case and kernel.",
)
@click.option(
    "--customers",
    default=20_000,
    show_default=True,
    type=click.IntRange(1000),
    help="Arrivals per replication for the fast kernel, the first tenth of them warm-up; "
    "the SimPy kernel runs a quarter as many (at least 1,000).",
)
@click.option(
    "--kernel",
    type=click.Choice(["both", "fast", "simpy"]),
    default="both",
    show_default=True,
    help="Which kernel(s) to check.",
)
def validate_cmd(replications: int, customers: int, kernel: str) -> None:
    """Check the engine reduced to M/M/c, M/M/c/K, M/M/c+M against exact formulas."""
    from simulator.validation import kernel_sizes, run_validation

    kernels: tuple[Kernel, ...] = {
        "both": ("auto", "simpy"),
        "fast": ("auto",),
        "simpy": ("simpy",),
    }[kernel]  # type: ignore[assignment]
    checks = run_validation(replications, customers, kernels)
    head = f"{'case':16s} {'kernel':6s} {'customers':>9s} {'metric':24s} {'exact':>10s}"
    click.echo(f"{head} {'simulated 95% CI':>28s} little  ok")
    for c in checks:
        ci = f"{c.estimate.mean:.4f} [{c.estimate.low:.4f}, {c.estimate.high:.4f}]"
        row = f"{c.case:16s} {c.kernel:6s} {c.customers:9d} {c.metric:24s} {c.exact:10.4f}"
        click.echo(f"{row} {ci:>28s} {c.littles_law!s:6s} {'yes' if c.ok else 'NO'}")
    for name, size in kernel_sizes(checks).items():
        click.echo(
            f"kernel {name}: {size['customers']:,} customers per replication "
            f"(the first {size['warmup']:,} warm-up), {size['total']:,} customers in all"
        )
    failed = sum(not c.ok for c in checks)
    click.echo(f"{len(checks) - failed}/{len(checks)} checks passed")
    if failed:
        raise click.exceptions.Exit(1)


@sim.command("mmc")
@click.option(
    "--servers", "-c", required=True, type=click.IntRange(1), help="Clerks (c), always on duty."
)
@click.option(
    "--arrival-rate",
    required=True,
    type=click.FloatRange(0, min_open=True),
    help="Poisson arrival rate (lambda), customers per minute.",
)
@click.option(
    "--service-rate",
    required=True,
    type=click.FloatRange(0, min_open=True),
    help="Service rate of one clerk (mu), customers per minute (exponential service).",
)
@click.option(
    "--customers",
    required=True,
    type=click.IntRange(1),
    help="Customers served after the warm-up (the run has --warmup more arrivals).",
)
@click.option(
    "--warmup",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Arrivals simulated first and left out of the statistics.",
)
@click.option("--seed", required=True, type=click.IntRange(0), help="Seed of the random streams.")
@click.option(
    "--kernel",
    type=click.Choice(["auto", "simpy", "fast"]),
    default="auto",
    show_default=True,
    help=KERNEL_HELP,
)
def mmc_cmd(
    servers: int,
    arrival_rate: float,
    service_rate: float,
    customers: int,
    warmup: int,
    seed: int,
    kernel: Kernel,
) -> None:
    """Simulate M/M/c until --customers are served after --warmup; print one JSON line."""
    from simulator.engine import simulate
    from simulator.loading import mmc_scenario
    from simulator.output import clean_json
    from simulator.queueing import erlang_c_wait
    from simulator.scenario import ScenarioError

    try:
        # M/M/c loses nobody, so customers + warmup arrivals serve exactly `customers` after it.
        sc = mmc_scenario(servers, arrival_rate, service_rate, customers + warmup, warmup, seed)
    except ScenarioError as exc:
        _fail(str(exc))
        return
    t0 = time.perf_counter()
    res = simulate(sc, 0, kernel)
    wall = time.perf_counter() - t0
    line: dict[str, Any] = {
        "mean_wait": res.metric("total.wait.mean"),
        "served": int(res.data["total"]["completed"]),
        "arrivals": int(res.data["arrivals"]),
        "kernel": res.data["kernel"],
        "wall_s": wall,
        "erlang_c_wait": erlang_c_wait(servers, arrival_rate, service_rate),
    }
    sys.stdout.write(json.dumps(clean_json(line)) + "\n")
