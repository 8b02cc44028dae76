"""The documents a verifier outside the federation fetches, built from the trust list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from federation.crypto.jose import Jwk
from federation.licences.status_uri import parse_status_uri
from federation.trust.trustlist import Member

JWKS_PATH = "/.well-known/jwks.json"
VC_ISSUER_PATH = "/.well-known/jwt-vc-issuer"
STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
AUTHORITIES_PATH = "/authorities/"


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
    """The HTTPS path of a status list uri: `https://h:p/status/<code>/<n>` (or the legacy
    `yrd:status:<code>:<n>` of licences sealed before the public endpoint) -> `/status/<code>/<n>`.
    """
    return parse_status_uri(uri).path


def authority_issuer(base_url: str, authority_code: str) -> str:
    """An issuing authority's SD-JWT VC issuer identifier on its region's public endpoint."""
    return f"{base_url.rstrip('/')}{AUTHORITIES_PATH}{authority_code}"


def authority_metadata(issuer: str, seal_keys: Sequence[Jwk]) -> dict[str, Any]:
    """SD-JWT VC issuer metadata of one authority: its `issuer` (the licences' `iss`) and the
    seal key(s) that sign its licences, found at `/.well-known/jwt-vc-issuer` + the iss path."""
    return {"issuer": issuer, "jwks": {"keys": [k.to_dict() for k in seal_keys]}}


def status_list_url(base_url: str, uri: str) -> str:
    """Where a verifier fetches the list named `uri` from the region's public base URL."""
    return base_url.rstrip("/") + status_list_path(uri)


__all__ = [
    "AUTHORITIES_PATH",
    "JWKS_PATH",
    "STATUS_LIST_MEDIA_TYPE",
    "VC_ISSUER_PATH",
    "authority_issuer",
    "authority_metadata",
    "issuer_metadata",
    "region_jwks",
    "status_list_path",
    "status_list_url",
]
