"""Federated tokens: EdDSA JWTs minted at the home region and verified anywhere offline."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature

from federation.assurance import Assurance
from federation.audit import AuditDraft
from federation.errors import InvalidArgument, PermissionDenied, Unauthenticated
from federation.jose import Jwk, SigningKey, parse_compact, sign_compact
from federation.trustlist import TrustList, UnknownKey

TOKEN_TYP = "JWT"
DEFAULT_TTL_S = 600
MAX_TTL_S = 1800
DEFAULT_SKEW_S = 30
_JTI = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class TokenClaims:
    """The verified content of a federated token."""

    issuer: str
    subject: str
    audience: str
    issued_at: int
    expires_at: int
    jti: str
    assurance: Assurance
    session_id: str
    home_region: str
    subject_kind: str
    name: str
    amr: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.audience,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "jti": self.jti,
            "acr": self.assurance.acr,
            "sid": self.session_id,
            "home": self.home_region,
            "sub_kind": self.subject_kind,
            "name": self.name,
            "amr": list(self.amr),
        }


def mint_token(
    key: SigningKey,
    *,
    issuer: str,
    subject: str,
    audience: str,
    session_id: str,
    assurance: Assurance,
    home_region: str,
    subject_kind: str,
    name: str,
    amr: tuple[str, ...],
    now: float,
    ttl_s: int = DEFAULT_TTL_S,
) -> str:
    if not 0 < ttl_s <= MAX_TTL_S:
        raise InvalidArgument(f"token lifetime must be 1..{MAX_TTL_S} seconds, got {ttl_s}")
    iat = int(now)
    claims = TokenClaims(
        issuer=issuer,
        subject=subject,
        audience=audience,
        issued_at=iat,
        expires_at=iat + ttl_s,
        jti=secrets.token_urlsafe(18),
        assurance=assurance,
        session_id=session_id,
        home_region=home_region,
        subject_kind=subject_kind,
        name=name,
        amr=amr,
    )
    return sign_compact(claims.to_dict(), key, typ=TOKEN_TYP)


def _claims_from(payload: dict[str, Any]) -> TokenClaims:
    try:
        claims = TokenClaims(
            issuer=str(payload["iss"]),
            subject=str(payload["sub"]),
            audience=str(payload["aud"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            jti=str(payload["jti"]),
            assurance=Assurance.parse(str(payload["acr"])),
            session_id=str(payload["sid"]),
            home_region=str(payload.get("home", "")),
            subject_kind=str(payload.get("sub_kind", "")),
            name=str(payload.get("name", "")),
            amr=tuple(str(a) for a in payload.get("amr", [])),
        )
    except KeyError as exc:
        raise Unauthenticated(f"token lacks required claim {exc}") from None
    except (TypeError, ValueError) as exc:
        raise Unauthenticated(f"token claim has the wrong type: {exc}") from None
    if not _JTI.match(claims.jti):
        raise Unauthenticated("token 'jti' is malformed")
    return claims


class ReplayCheck(Protocol):
    """(audience, jti, expires_at[, audit]) -> True when first seen; a first sighting commits
    `audit`, when one is passed, in the same transaction as the replay row."""

    def __call__(
        self, audience: str, jti: str, expires_at: float, audit: AuditDraft | None = ..., /
    ) -> bool: ...


AuditOf = Callable[[TokenClaims], AuditDraft]
"""Verified claims -> the audit entry of accepting them."""

RevocationCheck = Callable[[str, str], bool]
"""(issuer entity id, session id) -> True when the session was revoked."""


class TokenVerifier:
    """Checks a token for one audience with trust-list keys only: no call to the home region."""

    def __init__(
        self,
        audience: str,
        trust_list: Callable[[], TrustList],
        replay: ReplayCheck,
        revoked: RevocationCheck,
        skew_s: int = DEFAULT_SKEW_S,
        refresh_trust: Callable[[], object] | None = None,
    ) -> None:
        self.audience = audience
        self._trust_list = trust_list
        self._replay = replay
        self._revoked = revoked
        self.skew_s = skew_s
        self._refresh_trust = refresh_trust

    def _issuer_key(self, issuer_id: str, kid: str, now: float) -> Jwk:
        issuer = self._trust_list().member(issuer_id)
        if "region" not in issuer.roles:
            raise Unauthenticated(f"{issuer_id} is not a region and cannot issue tokens")
        try:
            return issuer.key(kid, now, use="sig")
        except UnknownKey:
            # the issuer may have rotated before our next scheduled refresh: look once more
            if self._refresh_trust is None:
                raise
            self._refresh_trust()
            return self._trust_list().member(issuer_id).key(kid, now, use="sig")

    def verify(
        self, token: str, required: Assurance, now: float, audit: AuditOf | None = None
    ) -> TokenClaims:
        """The token's claims, or a refusal; with `audit`, acceptance is recorded atomically
        with the jti (the replay row and the audit entry commit together or not at all)."""
        parsed = parse_compact(token)
        if parsed.header.get("typ") != TOKEN_TYP:
            raise Unauthenticated(f"not a federated token (typ {parsed.header.get('typ')!r})")
        try:
            claims = _claims_from(parsed.payload())
        except InvalidArgument as exc:
            raise Unauthenticated(f"token payload unreadable: {exc.message}") from None
        jwk = self._issuer_key(claims.issuer, parsed.header["kid"], now)
        try:
            jwk.public_key().verify(parsed.signature, parsed.signing_input)
        except InvalidSignature:
            raise Unauthenticated(
                f"token signature does not verify with {claims.issuer} key {jwk.kid} (forged)"
            ) from None
        if claims.audience != self.audience:
            raise PermissionDenied(
                f"token is meant for {claims.audience}, not {self.audience}; "
                "ask the home region for a token with this audience"
            )
        if now > claims.expires_at + self.skew_s:
            raise Unauthenticated(
                f"token expired {int(now - claims.expires_at)} s ago; log in again"
            )
        if claims.issued_at > now + self.skew_s:
            raise Unauthenticated("token issued in the future (check clocks)")
        if not 0 < claims.expires_at - claims.issued_at <= MAX_TTL_S:
            raise Unauthenticated(f"token lifetime must be 1..{MAX_TTL_S} s")
        if claims.assurance < required:
            raise PermissionDenied(
                f"level of assurance {claims.assurance.name.lower()} is below the required "
                f"{required.name.lower()}; log in again with a stronger method"
            )
        if self._revoked(claims.issuer, claims.session_id):
            raise Unauthenticated("the session behind this token was logged out")
        keep_until = claims.expires_at + self.skew_s
        first = (
            self._replay(claims.audience, claims.jti, keep_until)
            if audit is None
            else self._replay(claims.audience, claims.jti, keep_until, audit(claims))
        )
        if not first:
            raise Unauthenticated(f"token {claims.jti} was already used here (replay)")
        return claims
