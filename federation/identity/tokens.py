"""Federated tokens: EdDSA JWTs minted at the home region and verified anywhere offline."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from federation.audit import AuditDraft
from federation.crypto.jose import Jwk, SigningKey, parse_compact, sign_compact, verify_parsed
from federation.errors import InvalidArgument, PermissionDenied, Unauthenticated
from federation.identity.assurance import Assurance
from federation.identity.homes import verify_home_attestation
from federation.trust.trustlist import TrustList, UnknownKey

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
    home_attestation: str = ""
    not_before: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
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
            "home_att": self.home_attestation,
        }
        if self.not_before is not None:
            out["nbf"] = self.not_before
        return out


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
    home_attestation: str,
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
        home_attestation=home_attestation,
    )
    return sign_compact(claims.to_dict(), key, typ=TOKEN_TYP)


def _text(payload: dict[str, Any], name: str, default: str | None = None) -> str:
    value = payload.get(name, default)
    if value is None:
        raise Unauthenticated(f"token lacks required claim {name!r}")
    if not isinstance(value, str):
        raise Unauthenticated(f"token claim {name!r} must be a string")
    return value


def _time(payload: dict[str, Any], name: str, required: bool = True) -> int | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if value is None:
        raise Unauthenticated(f"token lacks required claim {name!r}")
    # a bool is an int in Python; a float or string time is another parser's guess
    if type(value) is not int:
        raise Unauthenticated(f"token claim {name!r} must be an integer NumericDate")
    return value


def _claims_from(payload: dict[str, Any]) -> TokenClaims:
    amr = payload.get("amr", [])
    if not isinstance(amr, list) or not all(isinstance(a, str) for a in amr):
        raise Unauthenticated("token claim 'amr' must be a list of strings")
    issued_at, expires_at = _time(payload, "iat"), _time(payload, "exp")
    assert issued_at is not None and expires_at is not None
    try:
        assurance = Assurance.parse(_text(payload, "acr"))
    except InvalidArgument as exc:
        raise Unauthenticated(f"token claim 'acr' is invalid: {exc.message}") from None
    claims = TokenClaims(
        issuer=_text(payload, "iss"),
        subject=_text(payload, "sub"),
        audience=_text(payload, "aud"),
        issued_at=issued_at,
        expires_at=expires_at,
        jti=_text(payload, "jti"),
        assurance=assurance,
        session_id=_text(payload, "sid"),
        home_region=_text(payload, "home", ""),
        subject_kind=_text(payload, "sub_kind", ""),
        name=_text(payload, "name", ""),
        amr=tuple(amr),
        home_attestation=_text(payload, "home_att", ""),
        not_before=_time(payload, "nbf", required=False),
    )
    if not claims.subject.strip():
        raise Unauthenticated("token 'sub' is empty")
    if not _JTI.match(claims.jti):
        raise Unauthenticated("token 'jti' is malformed")
    return claims


class ReplayCheck(Protocol):
    """(audience, jti, expires_at[, audit]) -> True when first seen; a first sighting commits
    `audit`, when one is passed, in the same transaction as the replay row."""

    def __call__(
        self, audience: str, jti: str, expires_at: float, audit: AuditDraft | None = ..., /
    ) -> bool: ...


class ReplayCheckNow(Protocol):
    """A ReplayCheck that never waits: None, with nothing recorded, when it would have to."""

    def __call__(
        self, audience: str, jti: str, expires_at: float, audit: AuditDraft | None = ..., /
    ) -> bool | None: ...


AuditOf = Callable[[TokenClaims], AuditDraft]
"""Verified claims -> the audit entry of accepting them."""

RevocationCheck = Callable[[str, str], bool]
"""(issuer entity id, session id) -> True when the session was revoked."""

RevocationCheckNow = Callable[[str, str], bool | None]
"""A RevocationCheck that never waits: None when answering would (e.g. read the store)."""


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
        replay_now: ReplayCheckNow | None = None,
        revoked_now: RevocationCheckNow | None = None,
    ) -> None:
        self.audience = audience
        self._trust_list = trust_list
        self._replay = replay
        self._revoked = revoked
        self._replay_now = replay_now
        self._revoked_now = revoked_now
        self.skew_s = skew_s
        self._refresh_trust = refresh_trust

    def _issuer_key(self, issuer_id: str, kid: str, now: float, refresh: bool = True) -> Jwk:
        issuer = self._trust_list().member(issuer_id)
        if "region" not in issuer.roles:
            raise Unauthenticated(f"{issuer_id} is not a region and cannot issue tokens")
        try:
            return issuer.key(kid, now, use="sig")
        except UnknownKey:
            # the issuer may have rotated before our next scheduled refresh: look once more
            if self._refresh_trust is None or not refresh:
                raise
            self._refresh_trust()
            return self._trust_list().member(issuer_id).key(kid, now, use="sig")

    def verify(
        self,
        token: str,
        required: Assurance,
        now: float,
        audit: AuditOf | None = None,
        audience: str | None = None,
    ) -> TokenClaims:
        """The token's claims, or a refusal.

        With `audit`, acceptance is recorded atomically with the jti (the replay row and the
        audit entry commit together or not at all). `audience` replaces this verifier's own
        when this node checks a token a calling region forwards (it must be meant for that
        caller).
        """
        claims = self.check(token, required, now, audience)
        return self.accept(claims, audit, audience)

    def check(
        self,
        token: str,
        required: Assurance,
        now: float,
        audience: str | None = None,
        refresh: bool = True,
    ) -> TokenClaims:
        """The CPU half of `verify`: parse, signature, audience, times, home, assurance.

        It reads only cached state (trust list, verified home attestations), except that with
        `refresh` an unknown `kid` refreshes the trust list once; with `refresh=False` it raises
        `UnknownKey` instead, so a caller on an event loop can retry off the loop.
        """
        expected = audience or self.audience
        parsed = parse_compact(token)
        if parsed.header.get("typ") != TOKEN_TYP:
            raise Unauthenticated(f"not a federated token (typ {parsed.header.get('typ')!r})")
        try:
            claims = _claims_from(parsed.payload())
        except InvalidArgument as exc:
            raise Unauthenticated(f"token payload unreadable: {exc.message}") from None
        jwk = self._issuer_key(claims.issuer, parsed.header["kid"], now, refresh)
        verify_parsed(parsed, jwk, f"token of {claims.issuer}")
        if claims.audience != expected:
            raise PermissionDenied(
                f"token is meant for {claims.audience}, not {expected}; "
                "ask the home region for a token with this audience"
            )
        self._check_times(claims, now)
        self._check_home(claims, now)
        if claims.assurance < required:
            raise PermissionDenied(
                f"level of assurance {claims.assurance.name.lower()} is below the required "
                f"{required.name.lower()}; log in again with a stronger method"
            )
        return claims

    def accept(
        self, claims: TokenClaims, audit: AuditOf | None = None, audience: str | None = None
    ) -> TokenClaims:
        """The store half of `verify` for claims `check` passed: revocation, then the replay
        row (with `audit` in the same transaction). It may block on the store."""
        self._accept(claims, audit, audience, now=False)
        return claims

    def accept_now(
        self, claims: TokenClaims, audit: AuditOf | None = None, audience: str | None = None
    ) -> TokenClaims | None:
        """`accept` if it needs no waiting (see ReplayCheckNow); None, with nothing recorded,
        when it would wait or this verifier has no such checks: then call `accept` off the loop.
        A refusal (revoked session, replayed jti) is raised exactly as `accept` raises it."""
        if self._replay_now is None or self._revoked_now is None:
            return None
        return self._accept(claims, audit, audience, now=True)

    def _accept(
        self, claims: TokenClaims, audit: AuditOf | None, audience: str | None, now: bool
    ) -> TokenClaims | None:
        """`accept` (now=False) and `accept_now` (now=True: the checks that never wait, whose
        None means "would wait": then None, nothing recorded). A blocking check's answer is
        only ever taken for its truth, so a None from one refuses as before (fail closed)."""
        revoked = self._revoked_now if now else self._revoked
        replay = self._replay_now if now else self._replay
        assert revoked is not None and replay is not None  # accept_now checked them
        is_revoked = revoked(claims.issuer, claims.session_id)
        if now and is_revoked is None:
            return None
        if is_revoked:
            raise Unauthenticated("the session behind this token was logged out")
        expected = audience or self.audience
        keep_until = claims.expires_at + self.skew_s
        first = (
            replay(expected, claims.jti, keep_until)
            if audit is None
            else replay(expected, claims.jti, keep_until, audit(claims))
        )
        if now and first is None:
            return None
        if not first:
            raise Unauthenticated(f"token {claims.jti} was already used here (replay)")
        return claims

    def _check_times(self, claims: TokenClaims, now: float) -> None:
        if now > claims.expires_at + self.skew_s:
            raise Unauthenticated(
                f"token expired {int(now - claims.expires_at)} s ago; log in again"
            )
        if claims.issued_at > now + self.skew_s:
            raise Unauthenticated("token issued in the future (check clocks)")
        if claims.not_before is not None and claims.not_before > now + self.skew_s:
            raise Unauthenticated("token is not valid yet ('nbf' in the future)")
        if not 0 < claims.expires_at - claims.issued_at <= MAX_TTL_S:
            raise Unauthenticated(f"token lifetime must be 1..{MAX_TTL_S} s")

    def _check_home(self, claims: TokenClaims, now: float) -> None:
        """The hub attests the subject's only home; only that home region may issue for it."""
        if not claims.home_attestation:
            raise Unauthenticated(
                "token carries no home attestation from the hub; log in again at the home region"
            )
        trust = self._trust_list()
        home = verify_home_attestation(claims.home_attestation, trust, now)
        if home.subject != claims.subject:
            raise Unauthenticated("the token's home attestation is about another subject")
        issuer_region = trust.member(claims.issuer).region_code
        if home.home_region != issuer_region:
            raise PermissionDenied(
                f"subject's home region is {home.home_region}; region {issuer_region} "
                "may not issue tokens for it"
            )
        if claims.home_region != home.home_region:
            raise Unauthenticated("the token's 'home' claim contradicts its home attestation")
        if claims.subject_kind != home.subject_kind:
            raise Unauthenticated("the token's 'sub_kind' contradicts its home attestation")


def unverified_home_attestation(token: str) -> str:
    """The `home_att` of a token, unverified: for tools that mint test tokens for a subject
    (the attestation still verifies only for its subject and home at every verifier)."""
    value = parse_compact(token).payload().get("home_att", "")
    return value if isinstance(value, str) else ""
