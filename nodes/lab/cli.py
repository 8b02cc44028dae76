"""`yrd lab`: the federation under an emulated WAN, with timed faults and an SLA report."""

from __future__ import annotations

import shlex
import signal
import sys
import time
from pathlib import Path

import click

from nodes.cli.common import domain_errors, emit

LAB_DIR = Path("yrd-lab")

dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=LAB_DIR,
    show_default=True,
    help="Where the lab creates its federation (a stopped federation there is replaced).",
)


@click.group()
def lab() -> None:
    """Run the five nodes with every node-to-node link through an emulated WAN link.

    Each directed link (e.g. 310000->320000) is a user-space TCP proxy applying delay,
    jitter, loss (as retransmission delay), bandwidth and partitions; see `yrd lab up --help`.
    """


@lab.command("topology")
@click.argument(
    "file", type=click.Path(dir_okay=False, path_type=Path), required=False, default=None
)
@domain_errors
def lab_topology(file: Path | None) -> None:
    """Validate a topology file (default: the shipped yrd-default) and print every link."""
    from nodes.lab.topology import DEFAULT_TOPOLOGY, load_topology

    topology = load_topology(file or DEFAULT_TOPOLOGY)
    emit(
        {
            "name": topology.name,
            "source": topology.source,
            "links": {k: v.model_dump() for k, v in sorted(topology.links.items())},
        }
    )


@lab.command("up")
@click.option(
    "--topology",
    "topology_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Topology TOML (default: nodes/lab/topologies/yrd-default.toml).",
)
@dir_option
@domain_errors
def lab_up(topology_file: Path | None, directory: Path) -> None:
    """Create a fresh federation in DIR, start one proxy per directed link and the five nodes,
    print where everything listens, and run until Ctrl-C or SIGTERM.

    Node A reaches node B (and the hub) only through the proxy of link A->B: A's config gets
    `peer_endpoints` and its `hub_endpoint` pointed at its proxies. Clients (`yrd ... --dir
    DIR`) talk to the nodes directly, as a user at that region would.
    """
    from nodes.lab.controller import Lab
    from nodes.lab.topology import DEFAULT_TOPOLOGY, load_topology

    topology = load_topology(topology_file or DEFAULT_TOPOLOGY)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    click.echo(f"lab: provisioning {directory} with topology {topology.name}", err=True)
    with Lab(directory, topology) as running:
        emit(running.describe())
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        assert running.federation is not None
        while not stopping:
            died = [r for r, p in running.federation.procs.items() if p.poll() is not None]
            if died:
                click.echo(f"lab: node {died[0].short} died; stopping", err=True)
                break
            time.sleep(0.2)
    click.echo("lab: stopped", err=True)


@lab.command("run")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@dir_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report directory (default: DIR/report-<scenario>): report.json and latency plots.",
)
@click.option(
    "--topology",
    "topology_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Use this topology instead of the scenario's.",
)
@click.option("--no-plots", is_flag=True, help="Write the JSON report only.")
@domain_errors
def lab_run(
    scenario_file: Path,
    directory: Path,
    out_dir: Path | None,
    topology_file: Path | None,
    no_plots: bool,
) -> None:
    """Run SCENARIO: its fault schedule (partition, kill -9, freeze, hub outage, slow link)
    under its open-loop load mix, then write the SLA report.

    The report (JSON, printed and written to OUT/report.json) holds, per operation and per
    phase (the intervals between fault events): availability, p50/p90/p99/p99.9 from HDR
    histograms of latencies counted from each request's intended send time, errors by gRPC
    status, acknowledged case submissions lost (must be 0), time to recover; the proxies'
    own overhead against a direct link; round-trip samples of every directed link (`links`);
    plots of latency over time with the faults shaded. Progress goes to stderr.
    """
    from nodes.lab.report import summary
    from nodes.lab.runner import run_scenario
    from nodes.lab.scenario import load_scenario
    from nodes.lab.topology import load_topology

    scenario = load_scenario(scenario_file)
    if topology_file is not None:
        scenario = scenario.model_copy(update={"topology": topology_file})
    topology = load_topology(scenario.topology)
    out = out_dir or directory / f"report-{scenario.name}"
    command = shlex.join(["yrd", *sys.argv[1:]])
    report = run_scenario(scenario, topology, directory, out, not no_plots, command)
    emit(summary(report))
