"""The hub-signed trust list: members, endpoints, TLS fingerprints and signing keys (JWKS)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from federation.crypto.jose import Jwk, SigningKey, parse_compact, sign_compact, verify_compact
from federation.errors import InvalidArgument, PermissionDenied, Unauthenticated

TRUST_LIST_TYP = "trustlist+jwt"


class UnknownKey(Unauthenticated):
    """A `kid` the trust list does not (yet) name; a fresher list may know it."""


ROLES = frozenset({"hub", "region", "operator"})


SIGNING = "sig"
"""Purpose of a member's `jwks` keys: federated tokens, status lists, hub statements."""
SEALING = "seal"
"""Purpose of a member's `seal_jwks` keys: they certify its issuing authorities' seal keys."""
LEGACY_SEAL_USE = "seal"
"""The non-standard JWK `use` older trust lists gave seal-certifying keys; read, never written."""


def _jwks_dicts(jwks: object, name: str) -> list[dict[str, Any]]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys", []), list):
        raise InvalidArgument(f"trust list member {name!r} must be an object with a 'keys' list")
    keys = jwks.get("keys", [])
    if not all(isinstance(k, dict) for k in keys):
        raise InvalidArgument("every JWKS key must be a JSON object")
    return list(keys)


def _member_keys(data: dict[str, Any]) -> tuple[tuple[Jwk, ...], tuple[Jwk, ...]]:
    """(signing keys, seal keys): each JWKS holds standard JWKs; its name says the purpose.

    A key in `jwks` with the legacy `"use": "seal"` (lists written before `seal_jwks`) is read
    as a seal key, so a cached or stored older list keeps verifying what it did.
    """
    signing: list[Jwk] = []
    sealing: list[Jwk] = []
    for key in _jwks_dicts(data.get("jwks", {}), "jwks"):
        if key.get("use") == LEGACY_SEAL_USE:
            sealing.append(Jwk.from_dict({**key, "use": "sig"}))
        else:
            signing.append(Jwk.from_dict(key))
    sealing.extend(Jwk.from_dict(k) for k in _jwks_dicts(data.get("seal_jwks", {}), "seal_jwks"))
    return tuple(signing), tuple(sealing)


