"""Holder keys of either type (EdDSA, ES256), KB-JWTs without `kid` (RFC 9901 s. 4.3), and
signatures judged by the algorithm the key declares (no algorithm confusion)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.crypto.jose import SigningKey, b64url_encode, canonical_json, parse_compact
from federation.errors import FederationError, Unauthenticated
from federation.licences import (
    certify_seal_key,
    create_presentation,
    decode_qr,
    encode_qr,
    seal_licence,
    verify_presentation,
    verify_sealed,
)
from federation.licences.sdjwt import split_sd_jwt
from federation.licences.seal import ElectronicSeal
from federation.regions import Region
from tests._support.licences import NOW, YEAR_S, NonceLedger, World

AUD = Region.ZJ.entity_id
ALGS = ["EdDSA", "ES256"]
HOLDERS = {alg: SigningKey.generate(alg) for alg in ALGS}


def raw_jws(header: dict[str, Any], payload: dict[str, Any], key: SigningKey) -> str:
    """A JWS with exactly this header, whatever it claims, signed by `key`."""
    head = f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(payload))}"
    return f"{head}.{b64url_encode(key.sign(head.encode('ascii')))}"


def bound_licence(world: World, holder: SigningKey) -> str:
    licence = world.driving_licence()
    return seal_licence(licence, world.seal_for(licence.authority), NOW, holder.jwk).serialize()


def kb_claims(world: World, holder: SigningKey) -> tuple[str, dict[str, Any]]:
    """A presentation's presented part and its KB-JWT claims."""
    made = create_presentation(bound_licence(world, holder), holder, ["holder_name"], AUD, NOW)
    parts = split_sd_jwt(made)
    assert parts.kb_jwt is not None
    return parts.presented, parse_compact(parts.kb_jwt, frozenset(ALGS)).payload()


def verify(world: World, text: str) -> Any:
    return verify_presentation(text, world.resolver, AUD, NonceLedger(), NOW)


@pytest.mark.parametrize("alg", ALGS)
def test_holder_of_either_key_type_presents(world: World, alg: str) -> None:
    holder = HOLDERS[alg]
    presentation = create_presentation(
        bound_licence(world, holder), holder, ["holder_name"], AUD, NOW
    )
    kb = parse_compact(split_sd_jwt(presentation).kb_jwt or "", frozenset(ALGS))
    assert kb.alg == alg
    result = verify(world, presentation)
    assert result.holder_jwk.jkt == holder.jwk.jkt and result.holder_jwk.alg == alg
    assert dict(result.disclosed) == {"holder_name": "张三"}
    qr = encode_qr(presentation)
    assert decode_qr(qr) == presentation
    assert verify(world, qr).holder_jwk.jkt == holder.jwk.jkt


@pytest.mark.parametrize("alg", ALGS)
def test_kb_jwt_without_kid_is_accepted(world: World, alg: str) -> None:
    holder = HOLDERS[alg]
    presented, claims = kb_claims(world, holder)
    bare = raw_jws({"alg": alg, "typ": "kb+jwt"}, claims, holder)
    assert "kid" not in parse_compact(bare, frozenset(ALGS), require_kid=False).header
    assert verify(world, presented + bare).nonce == claims["nonce"]
    # a kid, when present, names nothing: the key is the licence's cnf
    other = raw_jws({"alg": alg, "typ": "kb+jwt", "kid": "wallet-key-1"}, claims, holder)
    assert verify(world, presented + other).nonce == claims["nonce"]


@pytest.mark.parametrize("alg", ALGS)
def test_kb_jwt_by_another_key_is_refused_with_or_without_kid(world: World, alg: str) -> None:
    presented, claims = kb_claims(world, HOLDERS[alg])
    thief = SigningKey.generate(alg)
    for header in ({"alg": alg, "typ": "kb+jwt"}, {"alg": alg, "typ": "kb+jwt", "kid": thief.kid}):
        with pytest.raises(Unauthenticated, match="does not verify"):
            verify(world, presented + raw_jws(header, claims, thief))


