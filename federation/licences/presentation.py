"""Presentation (亮证): holder-bound selective disclosure with a KB-JWT, and its QR transport."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from federation.crypto.jose import Jwk, SigningKey, sign_compact
from federation.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from federation.licences.model import PERSONAL_CLAIMS
from federation.licences.qr import decode_qr, is_qr
from federation.licences.sdjwt import (
    KB_JWT_TYP,
    Disclosure,
    join_sd_jwt,
    sd_digest,
    split_sd_jwt,
)
from federation.licences.seal import DEFAULT_SKEW_S, SealedMetadata, verify_seal
from federation.licences.sealcert import (
    RegionKeyResolver,
    int_claim,
    parse_jws,
    verify_signature,
)
from federation.licences.types import FieldValue, licence_type_by_code

DEFAULT_MAX_AGE_S = 300
MAX_NONCE_LENGTH = 128

NonceChecker = Callable[[str], bool]
"""nonce -> True when seen for the first time (and now remembered), False on a replay."""


def _holder_jwk_of(issuer_jwt: str) -> Jwk | None:
    cnf = parse_jws(issuer_jwt).payload().get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    return Jwk.from_dict(jwk) if isinstance(jwk, dict) else None


def create_presentation(
    sd_jwt: str,
    holder_key: SigningKey,
    disclose: Iterable[str],
    audience: str,
    now: float,
    nonce: str | None = None,
) -> str:
    """`<issuer-jwt>~<chosen disclosures>~<kb-jwt>`: only the named claims are revealed."""
    parts = split_sd_jwt(sd_jwt)
    if parts.kb_jwt is not None:
        raise InvalidArgument("present from the full licence, not from another presentation")
    bound = _holder_jwk_of(parts.issuer_jwt)
    if bound is None:
        raise FailedPrecondition("licence is not bound to a holder key; it cannot be presented")
    if bound.jkt != holder_key.jwk.jkt:
        raise PermissionDenied("this licence is bound to another holder key")
    if not audience:
        raise InvalidArgument("a presentation needs an audience (the verifier's id)")
    wanted = list(dict.fromkeys(disclose))
    available = {d.name: d.encoded for d in map(Disclosure.parse, parts.disclosures)}
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise InvalidArgument(
            f"the licence has no disclosable claim(s) {', '.join(unknown)}; "
            f"it has: {', '.join(available)}"
        )
    presented = join_sd_jwt(parts.issuer_jwt, (available[name] for name in wanted))
    nonce = nonce if nonce is not None else secrets.token_urlsafe(12)
    _check_nonce_shape(nonce)
    kb_payload = {
        "iat": int(now),
        "aud": audience,
        "nonce": nonce,
        "sd_hash": sd_digest(presented),
    }
    return presented + sign_compact(kb_payload, holder_key, typ=KB_JWT_TYP)


def _check_nonce_shape(nonce: object) -> str:
    if not isinstance(nonce, str) or not 0 < len(nonce) <= MAX_NONCE_LENGTH:
        raise InvalidArgument(f"nonce must be a string of 1..{MAX_NONCE_LENGTH} characters")
    return nonce


@dataclass(frozen=True)
class PresentationResult:
    """What a verifier learns: sealed metadata and the disclosed claims only."""

    metadata: SealedMetadata
    disclosed: Mapping[str, FieldValue]
    audience: str
    nonce: str
    presented_at: int
    holder_jwk: Jwk

    @property
    def identifier(self) -> str:
        return self.metadata.identifier.format()


def _checked_values(type_code: str, disclosures: Iterable[Disclosure]) -> dict[str, FieldValue]:
    try:
        licence_type = licence_type_by_code(type_code)
    except NotFound as exc:
        raise InvalidArgument(exc.message) from None
    out: dict[str, FieldValue] = {}
    for disclosure in disclosures:
        if disclosure.name in PERSONAL_CLAIMS:
            if not isinstance(disclosure.value, str):
                raise InvalidArgument(f"disclosed {disclosure.name!r} must be a string")
            out[disclosure.name] = disclosure.value
        else:
            spec = licence_type.field(disclosure.name)
            out[disclosure.name] = spec.type.check(disclosure.name, disclosure.value)
    return out


def verify_presentation(
    text: str,
    region_key: RegionKeyResolver,
    expected_aud: str,
    nonce_checker: NonceChecker,
    now: float,
    max_age_s: int = DEFAULT_MAX_AGE_S,
    skew_s: int = DEFAULT_SKEW_S,
    expected_nonce: str | None = None,
) -> PresentationResult:
    """Verify a presentation (raw `~` form or `YRD1:` QR form) offline against the trust list.

    `expected_nonce` is the verifier's own challenge: the KB-JWT must carry exactly it. Without
    one, any fresh holder-chosen nonce is accepted once (the `nonce_checker` refuses replays).

    Refusals: InvalidArgument (malformed), Unauthenticated (forged, altered, unbound, no KB-JWT,
    expired, replayed), PermissionDenied (meant for another verifier). The nonce is consumed
    only once everything else verified, so a bad presentation cannot burn a good nonce.
    """
    raw = decode_qr(text) if is_qr(text) else text
    parts = split_sd_jwt(raw)
    if parts.kb_jwt is None:
        raise Unauthenticated(
            "presentation has no key-binding JWT after the last '~'; the holder must sign it"
        )
    metadata, disclosures = verify_seal(
        parts.issuer_jwt, parts.disclosures, region_key, now, skew_s
    )
    holder_jwk = metadata.holder_jwk
    if holder_jwk is None:
        raise Unauthenticated("the licence is not bound to a holder key (no cnf); not presentable")
    # RFC 9901 s. 4.3: `typ` and `alg` only; the key is the licence's cnf, never a header kid
    kb = parse_jws(parts.kb_jwt, require_kid=False)
    if kb.header.get("typ") != KB_JWT_TYP:
        raise InvalidArgument(f"key-binding JWT must have typ {KB_JWT_TYP!r}")
    verify_signature(kb, holder_jwk, "key-binding JWT (holder key in the licence's cnf)")
    claims = kb.payload()
    if claims.get("sd_hash") != sd_digest(parts.presented):
        raise Unauthenticated(
            "sd_hash does not match: disclosures were added, removed or altered after the "
            "holder signed the presentation"
        )
    audience = claims.get("aud")
    if audience != expected_aud:
        raise PermissionDenied(
            f"presentation is meant for {audience!r}, not for this verifier {expected_aud!r}"
        )
    presented_at = int_claim(claims, "iat", "key-binding JWT")
    age = int(now) - presented_at
    if age > max_age_s:
        raise Unauthenticated(
            f"presentation expired: made {age} s ago, accepted for {max_age_s} s; show a new one"
        )
    if presented_at > now + skew_s:
        raise Unauthenticated("presentation made in the future (check the holder's clock)")
    nonce = _check_nonce_shape(claims.get("nonce"))
    if expected_nonce is not None and not hmac.compare_digest(
        nonce.encode("utf-8"), expected_nonce.encode("utf-8")
    ):
        raise Unauthenticated(
            "the presentation does not answer this verifier's challenge (another nonce)"
        )
    disclosed = _checked_values(metadata.type_code, disclosures)
    if not nonce_checker(nonce):
        raise Unauthenticated(f"nonce {nonce!r} was already used here: replayed presentation")
    return PresentationResult(
        metadata=metadata,
        disclosed=MappingProxyType(disclosed),
        audience=expected_aud,
        nonce=nonce,
        presented_at=presented_at,
        holder_jwk=holder_jwk,
    )


__all__ = [
    "DEFAULT_MAX_AGE_S",
    "MAX_NONCE_LENGTH",
    "NonceChecker",
    "PresentationResult",
    "create_presentation",
    "verify_presentation",
]
