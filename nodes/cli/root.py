"""The `yrd` command: a thin shell that parses, calls the library, prints JSON, maps errors."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import click

from federation.regions import parse_region
from nodes.cli.case import case, catalogue, stats
from nodes.cli.common import dir_option, domain_errors, emit
from nodes.cli.licence import licence


def region_arg(value: str) -> str:
    return parse_region(value).code


@click.group()
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def root(verbose: int) -> None:
    """Yangtze River Delta government-service federation (长三角 一网通办).

    Regions are accepted by code or short name: HUB=100000, SH=310000, JS=320000,
    ZJ=330000, AH=340000. Every command prints JSON; errors go to stderr as JSON with
    a non-zero exit code.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")


# --- yrd node -------------------------------------------------------------------------
@root.group()
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


# --- yrd federation -------------------------------------------------------------------
@root.group()
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
    from nodes.ops.provisioning import rotate_keys

    jwk, trust_list = rotate_keys(directory, parse_region(region))
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


# --- yrd identity ---------------------------------------------------------------------
@root.group()
def identity() -> None:
    """Register, log in once at home, verify the token anywhere, log out (一地认证, 全网通办)."""


@identity.command("register")
@dir_option
@click.option("--region", required=True, help="Home region.")
@click.option(
    "--kind", type=click.Choice(["natural", "legal"]), default="natural", show_default=True
)
@click.option(
    "--id",
    "subject_id",
    required=True,
    help="Citizen id number (GB 11643) or unified social credit code (GB 32100).",
)
@click.option("--name", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@domain_errors
def identity_register(
    directory: Path, region: str, kind: str, subject_id: str, name: str, password: str
) -> None:
    """Register a natural or legal person at its home region."""
    from nodes.client import FederationClient, to_dict

    with FederationClient(directory) as client:
        emit(to_dict(client.register(region, kind, subject_id, name, password)))


def _read_template(path: Path | None) -> list[float] | None:
    if path is None:
        return None
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"{path}: not a JSON list of numbers ({exc})") from None
    if not isinstance(values, list):
        raise click.BadParameter(f"{path}: expected a JSON list of numbers")
    return [float(v) for v in values]


face_option = click.option(
    "--face",
    "face_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file with the face template (a list of floats).",
)


@identity.command("enrol-face")
@dir_option
@click.option("--region", required=True, help="Home region.")
@click.option("--id", "subject_id", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@face_option
@domain_errors
def identity_enrol_face(
    directory: Path, region: str, subject_id: str, password: str, face_path: Path | None
) -> None:
    """Enrol a face template at the home region (forwarded to the hub)."""
    from nodes.client import FederationClient

    template = _read_template(face_path)
    if template is None:
        raise click.UsageError("--face is required")
    with FederationClient(directory) as client:
        client.enrol_face(region, subject_id, password, template)
    emit({"subject_id": subject_id, "enrolled": True})


@identity.command("login")
@dir_option
@click.option("--region", required=True, help="Home region where the subject is registered.")
@click.option("--id", "subject_id", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option(
    "--audience",
    "audiences",
    multiple=True,
    required=True,
    help="Region the token is for (repeatable).",
)
@click.option(
    "--acr",
    type=click.Choice(["low", "substantial", "high"]),
    default="low",
    show_default=True,
    help="Level of assurance; substantial/high need --face.",
)
@face_option
@domain_errors
def identity_login(
    directory: Path,
    region: str,
    subject_id: str,
    password: str,
    audiences: tuple[str, ...],
    acr: str,
    face_path: Path | None,
) -> None:
    """Authenticate once at home; prints the session and one token per audience."""
    from nodes.client import FederationClient, to_dict

    with FederationClient(directory) as client:
        reply = client.login(
            region, subject_id, password, audiences, acr, _read_template(face_path)
        )
    emit(to_dict(reply))


@identity.command("token")
@dir_option
@click.option("--region", required=True, help="Home region holding the session.")
@click.option("--session", "session_id", required=True)
@click.option("--secret", required=True)
@click.option("--audience", required=True)
@domain_errors
def identity_token(
    directory: Path, region: str, session_id: str, secret: str, audience: str
) -> None:
    """Mint a token for another region from an existing login (no second login)."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit({"token": client.issue_token(region, session_id, secret, audience)})


@identity.command("verify")
@dir_option
@click.option("--region", required=True, help="Region the token is presented to.")
@click.option("--acr", default="", help="Minimum level of assurance required.")
@click.argument("token")
@domain_errors
def identity_verify(directory: Path, region: str, acr: str, token: str) -> None:
    """Present a token to a region; prints the verified claims (each token works once)."""
    from nodes.client import FederationClient, to_dict

    with FederationClient(directory) as client:
        emit(to_dict(client.verify_token(region, token, acr)))


@identity.command("logout")
@dir_option
@click.option("--region", required=True, help="Home region holding the session.")
@click.option("--session", "session_id", required=True)
@click.option("--secret", required=True)
@domain_errors
def identity_logout(directory: Path, region: str, session_id: str, secret: str) -> None:
    """Revoke a session; every region refuses its tokens within the revocation poll delay."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit({"session_id": session_id, "revoked_at": client.logout(region, session_id, secret)})


# --- yrd audit ------------------------------------------------------------------------
@root.group()
def audit() -> None:
    """Inspect and verify a node's hash-chained audit log."""


@audit.command("verify")
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path))
@domain_errors
def audit_verify(config_path: Path) -> None:
    """Check the chain; reports the first tampered entry. Exit 10 when broken."""
    from federation.audit import verify_chain
    from federation.errors import IntegrityError
    from federation.storage import open_store
    from nodes.config import load_config

    store = open_store(load_config(config_path).store_url)
    try:
        report = verify_chain(store.audit_entries())
    finally:
        store.close()
    emit(report.to_dict())
    if not report.ok:
        raise IntegrityError(f"audit chain broken at entry {report.first_bad_seq}: {report.reason}")


@audit.command("show")
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path))
@click.option("--last", default=20, show_default=True, type=click.IntRange(1))
@domain_errors
def audit_show(config_path: Path, last: int) -> None:
    """Print the last entries of a node's audit log."""
    from federation.storage import open_store
    from nodes.config import load_config

    store = open_store(load_config(config_path).store_url)
    try:
        seq, _ = store.audit_head()
        emit([e.to_dict() for e in store.audit_entries(after_seq=max(0, seq - last))])
    finally:
        store.close()


# --- yrd bench ----------------------------------------------------------------------
BENCHMARKS = {
    "identity": "benchmarks.identity_bench",
    "licence": "benchmarks.licence_bench",
    "case": "benchmarks.case_bench",
    "simulator": "benchmarks.simulator_bench",
}


@root.command(
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
@root.command()
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


root.add_command(licence)
root.add_command(catalogue)
root.add_command(case)
root.add_command(stats)


def _register_optional() -> None:
    try:
        from simulator.cli import sim
    except ImportError:  # the simulator is developed alongside; absent until it lands
        return
    root.add_command(sim)


_register_optional()


def main() -> None:
    root(prog_name="yrd")


if __name__ == "__main__":
    main()
