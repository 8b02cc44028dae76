"""`yrd node`: run one node, ask a node's health and status."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from nodes.cli.common import (
    EXIT_CODES,
    dir_option,
    domain_errors,
    emit,
    region_arg,
    status_timeout_option,
)


@click.group()
def node() -> None:
    """Run and inspect one regional node or the hub."""


@node.command("serve")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The node's TOML file, e.g. DIR/zj.toml.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes sharing the node's port (SO_REUSEPORT); default: the config's"
    " `processes` (1). Regions only.",
)
@click.option("--worker-index", type=int, default=None, hidden=True)
@click.option("--port", "port_override", type=click.IntRange(0, 65535), default=None, hidden=True)
@domain_errors
def node_serve(
    config_path: Path, workers: int | None, worker_index: int | None, port_override: int | None
) -> None:
    """Run one node until Ctrl-C or SIGTERM (then drain and stop gracefully).

    With --workers N (N > 1) a parent process runs N worker processes on the same host:port,
    restarts a worker that dies, and forwards SIGTERM/SIGINT to drain them all.
    """
    from federation.errors import InvalidArgument
    from nodes.config import load_config
    from nodes.server.node import serve

    if not logging.getLogger().handlers or logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    config = load_config(config_path)
    update: dict[str, int] = {}
    if workers is not None:
        update["processes"] = workers
    if port_override is not None:
        update["port"] = port_override
    if config.is_hub and update.get("processes", 1) > 1:
        raise InvalidArgument(
            "--workers: the hub runs as one process (it alone re-signs the trust list and the"
            " catalogue it publishes); scale out the regions instead"
        )
    config = config.model_copy(update=update)
    if worker_index is not None or config.processes == 1:
        serve(config, worker_index)
        return
    from nodes.server.workers import serve_workers

    sys.exit(serve_workers(config_path, config, config.processes))


@node.command("health")
@dir_option
@click.option("--region", required=True, help="Region code or short name.")
@domain_errors
def node_health(directory: Path, region: str) -> None:
    """Ask a node's grpc.health.v1 service whether it is serving."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit({"region": region_arg(region), "status": client.health(region)})


@node.command("status")
@dir_option
@click.option("--region", required=True, help="Region code or short name.")
@click.option("--no-peers", is_flag=True, help="Do not ask the node to probe its peers.")
@status_timeout_option("the node")
@domain_errors
def node_status(directory: Path, region: str, no_peers: bool, timeout_s: float) -> None:
    """One node's health, versions, trust-list age and reachable peers (see `federation status`).

    Exit code 0 when the node is up, 9 (UNAVAILABLE) when it is down; JSON is printed either way.
    """
    from federation.regions import parse_region
    from nodes.client import FederationClient
    from nodes.ops.status import node_status as collect

    with FederationClient(directory, timeout_s=timeout_s) as client:
        report = collect(
            client, parse_region(region), probe_peers=not no_peers, peer_timeout_s=timeout_s
        )
    emit({"region": parse_region(region).short, **report})
    if report["state"] != "up":
        sys.exit(EXIT_CODES["UNAVAILABLE"])
