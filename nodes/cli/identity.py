"""`yrd identity`: register, enrol a face, log in, mint, verify and revoke federated tokens."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nodes.cli.common import dir_option, domain_errors, emit


@click.group()
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
