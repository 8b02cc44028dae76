"""Key resolvers over the trust list: seal, status-list and hub keys, each looked up one way."""

from __future__ import annotations

from collections.abc import Callable

from federation.crypto.jose import Jwk
from federation.regions import Region
from federation.trust.trustlist import TrustList

TrustListGetter = Callable[[], TrustList]
Now = Callable[[], float]
RegionKeys = Callable[[str, str], Jwk]
"""(region code, kid) -> that region's key, listed and not expired at the clock's now."""
HubKeys = Callable[[str], Jwk]
"""kid -> the hub's signing key."""
PublicUrls = Callable[[str], str]
"""region code -> the region's listed public HTTPS base URL ("" when it lists none)."""


def seal_keys(trust_list: TrustListGetter, now: Now) -> RegionKeys:
    """A region's seal-certifying keys (its `seal_jwks`): they certify its authorities' seals."""

    def resolve(region_code: str, kid: str) -> Jwk:
        return trust_list().member_by_region(region_code).key(kid, now(), use="seal")

    return resolve


def status_keys(trust_list: TrustListGetter, now: Now) -> RegionKeys:
    """A region's signing keys (its `jwks`): they sign its tokens and status lists."""

    def resolve(region_code: str, kid: str) -> Jwk:
        return trust_list().member_by_region(region_code).key(kid, now(), use="sig")

    return resolve


def hub_keys(trust_list: TrustListGetter, now: Now) -> HubKeys:
    """The hub's signing keys: catalogue, face assertions."""

    def resolve(kid: str) -> Jwk:
        hub = trust_list().member_by_region(Region.HUB.code, role="hub")
        return hub.key(kid, now(), use="sig")

    return resolve


def public_urls(trust_list: TrustListGetter) -> PublicUrls:
    """Where each region publishes (`public_url`): what maps an https uri to its issuer."""

    def resolve(region_code: str) -> str:
        return trust_list().member_by_region(region_code).public_url

    return resolve


__all__ = [
    "HubKeys",
    "PublicUrls",
    "RegionKeys",
    "TrustListGetter",
    "hub_keys",
    "public_urls",
    "seal_keys",
    "status_keys",
]
