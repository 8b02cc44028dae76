"""The documents a verifier outside the federation fetches, built from the trust list."""

from __future__ import annotations

from typing import Any

from federation.errors import InvalidArgument
from federation.trust.trustlist import Member

JWKS_PATH = "/.well-known/jwks.json"
VC_ISSUER_PATH = "/.well-known/jwt-vc-issuer"
STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"


def region_jwks(member: Member) -> dict[str, Any]:
    """The region's token/status keys and its seal-certifying keys as one standard JWK Set.

    Every key is a plain JWK (`kty`, `crv`, `x`, `kid`, `alg`, `use: sig`); which list a key came
    from is its purpose in the trust list, not a JWK member, so any JOSE library reads the set.
    """
    return {"keys": [k.to_dict() for k in (*member.signing_keys, *member.seal_keys)]}


def issuer_metadata(issuer: str, member: Member) -> dict[str, Any]:
    """SD-JWT VC issuer metadata (`/.well-known/jwt-vc-issuer`): `issuer` and an inline `jwks`."""
    return {"issuer": issuer, "jwks": region_jwks(member)}


def status_list_path(uri: str) -> str:
    """The HTTPS path of a status list uri: `yrd:status:<code>:<n>` -> `/status/<code>/<n>`.

    The sealed licences keep their `yrd:` uri (it is their status list's `sub`), so the public
    address is derived from it rather than written into them.
    """
    parts = uri.split(":")
    if len(parts) != 4 or parts[:2] != ["yrd", "status"] or not all(p.isalnum() for p in parts[2:]):
        raise InvalidArgument(f"not a federation status list uri: {uri!r}")
    return f"/status/{parts[2]}/{parts[3]}"


def status_list_url(base_url: str, uri: str) -> str:
    """Where a verifier fetches the list named `uri` from the region's public base URL."""
    return base_url.rstrip("/") + status_list_path(uri)


__all__ = [
    "JWKS_PATH",
    "STATUS_LIST_MEDIA_TYPE",
    "VC_ISSUER_PATH",
    "issuer_metadata",
    "region_jwks",
    "status_list_path",
    "status_list_url",
]
