"""Seal certificates: a region's signed statement binding an authority to its seal key."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from federation.crypto.jose import (
    SIGNATURE_ALGS,
    Jwk,
    ParsedJws,
    SigningKey,
    b64url_encode,
    parse_compact,
    sign_compact,
    verify_parsed,
)
from federation.crypto.x5c import x5c_leaf_kid
from federation.errors import FederationError, InvalidArgument, Unauthenticated
from federation.licences.model import IssuingAuthority
from federation.regions import Region

SEAL_CERT_TYP = "seal-cert+jwt"
AUTHORITIES_PATH = (
    "/authorities/"  # an authority's issuer id: <region public url>/authorities/<code>
)
SEAL_CERT_HEADER = "sealcert"  # JWS header carrying the seal certificate
X5C_HEADER = "x5c"  # the same seal key's X.509 chain to the federation root (RFC 7515 4.1.6)
MAX_SEAL_CERT_TTL_S = 10 * 366 * 86400

RegionKeyResolver = Callable[[str, str], Jwk]
"""(region code, kid) -> the region's signing key from the trust list; raises Unauthenticated."""


def minimal_jwk(jwk: Jwk) -> dict[str, Any]:
    # The RFC 7638 members only: the kid is the thumbprint, recomputed by Jwk.from_dict.
    return jwk.required_members()


def parse_jws(token: str, require_kid: bool = True) -> ParsedJws:
    """parse_compact for EdDSA or ES256, also refusing a non-canonical signature segment.

    The unused low bits of the last base64url character would otherwise let an altered
    character decode to the same signature; header and payload are covered by the signature.
    Which of the two algorithms may verify is the key's to say (`verify_signature`).
    """
    parsed = parse_compact(token, SIGNATURE_ALGS, require_kid)
    if b64url_encode(parsed.signature) != token.rsplit(".", 1)[1]:
        raise InvalidArgument("JWS signature is not canonical base64url (altered)")
    return parsed


def verify_signature(parsed: ParsedJws, jwk: Jwk, what: str) -> None:
    """Verify by the algorithm `jwk` declares; a JWS naming another `alg` is refused."""
    verify_parsed(parsed, jwk, what)


def int_claim(payload: dict[str, Any], name: str, what: str) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{what} claim {name!r} must be an integer")
    return value


def resolve_region_key(region_key: RegionKeyResolver, region_code: str, kid: str) -> Jwk:
    """Ask the trust list for a region key; any refusal becomes Unauthenticated."""
    try:
        return region_key(region_code, kid)
    except Unauthenticated:
        raise
    except FederationError as exc:
        raise Unauthenticated(
            f"region {region_code} key {kid} is not in the trust list: {exc.message}"
        ) from None


