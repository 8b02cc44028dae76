"""The one seal, status-list and hub key resolver: the current trust list, at the clock's now."""

from __future__ import annotations

from dataclasses import replace

import pytest

from federation.crypto.jose import Jwk, SigningKey
from federation.errors import InvalidArgument, Unauthenticated
from federation.regions import Region
from federation.trust.keys import hub_keys, seal_keys, status_keys
from federation.trust.trustlist import Member, TrustList, UnknownKey

NOW = 1_750_000_000
SIG = {region: SigningKey.generate().jwk for region in Region}
SEAL = {
    region: replace(SigningKey.generate().jwk, not_after=NOW + 100) for region in Region
}
SEAL_KIDS = {jwk.kid for jwk in SEAL.values()}


def member(region: Region, *keys: Jwk) -> Member:
    return Member(
        region.entity_id,
        region.code,
        region.label,
        ("hub",) if region is Region.HUB else ("region",),
        "127.0.0.1:1",
        ("ab" * 32,),
        tuple(k for k in keys if k.kid not in SEAL_KIDS),
        tuple(k for k in keys if k.kid in SEAL_KIDS),
    )


def listing(*members: Member) -> TrustList:
    return TrustList(1, NOW, NOW + 3600, "cd" * 32, members)


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def test_each_resolver_finds_its_kind_of_key_in_the_current_list() -> None:
    current = [listing(*(member(r, SIG[r], SEAL[r]) for r in Region))]
    clock = Clock()
    seal, status, hub = (
        make(lambda: current[0], clock) for make in (seal_keys, status_keys, hub_keys)
    )
    assert seal("320000", SEAL[Region.JS].kid) == SEAL[Region.JS]
    assert status("320000", SIG[Region.JS].kid) == SIG[Region.JS]
    assert hub(SIG[Region.HUB].kid) == SIG[Region.HUB]
    with pytest.raises(Unauthenticated, match="listed for 'sig', not 'seal'"):
        seal("320000", SIG[Region.JS].kid)
    with pytest.raises(Unauthenticated, match="not 'sig'"):
        status("320000", SEAL[Region.JS].kid)
    with pytest.raises(UnknownKey):
        hub(SIG[Region.JS].kid)
    with pytest.raises(InvalidArgument, match="no region member for region 999999"):
        seal("999999", SEAL[Region.JS].kid)
    clock.now = NOW + 101  # the clock is read per call: an expired key stops resolving
    with pytest.raises(Unauthenticated, match="expired"):
        seal("320000", SEAL[Region.JS].kid)
    current[0] = listing(member(Region.HUB, SIG[Region.HUB]))  # and so is the trust list
    with pytest.raises(InvalidArgument, match="no region member"):
        status("320000", SIG[Region.JS].kid)
