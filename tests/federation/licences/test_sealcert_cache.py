"""Seal certificates are verified once and cached, yet every use still consults the trust list."""

from __future__ import annotations

import pytest

from federation.crypto.jose import Jwk
from federation.errors import Unauthenticated
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
