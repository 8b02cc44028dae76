"""`yrd identity`: register, enrol a face, log in, mint, verify and revoke federated tokens."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nodes.cli.common import dir_option, domain_errors, emit, secret_options


@click.group()
def identity() -> None:
    """Register, log in once at home, verify the token anywhere, log out (一地认证, 全网通办).

    \b
    Passwords and session secrets: give each one way only, --password TEXT,
    --password-file PATH (first line; `-` reads standard input) or
    --password-env VAR; with none of them the command asks with a hidden prompt.

    \b
    Face templates (--face FILE): FILE holds one JSON array of 64 to 1024
    finite numbers, not all zero, e.g. [0.12, -0.5, 0.33, ...]: the feature
    vector of a face from the window's capture device. Templates are compared
    by cosine similarity (a match scores at least 0.85), so only the direction
    counts, not the scale; a login must present as many numbers as enrolled.
    """


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
@secret_options("password", confirm=True, what="The new password")
@domain_errors
def identity_register(
    directory: Path, region: str, kind: str, subject_id: str, name: str, password: str
) -> None:
    """Register a natural or legal person at its home region (the prompt asks twice)."""
    from nodes.client import FederationClient, to_dict

    with FederationClient(directory) as client:
        emit(to_dict(client.register(region, kind, subject_id, name, password)))


def _read_template(path: Path | None) -> list[float] | None:
    """The face template in `path`, checked as the hub will check it (see `yrd identity`)."""
    from federation.errors import InvalidArgument
    from federation.identity.provider import validate_face_template

    if path is None:
        return None
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.BadParameter(
            f"{path}: not a JSON array of numbers ({exc})", param_hint="--face"
        ) from None
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise click.BadParameter(f"{path}: expected a JSON array of numbers", param_hint="--face")
    try:
        return validate_face_template(values)
    except InvalidArgument as exc:
        raise click.BadParameter(f"{path}: {exc.message}", param_hint="--face") from None


face_option = click.option(
    "--face",
    "face_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file holding the face template: one array of 64..1024 finite numbers, not all "
    "zero, compared by cosine similarity (see `yrd identity --help`).",
)


@identity.command("enrol-face")
@dir_option
@click.option("--region", required=True, help="Home region.")
@click.option("--id", "subject_id", required=True)
@secret_options("password")
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
@secret_options("password")
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
@secret_options("secret", what="The session secret (from `yrd identity login`)")
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
@secret_options("secret", what="The session secret (from `yrd identity login`)")
@domain_errors
def identity_logout(directory: Path, region: str, session_id: str, secret: str) -> None:
    """Revoke a session; every region refuses its tokens within the revocation poll delay."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit({"session_id": session_id, "revoked_at": client.logout(region, session_id, secret)})
