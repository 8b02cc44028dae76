"""Seal certificates are verified once and cached, yet every use still consults the trust list."""

from __future__ import annotations

import pytest

from federation.crypto.jose import Jwk
from federation.errors import InvalidArgument, Unauthenticated
from federation.licences import verify_sealed
from tests._support.licences import NOW, make_world


def test_a_cached_certificate_is_refused_once_its_region_key_leaves_the_trust_list() -> None:
    world = make_world()
    sd_jwt = world.seal(world.driving_licence())
    assert verify_sealed(sd_jwt, world.resolver, NOW).licence.holder_code  # verified, cached
    calls: list[tuple[str, str]] = []

    def counting(region_code: str, kid: str) -> Jwk:
        calls.append((region_code, kid))
        return world.resolver(region_code, kid)

    verify_sealed(sd_jwt, counting, NOW)
    assert calls, "a cached certificate must still look its region key up in the trust list"

    def removed(region_code: str, kid: str) -> Jwk:
        raise Unauthenticated(f"key {kid} is not listed for region {region_code}")

    with pytest.raises(Unauthenticated, match="not listed"):
        verify_sealed(sd_jwt, removed, NOW)


def test_a_licence_is_verified_once_but_its_seal_time_is_judged_at_every_use() -> None:
    world = make_world()
    sd_jwt = world.seal(world.driving_licence())
    first = verify_sealed(sd_jwt, world.resolver, NOW)
    assert verify_sealed(sd_jwt, world.resolver, NOW + 60) is first  # kept, not rebuilt
    sealed_at = first.metadata.sealed_at
    with pytest.raises(Unauthenticated, match="future"):  # asked as of before it was sealed
        verify_sealed(sd_jwt, world.resolver, sealed_at - 3600)
    altered = sd_jwt.replace("~", "~x", 1)  # another text: verified afresh, and refused
    with pytest.raises((InvalidArgument, Unauthenticated)):
        verify_sealed(altered, world.resolver, NOW)
