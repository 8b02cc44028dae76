"""`yrd federation`: create a federation directory, rotate keys, run its nodes, read trust."""

from __future__ import annotations

from pathlib import Path

import click

from nodes.cli.common import dir_option, domain_errors, emit, region_arg


@click.group()
def federation() -> None:
    """Create federation material, rotate keys, run all nodes, show the trust list."""


@federation.command("init")
@dir_option
@click.option(
    "--base-port",
    default=50051,
    show_default=True,
    type=int,
    help="Hub gets this port, regions the next four; 0 picks free ports.",
)
@click.option(
    "--store",
    type=click.Choice(["sqlite", "postgresql"]),
    default="sqlite",
    show_default=True,
    help="Node store backend.",
)
@click.option("--postgres-url", default="", help="postgresql://... when --store postgresql.")
@click.option(
    "--password-cost",
    default=14,
    show_default=True,
    type=click.IntRange(10, 20),
    help="scrypt cost as log2(N).",
)
@click.option("--face-daily-limit", default=10_000, show_default=True, type=click.IntRange(0))
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing, stopped federation: its material, node stores, caches and keys "
    "(PostgreSQL node schemas too). Refuses a non-empty directory that holds no federation.",
)
@domain_errors
def federation_init(
    directory: Path,
    base_port: int,
    store: str,
    postgres_url: str,
    password_cost: int,
    face_daily_limit: int,
    force: bool,
) -> None:
    """Create root CA, node certificates, signing keys, signed trust list and node configs."""
    from nodes.ops.provisioning import Layout, init_federation

    trust_list = init_federation(
        directory,
        base_port=base_port,
        store=store,
        postgres_url=postgres_url,
        password_cost_log2=password_cost,
        face_daily_limit=face_daily_limit,
        force=force,
    )
    layout = Layout(directory.resolve())
    emit(
        {
            "dir": str(layout.root),
            "trust_list_version": trust_list.version,
            "nodes": {m.entity_id: m.endpoint for m in trust_list.members if m.endpoint},
            "configs": [str(layout.root / f"{n}.toml") for n in ("hub", "sh", "js", "zj", "ah")],
        }
    )


@federation.command("rotate-keys")
@dir_option
@click.option("--region", required=True, help="Region whose token-signing key to rotate.")
@domain_errors
def federation_rotate(directory: Path, region: str) -> None:
    """Add a new signing key; the old one verifies until it expires from the trust list."""
    from federation.regions import parse_region
    from nodes.ops.provisioning import rotate_keys

    jwk, trust_list = rotate_keys(directory, parse_region(region_arg(region)))
    member = next(m for m in trust_list.members if m.region_code == region_arg(region))
    emit(
        {
            "new_kid": jwk.kid,
            "trust_list_version": trust_list.version,
            "keys": [k.to_dict() for k in member.signing_keys],
        }
    )


@federation.command("up")
@dir_option
@domain_errors
def federation_up(directory: Path) -> None:
    """Run hub and four regions as separate processes until Ctrl-C or SIGTERM."""
    from nodes.ops.supervisor import Federation

    fed = Federation(directory)
    fed.start()
    emit({"running": {r.short: p.pid for r, p in fed.procs.items()}})
    fed.wait()
    click.echo("all nodes stopped", err=True)


@federation.command("trust-list")
@dir_option
@click.option(
    "--offline", is_flag=True, help="Read the directory's copy instead of asking the hub."
)
@domain_errors
def federation_trust_list(directory: Path, offline: bool) -> None:
    """Print the verified trust list (members, endpoints, fingerprints, each JWKS)."""
    from nodes.client import FederationClient
    from nodes.ops.provisioning import Layout, read_trust_list

    if offline:
        trust_list = read_trust_list(Layout(directory.resolve()))
        source = "file"
    else:
        with FederationClient(directory) as client:
            trust_list, _ = client.fetch_trust_list()
        source = "hub"
    emit({"source": source, "verified": True, **trust_list.to_dict()})
