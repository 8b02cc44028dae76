"""`yrd node`: run one node, ask a node's health."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from nodes.cli.common import dir_option, domain_errors, emit, region_arg


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
