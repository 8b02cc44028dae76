"""Seal certificates are verified once and cached, yet every use still consults the trust list."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.codes import is_valid_credit_code
from federation.crypto.jose import Jwk, SigningKey, b64url_decode, b64url_encode, canonical_json
from federation.crypto.pki import create_root_ca
from federation.crypto.x5c import (
    _leaf_kid,
    issue_seal_ca_certificate,
    issue_seal_certificate,
    x5c_leaf_kid,
    x5c_of,
)
from federation.errors import InvalidArgument, Unauthenticated
from federation.licences import Verdict, certify_seal_key, verify_licence, verify_sealed
from federation.licences.identifier import _check_authority_code
from federation.regions import Region
from tests._support.licences import NOW, YEAR_S, World, make_world


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


# --- what every seal of an authority shares is checked once per exact text ---------------------

JS_URL = "https://js.yrd.example:8443"


def _chained_world(key_of: SigningKey | None = None) -> World:
    """A world whose police seal carries an x5c chain, for its own seal key or `key_of`'s."""
    world = make_world()
    root_key, root = create_root_ca()
    certifier = SigningKey.generate()
    seal_ca = issue_seal_ca_certificate(root_key, root, "320000", certifier, NOW - YEAR_S)
    seal = world.seal_for(world.police)
    certified = (key_of or seal.key).jwk
    leaf = issue_seal_certificate(
        certifier, seal_ca, world.police.credit_code, certified, NOW - YEAR_S, 3650
    )
    chained = dataclasses.replace(seal, x5c=tuple(x5c_of([leaf, seal_ca])))
    return dataclasses.replace(world, seals={**world.seals, world.police.credit_code: chained})


def _header(sd_jwt: str) -> dict[str, object]:
    return json.loads(b64url_decode(sd_jwt.split(".", 1)[0]))  # type: ignore[no-any-return]


def test_a_kept_x5c_chain_vouches_only_for_the_key_it_certifies() -> None:
    world = _chained_world()
    sd_jwt = world.seal(world.driving_licence())
    assert verify_licence(sd_jwt, world.resolver, None, NOW).is_valid  # the chain is now kept
    # another authority key sealing under the same (kept) chain text: still refused
    other = SigningKey.generate()
    police = world.seal_for(world.police)
    cert = certify_seal_key(
        world.region_keys[Region.JS], Region.JS, world.police, other.jwk, YEAR_S, NOW - 60
    )
    impostor = dataclasses.replace(police, key=other, certificate=cert)
    forged_world = dataclasses.replace(
        world, seals={**world.seals, world.police.credit_code: impostor}
    )
    sealed = forged_world.seal(forged_world.driving_licence(serial="JS2025000002"))
    assert _header(sealed)["x5c"] == _header(sd_jwt)["x5c"]
    verdict = verify_licence(sealed, world.resolver, None, NOW)
    assert verdict.verdict is Verdict.FORGED
    assert "x5c certificate is not for seal key" in verdict.reasons[0]


def test_a_tampered_licence_is_refused_though_its_certificate_and_chain_are_kept() -> None:
    world = _chained_world()
    sd_jwt = world.seal(world.driving_licence())
    assert verify_licence(sd_jwt, world.resolver, None, NOW).is_valid
    head, payload, signature = sd_jwt.split("~", 1)[0].split(".")
    claims = json.loads(b64url_decode(payload))
    claims["valid_until"] = "2099-01-02"
    altered = ".".join((head, b64url_encode(canonical_json(claims)), signature))
    tampered = altered + sd_jwt[len(sd_jwt.split("~", 1)[0]) :]
    verdict = verify_licence(tampered, world.resolver, None, NOW)
    assert verdict.verdict is Verdict.FORGED
    assert "does not verify" in verdict.reasons[0]


def test_a_refused_x5c_chain_is_never_kept() -> None:
    chain = [base64.b64encode(b"not a certificate").decode()]
    kept = _leaf_kid.cache_info().currsize
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            x5c_leaf_kid(chain)
    assert _leaf_kid.cache_info().currsize == kept


def test_a_chain_whose_leaf_is_for_another_key_is_refused_each_time() -> None:
    world = _chained_world(key_of=SigningKey.generate())
    for serial in ("JS2025000003", "JS2025000004"):
        verdict = verify_licence(
            world.seal(world.driving_licence(serial=serial)), world.resolver, None, NOW
        )
        assert verdict.verdict is Verdict.FORGED


@settings(deadline=None, max_examples=60)
@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=18, max_size=18))
def test_kept_credit_code_checks_agree_with_the_check_itself(code: str) -> None:
    expected = is_valid_credit_code(code)
    for _ in range(2):  # the second answer comes from the cache when the first was a pass
        try:
            _check_authority_code(code)
            assert expected
        except InvalidArgument:
            assert not expected
