"""`yrd federation`: create a directory, rotate keys, run its nodes, show status and trust."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from federation.errors import DeadlineExceeded, Unavailable
from nodes.cli.common import (
    EXIT_CODES,
    dir_option,
    domain_errors,
    emit,
    members_option,
    region_arg,
    status_timeout_option,
)


@click.group()
def federation() -> None:
    """Create federation material, rotate keys, re-issue TLS certificates, run all nodes, show
    status and the trust list."""


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
    "--suite",
    "suites",
    multiple=True,
    metavar="[REGION=]SUITE",
    help="Signing suite of token, status-list and seal keys: ed25519 (default) or sm2 (SM2 "
    "with SM3, GB/T 35276 default ID). `sm2` alone sets every member (the hub's also signs the "
    "trust list); `320000=sm2` or `JS=sm2` one region; repeatable, later ones win. Every node "
    "verifies both suites. mTLS certificates stay P-256.",
)
@click.option(
    "--metrics/--no-metrics",
    default=True,
    show_default=True,
    help="Each node serves Prometheus /metrics on base port + 20 + its index (hub first).",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Each node writes one JSON line per served RPC to <node dir>/access.log.",
)
@click.option(
    "--traces",
    is_flag=True,
    help="Each node writes its OpenTelemetry spans to <node dir>/spans.jsonl.",
)
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
    suites: tuple[str, ...],
    metrics: bool,
    access_log: bool,
    traces: bool,
    force: bool,
) -> None:
    """Create root CA, node certificates, signing keys, signed trust list and node configs."""
    from nodes.ops.provisioning import Layout, init_federation, parse_suites

    chosen = parse_suites(suites)
    trust_list = init_federation(
        directory,
        base_port=base_port,
        store=store,
        postgres_url=postgres_url,
        password_cost_log2=password_cost,
        face_daily_limit=face_daily_limit,
        force=force,
        suites=chosen,
        metrics=metrics,
        access_log=access_log,
        traces=traces,
    )
    layout = Layout(directory.resolve())
    emit(
        {
            "dir": str(layout.root),
            "trust_list_version": trust_list.version,
            "suites": {r.code: suite for r, suite in chosen.items()},
            "nodes": {m.entity_id: m.endpoint for m in trust_list.members if m.endpoint},
            "configs": [str(layout.root / f"{n}.toml") for n in ("hub", "sh", "js", "zj", "ah")],
        }
    )


@federation.command("rotate-keys")
@dir_option
@click.option("--region", required=True, help="Region whose token-signing key to rotate.")
@click.option(
    "--suite",
    type=click.Choice(["ed25519", "sm2"]),
    default=None,
    help="Suite of the new key (default: that of the region's current key).",
)
@domain_errors
def federation_rotate(directory: Path, region: str, suite: str | None) -> None:
    """Add a new signing key; the old one verifies until it expires from the trust list."""
    from federation.regions import parse_region
    from nodes.ops.provisioning import rotate_keys

    jwk, trust_list = rotate_keys(directory, parse_region(region_arg(region)), suite=suite)
    member = next(m for m in trust_list.members if m.region_code == region_arg(region))
    emit(
        {
            "new_kid": jwk.kid,
            "alg": jwk.alg,
            "trust_list_version": trust_list.version,
            "keys": [k.to_dict() for k in member.signing_keys],
        }
    )


@federation.command("reissue-tls")
@dir_option
@members_option("Re-issue only this member's certificate")
@click.option(
    "--days",
    default=825,
    show_default=True,
    type=click.IntRange(1),
    help="Lifetime of the new certificates (never past the root CA's).",
)
@click.option(
    "--keep-old/--drop-old",
    default=True,
    show_default=True,
    help="Keep the outgoing certificate's fingerprint listed next to the new one, so nodes not "
    "yet restarted are still admitted by their peers (a rolling restart). --drop-old lists the "
    "new certificates only: when every node is stopped, or an old key must stop working now. "
    "Once every node has restarted, `yrd federation retire-old-tls` unlists the kept one.",
)
@domain_errors
def federation_reissue_tls(
    directory: Path, regions: tuple[str, ...], days: int, keep_old: bool
) -> None:
    """Re-issue the nodes' TLS certificates from the federation's own CA; stores untouched.

    For a federation whose certificates predate member-named TLS (a node refuses to start:
    "does not name this node's entity"), or are about to expire. Each certificate gets a fresh
    key and keeps the host names and addresses of the one it replaces; the trust list lists the
    new fingerprints in a new version signed with the anchor key. The CA, signing keys, stores
    and configs are not touched. Needs the directory `init` created (it holds the CA and anchor
    keys). Running nodes fetch the new list from the hub; once `yrd federation status` shows it
    on every node, restart them, the hub first, then run `yrd federation retire-old-tls`.
    """
    from nodes.ops.reissue import reissue_tls, select_members

    reissued, trust_list = reissue_tls(
        directory, members=select_members(regions), days=days, keep_old=keep_old
    )
    emit(
        {
            "trust_list_version": trust_list.version,
            "reissued": [
                {
                    "entity_id": r.entity_id,
                    "certificate": str(r.cert_path),
                    "key": str(r.key_path),
                    "fingerprint": r.fingerprint,
                    "kept_fingerprint": r.kept_fingerprint,
                    "hosts": list(r.hosts),
                    "hosts_from": r.hosts_from,
                    "not_after": r.not_after.isoformat(),
                }
                for r in reissued
            ],
            "next": f"running nodes fetch trust list version {trust_list.version} from the hub "
            "within their trust_list_refresh_s; once `yrd federation status` shows it on every "
            "node, restart each node (the hub first) to serve its new certificate (a node on "
            "another host needs its new tls.crt and tls.key copied first), then run "
            "`yrd federation retire-old-tls` to unlist the outgoing certificates",
        }
    )


@federation.command("retire-old-tls")
@dir_option
@members_option("Only this member")
@domain_errors
def federation_retire_old_tls(directory: Path, regions: tuple[str, ...]) -> None:
    """Finish a `reissue-tls` rollout: list only each member's certificate in the directory.

    Refuses (nothing changed) while a running node still presents another certificate (restart
    it first); a node that does not answer is taken as stopped. Writes a new trust-list version
    only when a fingerprint is dropped.
    """
    from nodes.ops.reissue import retire_old_tls, select_members

    retired, trust_list = retire_old_tls(directory, members=select_members(regions))
    emit(
        {
            "trust_list_version": trust_list.version,
            "members": [
                {
                    "entity_id": r.entity_id,
                    "fingerprint": r.kept,
                    "dropped": list(r.dropped),
                    "presented_at": list(r.running),
                }
                for r in retired
            ],
        }
    )


@federation.command("up")
@dir_option
@domain_errors
def federation_up(directory: Path) -> None:
    """Run hub and four regions as separate processes until Ctrl-C or SIGTERM.

    Each node logs to DIR/<node>/node.log (listed at start). A node that cannot start (its port
    taken, a bad config) or that dies while running stops the others, and the command exits
    non-zero naming the node and printing the tail of its log.
    """
    from nodes.ops.supervisor import Federation

    fed = Federation(directory)
    for region in fed.regions:
        click.echo(f"starting {region.short}: log {fed.log_path(region)}", err=True)
    fed.start()
    emit(
        {
            "running": {r.short: p.pid for r, p in fed.procs.items()},
            "logs": {r.short: str(fed.log_path(r)) for r in fed.regions},
        }
    )
    died = fed.wait()
    if died is not None:
        region, code = died
        raise Unavailable(
            f"{region.short} node died (exit code {code}); all nodes stopped; "
            f"see {fed.log_path(region)}:\n{fed.tail(region)}"
        )
    click.echo("all nodes stopped", err=True)


@federation.command("status")
@dir_option
@click.option("--no-peers", is_flag=True, help="Do not ask each node to probe its peers (faster).")
@status_timeout_option("each node")
@domain_errors
def federation_status(directory: Path, no_peers: bool, timeout_s: float) -> None:
    """Every node's health, package and trust-list versions, trust-list age and reachable peers.

    A node that does not answer is reported with "state": "down" (and the reason). The exit code
    is 0 when every node is up and 9 (UNAVAILABLE) otherwise; the JSON is printed either way.
    """
    from nodes.client import FederationClient
    from nodes.ops.status import federation_status as collect

    with FederationClient(directory, timeout_s=timeout_s) as client:
        report = collect(client, probe_peers=not no_peers, peer_timeout_s=timeout_s)
    emit(report)
    if not report["all_up"]:
        sys.exit(EXIT_CODES["UNAVAILABLE"])


@federation.command("trust-list")
@dir_option
@click.option(
    "--offline",
    is_flag=True,
    help="Do not ask the hub: read the newest verified copy in the directory (DIR/trustlist.jwt, "
    "or a node's cache DIR/<node>/trustlist-cache.jwt).",
)
@domain_errors
def federation_trust_list(directory: Path, offline: bool) -> None:
    """Print the verified trust list (members, endpoints, fingerprints, each JWKS).

    Asks the hub. When the hub is down, `--offline` reads the cached copies instead: the signed
    list the hub serves (DIR/trustlist.jwt) and each node's cache (DIR/<node>/trustlist-cache.jwt),
    verified against the trust anchor; the newest valid one wins.
    """
    from nodes.client import FederationClient
    from nodes.ops.federation_dir import read_cached_trust_list

    if offline:
        trust_list, path = read_cached_trust_list(directory)
        emit({"source": "file", "path": str(path), "verified": True, **trust_list.to_dict()})
        return
    try:
        with FederationClient(directory) as client:
            trust_list, _ = client.fetch_trust_list()
    except (Unavailable, DeadlineExceeded) as exc:
        raise Unavailable(
            f"{exc.message}. The hub is unreachable: read the cached copy with "
            f"`yrd federation trust-list --offline --dir {directory}` (it verifies "
            f"{directory / 'trustlist.jwt'} and the nodes' DIR/<node>/trustlist-cache.jwt)"
        ) from None
    emit({"source": "hub", "verified": True, **trust_list.to_dict()})
