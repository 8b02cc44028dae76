"""`yrd licence ...`: issue, get, verify, revoke, suspend, list, challenge, present, verify."""

from __future__ import annotations

import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import click

from federation.crypto.jose import SigningKey
from federation.errors import InvalidArgument
from federation.regions import parse_region
from nodes.cli.common import dir_option, domain_errors, emit, parse_pairs


def _doc(reply: Any) -> dict[str, Any]:
    from nodes.client import to_dict

    return to_dict(reply)


_MAX_PATH = 4096


def _text_or_file(value: str) -> str:
    """The SD-JWT or `YRD1:` text given, or the content of the file the argument names.

    Text is recognised by its shape (a `~`, the QR prefix, or longer than any path) before
    the file system is asked, and a name the system refuses (too long, NUL) is text too.
    """
    from federation.licences.qr import QR_PREFIX

    text = value.strip()
    if "~" in text or text.startswith(QR_PREFIX) or len(value) >= _MAX_PATH:
        return text
    try:
        is_file = Path(value).is_file()
    except (OSError, ValueError):
        return text
    if not is_file:
        return text
    try:
        return Path(value).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read {value}: {exc}") from None


def _fields(pairs: tuple[str, ...], fields_json: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if fields_json is not None:
        loaded = json.loads(fields_json.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise InvalidArgument(f"{fields_json}: expected a JSON object of fields")
        out.update(loaded)
    out.update(parse_pairs(pairs, "--field"))
    return out


@click.group()
def licence() -> None:
    """Electronic licences (电子证照): sealed in one region, valid in every region."""


@licence.command("types")
@domain_errors
def licence_types() -> None:
    """List the licence-type catalogue (type codes, fields, sensitive fields)."""
    from federation.licences import CATALOGUE

    emit(
        [
            {
                "key": t.key,
                "code": t.code,
                "name": f"{t.name_zh} ({t.name_en})",
                "holder": t.holder_kind.value,
                "department": t.department.name_en,
                "fields": list(t.field_names),
                "sensitive": sorted(t.sensitive_fields),
            }
            for t in CATALOGUE
        ]
    )


@licence.command("wallet")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the holder's private wallet key (mode 0600).",
)
@click.option(
    "--alg",
    type=click.Choice(["EdDSA", "ES256", "SM2SM3"]),
    default="EdDSA",
    show_default=True,
    help="Key type: EdDSA (Ed25519), ES256 (P-256, as many wallets hold) or SM2SM3 (SM2/SM3).",
)
@domain_errors
def licence_wallet(out: Path, alg: str) -> None:
    """Create a holder wallet key; its public JWK binds licences to the holder."""
    from federation.crypto.pki import write_private_key

    if out.exists():
        raise click.UsageError(f"{out} exists; refusing to overwrite a wallet key")
    key = SigningKey.generate(alg)
    write_private_key(out, key.to_pem())
    emit({"wallet": str(out), "alg": key.alg, "jwk": key.jwk.to_dict()})


def _wallet(path: Path) -> SigningKey:
    return SigningKey.from_pem(path.read_bytes())


@licence.command("issue")
@dir_option
@click.option("--region", required=True, help="Issuing region.")
@click.option("--type", "licence_type", required=True, help="Catalogue key or type code.")
@click.option("--holder-code", required=True, help="Citizen id or credit code of the holder.")
@click.option("--holder-name", required=True)
@click.option("--field", "pairs", multiple=True, help="Type-specific field name=value.")
@click.option("--fields-json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--authority", default="", help="Issuing authority credit code (default: by type).")
@click.option("--number", default="", help="Licence number (default: derived from the serial).")
@click.option("--valid-from", default="", help="YYYY-MM-DD (default: today).")
@click.option("--valid-until", default="", help="YYYY-MM-DD (default: no expiry).")
@click.option(
    "--wallet",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Holder wallet key file; binds the licence for presentations.",
)
@click.option("--request-id", default="", help="Idempotency key (default: random).")
@domain_errors
def licence_issue(
    directory: Path,
    region: str,
    licence_type: str,
    holder_code: str,
    holder_name: str,
    pairs: tuple[str, ...],
    fields_json: Path | None,
    authority: str,
    number: str,
    valid_from: str,
    valid_until: str,
    wallet: Path | None,
    request_id: str,
) -> None:
    """Issue and seal a licence; retrying with the same --request-id returns the same one."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        reply = client.issue_licence(
            region,
            request_id or secrets.token_hex(8),
            licence_type,
            holder_code,
            holder_name,
            _fields(pairs, fields_json),
            authority_code=authority,
            number=number,
            valid_from=valid_from,
            valid_until=valid_until,
            holder_jwk=_wallet(wallet).jwk.to_dict() if wallet else None,
        )
    emit(_doc(reply))


@licence.command("get")
@dir_option
@click.option("--region", required=True, help="Issuing region holding the licence.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the sealed licence (SD-JWT) to this file.",
)
@click.argument("identifier")
@domain_errors
def licence_get(directory: Path, region: str, out: Path | None, identifier: str) -> None:
    """Fetch a licence from its issuing region (the sealed SD-JWT and its status)."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        reply = client.get_licence(region, identifier)
    if out is not None:
        out.write_text(reply.sd_jwt + "\n", encoding="utf-8")
    emit(_doc(reply))


@licence.command("fetch")
@dir_option
@click.option("--region", required=True, help="Region asking (the window's region).")
@click.option("--owner", required=True, help="Region holding the licence.")
@click.option("--item", required=True, help="Catalogued service item code, e.g. YRD-GA-0001.")
@click.option("--purpose", required=True, help="Stated purpose (申请事由).")
@click.option("--consent", required=True, help="Holder's token whose audience is the owner.")
@click.argument("identifier")
@domain_errors
def licence_fetch(
    directory: Path,
    region: str,
    owner: str,
    item: str,
    purpose: str,
    consent: str,
    identifier: str,
) -> None:
    """Cross-region read: only the fields the service item needs, consented and audited."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        reply = client.fetch_remote_licence(region, owner, identifier, item, purpose, consent)
    out = _doc(reply)
    out["fields"] = json.loads(out.pop("fields_json", "{}"))
    emit(out)


@licence.command("verify")
@dir_option
@click.option("--region", required=True, help="Verifying region (any).")
@click.argument("licence_text")
@domain_errors
def licence_verify(directory: Path, region: str, licence_text: str) -> None:
    """Verify a sealed licence (SD-JWT text or a file holding it) anywhere in the delta."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        reply = client.verify_licence(region, _text_or_file(licence_text))
    out = _doc(reply)
    if out.get("licence_json"):
        out["licence"] = json.loads(out.pop("licence_json"))
    emit(out)


def _status_command(action: str) -> click.Command:
    @click.command(action, help=f"{action.capitalize()} a licence at its issuing region.")
    @dir_option
    @click.option("--region", required=True, help="Issuing region.")
    @click.option("--reason", default="", help="Why (written to the audit log).")
    @click.argument("identifier")
    @domain_errors
    def command(directory: Path, region: str, reason: str, identifier: str) -> None:
        from nodes.client import FederationClient

        with FederationClient(directory) as client:
            emit(_doc(client.change_licence_status(region, identifier, action, reason)))

    return command


for _action in ("revoke", "suspend", "reinstate"):
    licence.add_command(_status_command(_action))


@licence.command("list")
@dir_option
@click.option("--region", required=True, help="Region asked (the token's audience).")
@click.option("--token", required=True, help="Holder's federated token for that region.")
@click.option("--deadline-ms", default=1500, show_default=True, type=click.IntRange(1, 30000))
@domain_errors
def licence_list(directory: Path, region: str, token: str, deadline_ms: int) -> None:
    """归集: every licence the holder has in all four regions, with per-region errors."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit(_doc(client.list_holder_licences(region, token, deadline_ms)))


@licence.command("present")
@click.option(
    "--licence",
    "licence_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File with the full sealed licence (from `yrd licence get --out`).",
)
@click.option(
    "--wallet", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--disclose", multiple=True, required=True, help="Field to reveal (repeatable).")
@click.option("--audience", required=True, help="Verifying region.")
@click.option(
    "--nonce",
    help="The verifier's challenge (`yrd licence challenge`); default: a fresh random nonce.",
)
@click.option("--qr/--raw", default=True, show_default=True, help="QR-sized YRD1: encoding.")
@click.option(
    "--qr-png",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the presentation as a QR code PNG (4 px per module, quiet zone 4).",
)
@click.option(
    "--qr-svg",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the presentation as a QR code SVG.",
)
@click.option(
    "--qr-terminal",
    is_flag=True,
    help="Also draw the QR code on standard error (stdout stays one JSON document).",
)
@click.option(
    "--qr-error",
    type=click.Choice(["L", "M", "Q", "H"], case_sensitive=False),
    default="M",
    show_default=True,
    help="QR error correction: M recovers about 15% of a code shown on a screen; L packs a "
    "long presentation into a smaller code, Q and H need much larger ones.",
)
@domain_errors
def licence_present(
    licence_path: Path,
    wallet: Path,
    disclose: tuple[str, ...],
    audience: str,
    nonce: str | None,
    qr: bool,
    qr_png: Path | None,
    qr_svg: Path | None,
    qr_terminal: bool,
    qr_error: str,
) -> None:
    """亮证 in the holder's wallet (offline): a short-lived, holder-bound presentation.

    With --nonce the presentation answers the verifier's challenge (`yrd licence challenge`);
    without it the wallet picks a fresh random nonce, which the verifier accepts once when it
    asked for no challenge. With --qr-png, --qr-svg or --qr-terminal the presentation is also
    drawn as the smallest QR code (byte mode) that holds it; the output's `qr` says its version
    and error level.
    """
    from federation.licences import create_presentation, encode_qr

    text = create_presentation(
        licence_path.read_text(encoding="utf-8").strip(),
        _wallet(wallet),
        disclose,
        parse_region(audience).entity_id,
        time.time(),
        nonce=nonce,
    )
    encoded = encode_qr(text) if qr else text
    out: dict[str, Any] = {
        "presentation": encoded,
        "length": len(encoded),
        "disclosed": list(disclose),
    }
    if qr_png or qr_svg or qr_terminal:
        out["qr"] = _draw_qr(encoded, qr_error, qr_png, qr_svg, qr_terminal)
    emit(out)


def _draw_qr(
    text: str, error: str, png: Path | None, svg: Path | None, terminal: bool
) -> dict[str, Any]:
    from nodes.cli import qrimage

    symbol = qrimage.presentation_symbol(text, error)
    info = qrimage.describe(symbol)
    try:
        if png is not None:
            qrimage.write_png(symbol, png)
            info["png"] = str(png)
        if svg is not None:
            qrimage.write_svg(symbol, svg)
            info["svg"] = str(svg)
    except OSError as exc:
        raise click.FileError(exc.filename or "", hint=exc.strerror or str(exc)) from None
    if terminal:
        qrimage.write_terminal(symbol, sys.stderr)
    return info


@licence.command("challenge")
@dir_option
@click.option("--region", required=True, help="Verifying region (the audience).")
@click.option("--ttl", "ttl_s", type=int, default=0, help="Lifetime in seconds (default 120).")
@domain_errors
def licence_challenge(directory: Path, region: str, ttl_s: int) -> None:
    """A verifier-chosen nonce: the holder presents with `--nonce`, it is answered once."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        emit(_doc(client.issue_challenge(region, ttl_s)))


@licence.command("verify-presentation")
@dir_option
@click.option("--region", required=True, help="Verifying region (the audience).")
@click.option(
    "--nonce",
    "expected_nonce",
    default="",
    help="The challenge the presentation must answer; without it a fresh holder-chosen "
    "nonce is accepted once.",
)
@click.argument("presentation")
@domain_errors
def licence_verify_presentation(
    directory: Path, region: str, expected_nonce: str, presentation: str
) -> None:
    """Verify a presentation at a window: seal, holder binding, nonce, cached status."""
    from nodes.client import FederationClient

    with FederationClient(directory) as client:
        reply = client.verify_presentation(region, _text_or_file(presentation), expected_nonce)
    out = _doc(reply)
    out["disclosed"] = json.loads(out.pop("disclosed_json", "{}"))
    emit(out)