def check_public_url(url: str) -> str:
    """A public base URL as the trust list lists it: `https://host[:port]`, nothing more."""
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
        or url != url.strip()
    ):
        raise InvalidArgument(f"public url must be https://host[:port] with no path, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise InvalidArgument(f"public url has a bad port: {url!r}") from None
    return url.rstrip("/")


@dataclass(frozen=True)
class Member:
    """One federation member as listed by the hub.

    Its keys are two JWK Sets of standard keys, kept apart by purpose: `signing_keys` (JSON
    `jwks`) verify tokens, status lists and hub statements; `seal_keys` (JSON `seal_jwks`)
    verify the seal certificates the region issues. A key is listed for one purpose only.
    """

    entity_id: str
    region_code: str
    name: str
    roles: tuple[str, ...]
    endpoint: str
    tls_fingerprints: tuple[str, ...]
    signing_keys: tuple[Jwk, ...] = ()
    seal_keys: tuple[Jwk, ...] = ()
    # the member's public read-only HTTPS base (`https://host:port`, no path): verifiers outside
    # the federation fetch its JWKS, issuer metadata and status lists there; "" if it has none
    public_url: str = ""

    def __post_init__(self) -> None:
        if self.public_url:
            check_public_url(self.public_url)
        kids = [k.kid for k in (*self.signing_keys, *self.seal_keys)]
        if len(kids) != len(set(kids)):
            raise InvalidArgument(
                f"member {self.entity_id} lists a key twice (a key has one purpose only)"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "region_code": self.region_code,
            "name": self.name,
            "roles": list(self.roles),
            "endpoint": self.endpoint,
            "tls_fingerprints": list(self.tls_fingerprints),
            "jwks": {"keys": [k.to_dict() for k in self.signing_keys]},
            "seal_jwks": {"keys": [k.to_dict() for k in self.seal_keys]},
            # written only when set, so lists of members without one keep their exact form
            **({"public_url": self.public_url} if self.public_url else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Member:
        try:
            roles = tuple(str(r) for r in data["roles"])
            unknown = set(roles) - ROLES
            if unknown:
                raise InvalidArgument(
                    f"member {data['entity_id']}: unknown roles {sorted(unknown)}"
                )
            signing, sealing = _member_keys(data)
            return cls(
                entity_id=str(data["entity_id"]),
                region_code=str(data["region_code"]),
                name=str(data.get("name", "")),
                roles=roles,
                endpoint=str(data.get("endpoint", "")),
                tls_fingerprints=tuple(str(f).lower() for f in data["tls_fingerprints"]),
                signing_keys=signing,
                seal_keys=sealing,
                public_url=str(data.get("public_url", "")),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidArgument(f"malformed trust list member: missing {exc}") from None

    def keys_for(self, use: str) -> tuple[Jwk, ...]:
        if use == SIGNING:
            return self.signing_keys
        if use == SEALING:
            return self.seal_keys
        raise InvalidArgument(f"unknown key purpose {use!r}; {SIGNING!r} or {SEALING!r}")

    def key(self, kid: str, now: float, use: str | None = None) -> Jwk:
        """The member's key `kid`, if listed (for purpose `use`, when given) and not expired.

        `use` is the federation purpose, `sig` or `seal`, as the member lists it (not a JWK
        member): a token key never verifies a seal certificate, nor a seal key a token.
        """
        if use is not None:
            self.keys_for(use)  # an unknown purpose is a caller's error, not a missing key
        for purpose in (SIGNING, SEALING):
            for jwk in self.keys_for(purpose):
                if jwk.kid != kid:
                    continue
                if use is not None and purpose != use:
                    raise Unauthenticated(
                        f"key {kid} of {self.entity_id} is listed for {purpose!r}, not {use!r}"
                    )
                if jwk.not_after is not None and now > jwk.not_after:
                    raise Unauthenticated(
                        f"key {kid} of {self.entity_id} expired from the trust list"
                    )
                return jwk
        raise UnknownKey(f"key {kid} is not listed for {self.entity_id} in the trust list")


@dataclass(frozen=True)
class TrustList:
    """A versioned list of members; immutable, signed by the hub's anchor key."""

    version: int
    issued_at: int
    expires_at: int
    root_ca_fingerprint: str
    members: tuple[Member, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "root_ca_fingerprint": self.root_ca_fingerprint,
            "members": [m.to_dict() for m in self.members],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrustList:
        try:
            return cls(
                version=int(data["version"]),
                issued_at=int(data["iat"]),
                expires_at=int(data["exp"]),
                root_ca_fingerprint=str(data["root_ca_fingerprint"]),
                members=tuple(Member.from_dict(m) for m in data["members"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgument(f"malformed trust list: {exc}") from None

    def member(self, entity_id: str) -> Member:
        for m in self.members:
            if m.entity_id == entity_id:
                return m
        raise Unauthenticated(f"{entity_id!r} is not a member of the federation trust list")

    def member_by_region(self, region_code: str, role: str = "region") -> Member:
        for m in self.members:
            if m.region_code == region_code and role in m.roles:
                return m
        raise InvalidArgument(f"no {role} member for region {region_code} in the trust list")

    def member_by_fingerprint(self, fingerprint: str) -> Member:
        fp = fingerprint.lower()
        for m in self.members:
            if fp in m.tls_fingerprints:
                return m
        raise PermissionDenied(
            "peer certificate is not listed in the federation trust list "
            f"(sha256 {fp[:16]}...); ask the hub operator to add it"
        )

    def with_member(self, member: Member) -> TrustList:
        members = (*tuple(m for m in self.members if m.entity_id != member.entity_id), member)
        return replace(self, members=members)

    def jwks(self) -> dict[str, Any]:
        """Every member's keys, signing and seal-certifying, as one standard JWK Set."""
        keys = [k.to_dict() for m in self.members for k in (*m.signing_keys, *m.seal_keys)]
        return {"keys": keys}


def sign_trust_list(trust_list: TrustList, anchor: SigningKey) -> str:
    return sign_compact(trust_list.to_dict(), anchor, typ=TRUST_LIST_TYP)


def verify_trust_list(token: str, anchor: Jwk, now: float) -> TrustList:
    """Verify the hub's signature and freshness; a stale or forged list is refused."""
    parsed = parse_compact(token)
    if parsed.header.get("typ") != TRUST_LIST_TYP:
        raise Unauthenticated(f"not a trust list (typ {parsed.header.get('typ')!r})")

    def resolve(kid: str) -> Jwk:
        if kid != anchor.kid:
            raise Unauthenticated(f"trust list signed by {kid}, not the federation anchor")
        return anchor

    trust_list = TrustList.from_dict(verify_compact(token, resolve).payload())
    if now > trust_list.expires_at:
        raise Unauthenticated(
            f"trust list version {trust_list.version} expired at {trust_list.expires_at}"
        )
    return trust_list


def newer(candidate: TrustList, current: TrustList | None) -> bool:
    """A fetched list replaces the cached one only if its version is higher (no rollback)."""
    return current is None or candidate.version > current.version


def rotate_member_key(member: Member, new_key: Jwk, retire_after: int, now: float) -> Member:
    """Add a signing key first; earlier ones stay listed until `retire_after`.

    Seal-certifying keys are listed apart and untouched: sealed licences stay verifiable.
    """
    kept: list[Jwk] = []
    for jwk in member.signing_keys:
        if jwk.not_after is not None and jwk.not_after < now:
            continue  # long expired: drop from the list
        kept.append(jwk if jwk.not_after is not None else replace(jwk, not_after=retire_after))
    return replace(member, signing_keys=(new_key, *kept))


def region_members(trust_list: TrustList) -> Sequence[Member]:
    return [m for m in trust_list.members if "region" in m.roles]


def fingerprints(members: Iterable[Member]) -> set[str]:
    return {fp for m in members for fp in m.tls_fingerprints}