@functools.lru_cache(maxsize=1024)  # pure; every licence of an authority repeats its pair
def check_issuer_url(issuer: str, authority_code: str) -> str:
    """An authority's https issuer identifier must end in `/authorities/<its credit code>`;
    return its base (the region's public URL, which the trust list must list)."""
    parts = urlsplit(issuer)
    suffix = f"{AUTHORITIES_PATH}{authority_code}"
    if (
        parts.scheme != "https"
        or not parts.hostname
        or parts.path != suffix
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise InvalidArgument(
            f"issuer {issuer!r} is not https://host:port{suffix} (the authority's public id)"
        )
    return f"https://{parts.netloc}"


def authority_code_of(payload: dict[str, Any]) -> str:
    """The sealing authority's credit code: `authority_code`, with `iss` its https identifier;
    in what was sealed before the two were split, `iss` is the credit code itself."""
    iss = payload.get("iss")
    if not isinstance(iss, str):
        raise InvalidArgument("sealed claim 'iss' must be a string")
    if "authority_code" not in payload:
        return iss
    code = payload["authority_code"]
    if not isinstance(code, str) or not code.isalnum():
        raise InvalidArgument("sealed claim 'authority_code' must be a credit code")
    if iss != code:
        check_issuer_url(iss, code)
    return code


@dataclass(frozen=True)
class SealCertificate:
    """A region's signed statement that `seal_jwk` is the seal key of one issuing authority."""

    region: Region
    authority_code: str
    authority_name: str
    seal_jwk: Jwk
    issued_at: int
    expires_at: int
    token: str


def certify_seal_key(
    region_key: SigningKey,
    region: Region,
    authority: IssuingAuthority,
    seal_jwk: Jwk,
    ttl: int,
    now: float,
) -> str:
    """The region signs a `seal-cert+jwt` binding the authority's credit code to its seal key."""
    if authority.region is not region:
        raise InvalidArgument(
            f"{region.short} cannot certify {authority.name} ({authority.credit_code}), "
            f"an authority of region {authority.region.short}"
        )
    if not 0 < ttl <= MAX_SEAL_CERT_TTL_S:
        raise InvalidArgument(f"seal certificate ttl must be 1..{MAX_SEAL_CERT_TTL_S} s")
    iat = int(now)
    payload = {
        "iss": region.entity_id,
        "region": region.code,
        "sub": authority.credit_code,
        "name": authority.name,
        "cnf": {"jwk": minimal_jwk(seal_jwk)},
        "iat": iat,
        "exp": iat + ttl,
    }
    return sign_compact(payload, region_key, typ=SEAL_CERT_TYP)


def read_seal_certificate(token: str, region_key: RegionKeyResolver) -> SealCertificate:
    """Verify a seal certificate's region signature; the caller checks its validity window."""
    parsed = parse_jws(token)
    if parsed.header.get("typ") != SEAL_CERT_TYP:
        raise Unauthenticated(f"not a seal certificate (typ {parsed.header.get('typ')!r})")
    payload = parsed.payload()
    region_code = payload.get("region")
    if not isinstance(region_code, str) or region_code not in {r.code for r in Region}:
        raise Unauthenticated(f"seal certificate names unknown region {region_code!r}")
    region = Region(region_code)
    jwk = resolve_region_key(region_key, region.code, parsed.header["kid"])
    verify_signature(parsed, jwk, f"seal certificate (region {region.short})")
    if payload.get("iss") != region.entity_id:
        raise Unauthenticated(
            f"seal certificate issuer {payload.get('iss')!r} is not region {region.entity_id}"
        )
    cnf = payload.get("cnf")
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
        raise InvalidArgument("seal certificate has no cnf.jwk")
    sub, name = payload.get("sub"), payload.get("name")
    if not isinstance(sub, str) or not isinstance(name, str):
        raise InvalidArgument("seal certificate needs string 'sub' and 'name'")
    return SealCertificate(
        region=region,
        authority_code=sub,
        authority_name=name,
        seal_jwk=Jwk.from_dict(cnf["jwk"]),
        issued_at=int_claim(payload, "iat", "seal certificate"),
        expires_at=int_claim(payload, "exp", "seal certificate"),
        token=token,
    )


_VERIFIED: OrderedDict[str, tuple[SealCertificate, str]] = OrderedDict()  # with its kid
_VERIFIED_MAX = 512
_VERIFIED_LOCK = threading.Lock()


def _certificate(token: str, region_key: RegionKeyResolver) -> SealCertificate:
    """Verify each seal certificate once (every licence of an authority carries the same).

    A cached certificate is still re-checked against the trust list on every use: the region
    key it names must be listed now (kids are key thumbprints, so that check is exact).
    """
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(token)
        if known is not None:
            _VERIFIED.move_to_end(token)
    if known is None:
        cert = read_seal_certificate(token, region_key)
        with _VERIFIED_LOCK:
            _VERIFIED[token] = (cert, parse_jws(token).header["kid"])
            while len(_VERIFIED) > _VERIFIED_MAX:
                _VERIFIED.popitem(last=False)
        return cert
    cert, kid = known
    resolve_region_key(region_key, cert.region.code, kid)
    return cert


def recheck_certificate(cert: SealCertificate, region_key: RegionKeyResolver) -> None:
    """Refuse a certificate verified earlier whose region key the trust list no longer has."""
    _certificate(cert.token, region_key)


@dataclass(frozen=True)
class SealedJws:
    """A JWS whose seal, seal certificate and sealing time verified; its payload is trusted."""

    parsed: ParsedJws
    payload: dict[str, Any]
    certificate: SealCertificate
    sealed_at: int


def verify_sealed_jws(
    token: str,
    typs: frozenset[str],
    what: str,
    region_key: RegionKeyResolver,
    now: float,
    skew_s: int,
) -> SealedJws:
    """Shared check of anything an authority seals (licences, case archives).

    The seal certificate in the `sealcert` header must chain to a region key in the trust
    list, certify the signing key and name the payload's `iss`; the seal is judged at the time
    it was applied (its `iat`, like a signature time), so it stays verifiable after the
    certificate's term, and a seal from the future is refused.
    """
    parsed = parse_jws(token)
    if parsed.header.get("typ") not in typs:
        raise Unauthenticated(f"not a {what} (typ {parsed.header.get('typ')!r})")
    cert_token = parsed.header.get(SEAL_CERT_HEADER)
    if not isinstance(cert_token, str):
        raise Unauthenticated(f"{what} carries no seal certificate ({SEAL_CERT_HEADER!r})")
    cert = _certificate(cert_token, region_key)
    if parsed.header["kid"] != cert.seal_jwk.kid:
        raise Unauthenticated(
            f"{what} sealed with key {parsed.header['kid']}, "
            f"but the certificate is for seal key {cert.seal_jwk.kid}"
        )
    verify_signature(parsed, cert.seal_jwk, f"{what} seal")
    # x5c is for verifiers outside the federation; here the trust list decides, so the chain
    # must certify the very key the region's seal certificate names
    if X5C_HEADER in parsed.header and x5c_leaf_kid(parsed.header[X5C_HEADER]) != cert.seal_jwk.kid:
        raise Unauthenticated(
            f"{what}: the x5c certificate is not for seal key {cert.seal_jwk.kid} "
            "that the region certified"
        )
    payload = parsed.payload()
    try:
        authority_code = authority_code_of(payload)
    except InvalidArgument as exc:
        raise Unauthenticated(f"{what}: {exc.message}") from None
    if authority_code != cert.authority_code:
        raise Unauthenticated(
            f"seal certificate is for authority {cert.authority_code}, "
            f"the {what} names issuer {authority_code!r}"
        )
    sealed_at = int_claim(payload, "iat", what)
    if not cert.issued_at - skew_s <= sealed_at <= cert.expires_at:
        raise Unauthenticated(
            f"{what} sealed at {sealed_at}, outside its seal certificate's validity "
            f"{cert.issued_at}..{cert.expires_at}"
        )
    if sealed_at > now + skew_s:
        raise Unauthenticated(f"{what} sealed in the future ({sealed_at} > {int(now)})")
    return SealedJws(parsed, payload, cert, sealed_at)


__all__ = [
    "AUTHORITIES_PATH",
    "MAX_SEAL_CERT_TTL_S",
    "SEAL_CERT_HEADER",
    "SEAL_CERT_TYP",
    "X5C_HEADER",
    "RegionKeyResolver",
    "SealCertificate",
    "SealedJws",
    "authority_code_of",
    "certify_seal_key",
    "check_issuer_url",
    "int_claim",
    "minimal_jwk",
    "parse_jws",
    "read_seal_certificate",
    "recheck_certificate",
    "resolve_region_key",
    "verify_sealed_jws",
    "verify_signature",
]
