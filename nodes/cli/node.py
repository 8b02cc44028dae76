"""`yrd node`: run one node, ask a node's health and status."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from nodes.cli.common import EXIT_CODES, dir_option, domain_errors, emit, region_arg


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
@domain_errors
def node_serve(config_path: Path) -> None:
    """Run one node until Ctrl-C or SIGTERM (then drain and stop gracefully)."""
    from nodes.config import load_config
    from nodes.server.node import serve

    if not logging.getLogger().handlers or logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    serve(load_config(config_path))


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
@domain_errors
def node_status(directory: Path, region: str, no_peers: bool) -> None:
    """One node's health, versions, trust-list age and reachable peers (see `federation status`).

    Exit code 0 when the node is up, 9 (UNAVAILABLE) when it is down; JSON is printed either way.
    """
    from federation.regions import parse_region
    from nodes.client import FederationClient
    from nodes.ops.status import node_status as collect

    with FederationClient(directory) as client:
        report = collect(client, parse_region(region), probe_peers=not no_peers)
    emit({"region": parse_region(region).short, **report})
    if report["state"] != "up":
        sys.exit(EXIT_CODES["UNAVAILABLE"])
