"""One person, one home: the hub's home registry and the home attestations it signs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from federation.clock import Clock
from federation.crypto.jose import Jwk, SigningKey, parse_compact, sign_compact, verify_parsed
from federation.errors import AlreadyExists, InvalidArgument, Unauthenticated
from federation.regions import Region, parse_region
from federation.storage.base import SubjectHome
from federation.trust.trustlist import TrustList

HOME_ATTESTATION_TYP = "home-attestation+jwt"
HOME_ATTESTATION_SKEW_S = 300


@dataclass(frozen=True)
class HomeAttestation:
    """The verified content of a home attestation: `subject`'s only home is `home_region`."""

    issuer: str
    subject: str
    subject_kind: str
    home_region: str
    issued_at: int


def sign_home_attestation(
    key: SigningKey, *, hub_entity_id: str, home: SubjectHome, now: float
) -> str:
    claims = {
        "iss": hub_entity_id,
        "sub": home.subject_id,
        "sub_kind": home.kind,
        "home": home.home_region,
        "iat": int(now),
    }
    return sign_compact(claims, key, typ=HOME_ATTESTATION_TYP)


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise Unauthenticated(f"home attestation claim {name!r} must be a non-empty string")
    return value


def verify_home_attestation(token: str, trust: TrustList, now: float) -> HomeAttestation:
    """Check an attestation with the hub's key from the trust list only (offline).

    The key is looked up (and its validity at `now` checked) on every call; the signature and
    claims of an attestation already verified with that very key are not checked again: every
    token of a subject carries the same attestation.
    """
    hub = trust.member_by_region(Region.HUB.code, role="hub")
    jwk = hub.key(_attestation_kid(token), now, use="sig")
    home = _verified_with(token, jwk, hub.entity_id)
    if home.issued_at > now + HOME_ATTESTATION_SKEW_S:
        raise Unauthenticated("home attestation issued in the future (check clocks)")
    return home


@functools.lru_cache(maxsize=16384)
def _attestation_kid(token: str) -> str:
    """The `kid` of a well-formed attestation, parsed once per attestation (every token of a
    subject carries the same one); refusals are not cached."""
    try:
        parsed = parse_compact(token)
    except InvalidArgument as exc:
        raise Unauthenticated(f"home attestation unreadable: {exc.message}") from None
    if parsed.header.get("typ") != HOME_ATTESTATION_TYP:
        raise Unauthenticated(
            f"not a home attestation (typ {parsed.header.get('typ')!r}); only the hub attests homes"
        )
    return str(parsed.header["kid"])


@functools.lru_cache(maxsize=16384)  # about 5 MB of attestations at most
def _verified_with(token: str, jwk: Jwk, hub_entity_id: str) -> HomeAttestation:
    """Signature and claims of one attestation under one hub key; refusals are not cached."""
    parsed = parse_compact(token)
    try:
        payload = parsed.payload()
    except InvalidArgument as exc:
        raise Unauthenticated(f"home attestation unreadable: {exc.message}") from None
    verify_parsed(parsed, jwk, "home attestation of the hub")
    if _text(payload, "iss") != hub_entity_id:
        raise Unauthenticated(f"home attestation issuer must be the hub {hub_entity_id}")
    issued_at = payload.get("iat")
    if type(issued_at) is not int:
        raise Unauthenticated("home attestation 'iat' must be an integer")
    home = _text(payload, "home")
    try:
        if not parse_region(home).is_province:
            raise InvalidArgument("the hub is nobody's home")
    except InvalidArgument:
        raise Unauthenticated(f"home attestation names no province as home: {home!r}") from None
    return HomeAttestation(
        issuer=hub_entity_id,
        subject=_text(payload, "sub"),
        subject_kind=_text(payload, "sub_kind"),
        home_region=home,
        issued_at=issued_at,
    )


ClaimStore = Callable[[SubjectHome], SubjectHome]
"""Insert the home unless the subject has one; answer the stored home (atomic)."""


class HomeRegistry:
    """At the hub: the first region to register a subject is its only home, federation-wide."""

    def __init__(
        self,
        *,
        claim: ClaimStore,
        signing_key: Callable[[], SigningKey],
        hub_entity_id: str,
        clock: Clock,
    ) -> None:
        self._claim = claim
        self._key = signing_key
        self._hub = hub_entity_id
        self._clock = clock

    def claim(self, caller_region: str, subject_id: str, kind: str) -> str:
        """The hub-signed attestation of the caller's home for the subject; idempotent."""
        # imported here: identity imports tokens, which imports this module
        from federation.identity.provider import validate_subject_id

        region = parse_region(caller_region)
        if not region.is_province:
            raise InvalidArgument("only a province can be a subject's home")
        subject_id = validate_subject_id(kind, subject_id)
        now = self._clock.now()
        stored = self._claim(SubjectHome(subject_id, kind, region.code, now))
        if stored.home_region != region.code:
            raise AlreadyExists(
                f"subject is already registered at its home region {stored.home_region}; "
                f"region {region.code} may not register it too (one person, one home)"
            )
        if stored.kind != kind:
            raise AlreadyExists(f"subject is registered as a {stored.kind} person, not {kind}")
        return sign_home_attestation(self._key(), hub_entity_id=self._hub, home=stored, now=now)