@pytest.mark.parametrize(("holder_alg", "other_alg"), [("EdDSA", "ES256"), ("ES256", "EdDSA")])
def test_kb_jwt_alg_must_match_the_cnf_key(world: World, holder_alg: str, other_alg: str) -> None:
    presented, claims = kb_claims(world, HOLDERS[holder_alg])
    forged = raw_jws({"alg": other_alg, "typ": "kb+jwt"}, claims, SigningKey.generate(other_alg))
    with pytest.raises(Unauthenticated, match="algorithm confusion"):
        verify(world, presented + forged)


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES384", "EdDSA ", "", None, 1])
def test_kb_jwt_with_other_algorithms_is_refused(world: World, alg: object) -> None:
    presented, claims = kb_claims(world, HOLDERS["ES256"])
    head = b64url_encode(canonical_json({"alg": alg, "typ": "kb+jwt"}))
    for signature in ("", b64url_encode(b"\x00" * 32), b64url_encode(b"\x00" * 64)):
        text = f"{presented}{head}.{b64url_encode(canonical_json(claims))}.{signature}"
        with pytest.raises(Unauthenticated, match="refused"):
            verify(world, text)


def test_es256_seal_key_seals_and_verifies(world: World) -> None:
    seal_key = SigningKey.generate("ES256")
    cert = certify_seal_key(
        world.region_keys[Region.JS], Region.JS, world.police, seal_key.jwk, YEAR_S, NOW - 10
    )
    seal = ElectronicSeal(world.police, seal_key, cert)
    sealed = seal_licence(world.driving_licence(), seal, NOW, HOLDERS["ES256"].jwk).serialize()
    assert parse_compact(sealed.split("~")[0], frozenset(ALGS)).alg == "ES256"
    verified = verify_sealed(sealed, world.resolver, NOW)
    assert verified.metadata.certificate.seal_jwk.alg == "ES256"
    # the same seal under a header that claims EdDSA: the key says ES256
    issuer = parse_compact(sealed.split("~")[0], frozenset(ALGS))
    lying = raw_jws({**issuer.header, "alg": "EdDSA"}, issuer.payload(), seal_key)
    with pytest.raises(Unauthenticated, match="algorithm confusion"):
        verify_sealed(lying + sealed[sealed.index("~") :], world.resolver, NOW)


def test_seal_certificate_alg_must_match_the_region_key(world: World) -> None:
    seal_key = SigningKey.generate()
    cert = certify_seal_key(
        world.region_keys[Region.JS], Region.JS, world.police, seal_key.jwk, YEAR_S, NOW - 10
    )
    parsed = parse_compact(cert)
    region_key = world.region_keys[Region.JS]
    lying = raw_jws({**parsed.header, "alg": "ES256"}, parsed.payload(), region_key)
    seal = ElectronicSeal(world.police, seal_key, lying)
    sealed = seal_licence(world.driving_licence(), seal, NOW, None).serialize()
    with pytest.raises(Unauthenticated, match="algorithm confusion"):
        verify_sealed(sealed, world.resolver, NOW)


header_values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.sampled_from(["EdDSA", "ES256", "none", "HS256", "kb+jwt", "JWT"])
)


@settings(deadline=None, max_examples=150)
@given(
    header=st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit", "jwk"]), header_values),
    signer=st.sampled_from(["holder", "thief"]),
)
def test_any_kb_jwt_header_is_accepted_only_when_alg_typ_and_key_are_right(
    world: World, header: dict[str, Any], signer: str
) -> None:
    holder = HOLDERS["ES256"]
    presented, claims = PRESENTED_ES256.get(id(world)) or kb_claims(world, holder)
    PRESENTED_ES256[id(world)] = (presented, claims)
    key = holder if signer == "holder" else THIEF
    text = presented + raw_jws(header, claims, key)
    try:
        verify(world, text)
    except FederationError:
        return
    assert header.get("alg") == "ES256" and header.get("typ") == "kb+jwt" and signer == "holder"
    assert "crit" not in header
    assert "kid" not in header or isinstance(header["kid"], str)


PRESENTED_ES256: dict[int, tuple[str, dict[str, Any]]] = {}
THIEF = SigningKey.generate("ES256")
