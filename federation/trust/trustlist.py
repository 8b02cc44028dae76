"""The hub-signed trust list: members, endpoints, TLS fingerprints and signing keys (JWKS)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from federation.crypto.jose import Jwk, SigningKey, parse_compact, sign_compact, verify_compact
from federation.errors import InvalidArgument, PermissionDenied, Unauthenticated

TRUST_LIST_TYP = "trustlist+jwt"


class UnknownKey(Unauthenticated):
    """A `kid` the trust list does not (yet) name; a fresher list may know it."""


ROLES = frozenset({"hub", "region", "operator"})


def _member_keys(jwks: object) -> tuple[Jwk, ...]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys", []), list):
        raise InvalidArgument("trust list member 'jwks' must be an object with a 'keys' list")
    keys = jwks.get("keys", [])
    if not all(isinstance(k, dict) for k in keys):
        raise InvalidArgument("every JWKS key must be a JSON object")
    return tuple(Jwk.from_dict(k) for k in keys)


@dataclass(frozen=True)
class Member:
    """One federation member as listed by the hub."""

    entity_id: str
    region_code: str
    name: str
    roles: tuple[str, ...]
    endpoint: str
    tls_fingerprints: tuple[str, ...]
    signing_keys: tuple[Jwk, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "region_code": self.region_code,
            "name": self.name,
            "roles": list(self.roles),
            "endpoint": self.endpoint,
            "tls_fingerprints": list(self.tls_fingerprints),
            "jwks": {"keys": [k.to_dict() for k in self.signing_keys]},
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
            return cls(
                entity_id=str(data["entity_id"]),
                region_code=str(data["region_code"]),
                name=str(data.get("name", "")),
                roles=roles,
                endpoint=str(data.get("endpoint", "")),
                tls_fingerprints=tuple(str(f).lower() for f in data["tls_fingerprints"]),
                signing_keys=_member_keys(data.get("jwks", {})),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidArgument(f"malformed trust list member: missing {exc}") from None

    def key(self, kid: str, now: float, use: str | None = None) -> Jwk:
        """The member's key `kid`, if listed (for `use`, when given) and not expired."""
        for jwk in self.signing_keys:
            if jwk.kid == kid:
                if use is not None and jwk.use != use:
                    raise Unauthenticated(
                        f"key {kid} of {self.entity_id} is listed for {jwk.use!r}, not {use!r}"
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
        return {"keys": [k.to_dict() for m in self.members for k in m.signing_keys]}


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
    """Add `new_key` first; earlier keys of its use stay listed until `retire_after`."""
    kept: list[Jwk] = []
    for jwk in member.signing_keys:
        if jwk.use != new_key.use:
            kept.append(jwk)  # keys of another use (e.g. seal certification) are untouched
            continue
        if jwk.not_after is not None and jwk.not_after < now:
            continue  # long expired: drop from the list
        kept.append(jwk if jwk.not_after is not None else replace(jwk, not_after=retire_after))
    return replace(member, signing_keys=(new_key, *kept))


def region_members(trust_list: TrustList) -> Sequence[Member]:
    return [m for m in trust_list.members if "region" in m.roles]


def fingerprints(members: Iterable[Member]) -> set[str]:
    return {fp for m in members for fp in m.tls_fingerprints}
