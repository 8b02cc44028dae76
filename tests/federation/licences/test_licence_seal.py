"""Tests for seal certificates, sealing as SD-JWT, and verifying a sealed licence."""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.crypto.jose import (
    SigningKey,
    b64url_decode,
    b64url_encode,
    parse_compact,
    sign_compact,
)
from federation.errors import InvalidArgument, Unauthenticated
from federation.licences import (
    Disclosure,
    ElectronicSeal,
    certify_seal_key,
    read_seal_certificate,
    seal_licence,
    verify_sealed,
)
from federation.licences.sdjwt import join_sd_jwt, sd_digest, split_sd_jwt
from federation.licences.sealcert import SEAL_CERT_TYP
from federation.regions import Region
from tests._support.licences import NOW, YEAR_S, World

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _header_payload(jws: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parsed = parse_compact(jws)
    return parsed.header, parsed.payload()


# --- seal certificates ---------------------------------------------------------------------------


def test_seal_certificate_binds_authority_to_key(world: World) -> None:
    seal = world.seal_for(world.police)
    cert = read_seal_certificate(seal.certificate, world.resolver)
    assert cert.region is Region.JS
    assert cert.authority_code == world.police.credit_code
    assert cert.authority_name == world.police.name
    assert cert.seal_jwk.kid == seal.key.kid
    assert cert.expires_at - cert.issued_at == 5 * YEAR_S
    header, payload = _header_payload(seal.certificate)
    assert header["typ"] == SEAL_CERT_TYP
    assert payload["iss"] == Region.JS.entity_id
    assert payload["sub"] == world.police.credit_code


def test_region_certifies_only_its_own_authorities(world: World) -> None:
    with pytest.raises(InvalidArgument, match="cannot certify"):
        certify_seal_key(world.region_keys[Region.SH], Region.SH, world.police,
                         SigningKey.generate().jwk, YEAR_S, NOW)
    with pytest.raises(InvalidArgument, match="ttl"):
        certify_seal_key(world.region_keys[Region.JS], Region.JS, world.police,
                         SigningKey.generate().jwk, 0, NOW)


def test_certificate_signed_by_unlisted_key_is_refused(world: World) -> None:
    rogue = certify_seal_key(SigningKey.generate(), Region.JS, world.police,
                             SigningKey.generate().jwk, YEAR_S, NOW)
    with pytest.raises(Unauthenticated, match="not in the trust list"):
        read_seal_certificate(rogue, world.resolver)


def test_resolver_errors_other_than_unauthenticated_become_unauthenticated(world: World) -> None:
    def lookup(region_code: str, kid: str) -> object:
        raise InvalidArgument(f"no region member for region {region_code} in the trust list")

    with pytest.raises(Unauthenticated, match="not in the trust list"):
        read_seal_certificate(world.seal_for(world.police).certificate, lookup)  # type: ignore[arg-type]


def test_electronic_seal_refuses_a_certificate_for_another_key(world: World) -> None:
    seal = world.seal_for(world.police)
    with pytest.raises(InvalidArgument, match="does not certify this seal key"):
        ElectronicSeal(world.police, SigningKey.generate(), seal.certificate)
    with pytest.raises(InvalidArgument, match="certificate is for"):
        ElectronicSeal(world.market, seal.key, seal.certificate)


# --- sealing -------------------------------------------------------------------------------------


def test_sealed_licence_shape(world: World, sealed_driving: str) -> None:
    parts = split_sd_jwt(sealed_driving)
    assert sealed_driving.endswith("~") and parts.kb_jwt is None
    header, payload = _header_payload(parts.issuer_jwt)
    assert header["typ"] == "dc+sd-jwt"
    assert isinstance(header["sealcert"], str)
    assert payload["_sd_alg"] == "sha-256"
    licence = world.driving_licence()
    assert payload["id"] == licence.identifier.format()
    assert payload["vct"] == licence.type_code
    assert payload["iss"] == world.police.credit_code
    assert payload["status"] == {"status_list": {"idx": 1234, "uri": licence.status.uri}}  # type: ignore[union-attr]
    assert payload["cnf"] == {"jwk": {"crv": "Ed25519", "kty": "OKP", "x": world.holder_key.jwk.x}}
    assert "holder_name" not in payload and "张三" not in json.dumps(payload, ensure_ascii=False)
    disclosures = [Disclosure.parse(d) for d in parts.disclosures]
    assert {d.name for d in disclosures} == set(licence.personal_claims())
    assert sorted(payload["_sd"]) == sorted(d.digest for d in disclosures)
    for d in disclosures:
        expected = b64url_encode(hashlib.sha256(d.encoded.encode("ascii")).digest())
        assert d.digest == expected
        assert json.loads(b64url_decode(d.encoded)) == [d.salt, d.name, d.value]


def test_seal_and_verify_round_trip(world: World, sealed_driving: str) -> None:
    verified = verify_sealed(sealed_driving, world.resolver, NOW)
    assert verified.licence == world.driving_licence()
    assert verified.holder_jwk == world.holder_key.jwk
    assert verified.metadata.certificate.authority_code == world.police.credit_code
    assert verified.metadata.sealed_at == int(NOW)


def test_business_licence_round_trip_without_holder_binding(world: World) -> None:
    sealed = world.seal(world.business_licence(), bind=False)
    verified = verify_sealed(sealed, world.resolver, NOW)
    assert verified.licence == world.business_licence()
    assert verified.holder_jwk is None


def test_disclosure_order_does_not_matter(world: World, sealed_driving: str) -> None:
    parts = split_sd_jwt(sealed_driving)
    shuffled = join_sd_jwt(parts.issuer_jwt, reversed(parts.disclosures))
    assert verify_sealed(shuffled, world.resolver, NOW).licence == world.driving_licence()


def test_sealing_with_another_authority_seal_is_refused(world: World) -> None:
    with pytest.raises(InvalidArgument, match="this seal belongs to"):
        seal_licence(world.driving_licence(), world.seal_for(world.market), NOW)


@given(st.text(max_size=30).filter(lambda s: s not in ("_sd", "...", "_sd_alg", "")),
       st.one_of(st.text(max_size=40), st.integers(), st.booleans()))
def test_disclosure_round_trip_and_digest(name: str, value: str | int | bool) -> None:
    disclosure = Disclosure.create(name, value)
    parsed = Disclosure.parse(disclosure.encoded)
    assert (parsed.name, parsed.value, parsed.salt) == (name, value, disclosure.salt)
    assert parsed.digest == sd_digest(disclosure.encoded)
    assert Disclosure.create(name, value).digest != disclosure.digest  # fresh salt


@given(st.text(max_size=60))
def test_disclosure_parser_raises_only_invalid_argument(text: str) -> None:
    with contextlib.suppress(InvalidArgument):
        Disclosure.parse(text)


# --- refusals ------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_single_character_substitution_is_detected(
    world: World, sealed_driving: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(sealed_driving) - 2))
    original = sealed_driving[position]
    replacement = data.draw(st.sampled_from(B64URL + "~.").filter(lambda c: c != original))
    tampered = sealed_driving[:position] + replacement + sealed_driving[position + 1 :]
    with pytest.raises((InvalidArgument, Unauthenticated)):
        verify_sealed(tampered, world.resolver, NOW)


def test_disclosure_from_another_licence_is_refused(
    world: World, sealed_driving: str
) -> None:
    other = split_sd_jwt(world.seal(world.driving_licence()))
    parts = split_sd_jwt(sealed_driving)
    swapped = join_sd_jwt(parts.issuer_jwt, (*parts.disclosures[:-1], other.disclosures[-1]))
    with pytest.raises(Unauthenticated, match="not sealed in the licence"):
        verify_sealed(swapped, world.resolver, NOW)


def test_missing_or_duplicate_disclosures_are_refused(world: World, sealed_driving: str) -> None:
    parts = split_sd_jwt(sealed_driving)
    with pytest.raises(InvalidArgument, match="not disclosed"):
        verify_sealed(join_sd_jwt(parts.issuer_jwt, parts.disclosures[1:]), world.resolver, NOW)
    doubled = (*parts.disclosures, parts.disclosures[0])
    with pytest.raises(InvalidArgument, match="disclosed twice"):
        verify_sealed(join_sd_jwt(parts.issuer_jwt, doubled), world.resolver, NOW)
    with pytest.raises(InvalidArgument, match="KB-JWT"):
        verify_sealed(sealed_driving + "x.y.z", world.resolver, NOW)


def _reseal(world: World, sealed: str, key: SigningKey, kid: str | None = None,
            header_cert: str | None = None, **payload_changes: object) -> str:
    parts = split_sd_jwt(sealed)
    header, payload = _header_payload(parts.issuer_jwt)
    payload.update(payload_changes)
    extra = {"sealcert": header_cert or header["sealcert"]}
    if kid:
        extra["kid"] = kid
    jwt = sign_compact(payload, key, typ="dc+sd-jwt", extra_header=extra)
    return join_sd_jwt(jwt, parts.disclosures)


def test_seal_by_an_uncertified_key_is_refused(world: World, sealed_driving: str) -> None:
    intruder = SigningKey.generate()
    with pytest.raises(Unauthenticated, match="certificate is for seal key"):
        verify_sealed(_reseal(world, sealed_driving, intruder), world.resolver, NOW)
    spoofed = _reseal(world, sealed_driving, intruder, kid=world.seal_for(world.police).key.kid)
    with pytest.raises(Unauthenticated, match="licence seal signature does not verify"):
        verify_sealed(spoofed, world.resolver, NOW)


def test_seal_of_another_authority_is_refused(world: World, sealed_driving: str) -> None:
    market = world.seal_for(world.market)
    forged = _reseal(world, sealed_driving, market.key, header_cert=market.certificate)
    with pytest.raises(Unauthenticated, match="names issuer"):
        verify_sealed(forged, world.resolver, NOW)


def test_certificate_from_a_foreign_region_is_refused(world: World, sealed_driving: str) -> None:
    # Shanghai signs a statement about a Jiangsu authority: valid signature, wrong region.
    key = SigningKey.generate()
    payload = {"iss": Region.SH.entity_id, "region": Region.SH.code,
               "sub": world.police.credit_code, "name": world.police.name,
               "cnf": {"jwk": {"crv": "Ed25519", "kty": "OKP", "x": key.jwk.x}},
               "iat": int(NOW) - 10, "exp": int(NOW) + YEAR_S}
    cert = sign_compact(payload, world.region_keys[Region.SH], typ=SEAL_CERT_TYP)
    forged = _reseal(world, sealed_driving, key, header_cert=cert)
    with pytest.raises(Unauthenticated, match="not the certifying region"):
        verify_sealed(forged, world.resolver, NOW)


def test_revoked_region_key_breaks_the_chain(world: World, sealed_driving: str) -> None:
    world.revoked_kids.add(world.region_keys[Region.JS].kid)
    try:
        with pytest.raises(Unauthenticated, match="not in the trust list"):
            verify_sealed(sealed_driving, world.resolver, NOW)
    finally:
        world.revoked_kids.clear()


def test_certificate_validity_is_judged_at_seal_time(world: World) -> None:
    key = SigningKey.generate()
    cert = certify_seal_key(world.region_keys[Region.JS], Region.JS, world.police, key.jwk,
                            3600, NOW)
    seal = ElectronicSeal(world.police, key, cert)
    sealed = seal_licence(world.driving_licence(), seal, NOW + 60).serialize()
    # A year later the certificate has lapsed, but the seal was applied while it was valid.
    assert verify_sealed(sealed, world.resolver, NOW + YEAR_S).licence.holder_name == "张三"
    late = seal_licence(world.driving_licence(), seal, NOW + 7200).serialize()
    with pytest.raises(Unauthenticated, match="outside its seal certificate's validity"):
        verify_sealed(late, world.resolver, NOW + 7200)
    early = seal_licence(world.driving_licence(), seal, NOW - 600).serialize()
    with pytest.raises(Unauthenticated, match="outside its seal certificate's validity"):
        verify_sealed(early, world.resolver, NOW)


def test_licence_sealed_in_the_future_is_refused(world: World) -> None:
    sealed = world.seal(world.driving_licence(), now=NOW + 3600)
    with pytest.raises(Unauthenticated, match="sealed in the future"):
        verify_sealed(sealed, world.resolver, NOW)


def test_disclosure_may_not_override_sealed_metadata(world: World, sealed_driving: str) -> None:
    sneaky = Disclosure.create("valid_until", "2099-12-31")
    parts = split_sd_jwt(sealed_driving)
    _, payload = _header_payload(parts.issuer_jwt)
    digests = [*payload["_sd"], sneaky.digest]
    forged = _reseal(world, join_sd_jwt(parts.issuer_jwt, (*parts.disclosures, sneaky.encoded)),
                     world.seal_for(world.police).key, _sd=digests)
    with pytest.raises(InvalidArgument, match="may not replace sealed claims"):
        verify_sealed(forged, world.resolver, NOW)


def test_wrong_typ_and_missing_certificate_are_refused(world: World, sealed_driving: str) -> None:
    parts = split_sd_jwt(sealed_driving)
    _, payload = _header_payload(parts.issuer_jwt)
    key = world.seal_for(world.police).key
    plain = sign_compact(payload, key, typ="JWT")
    with pytest.raises(Unauthenticated, match="not a sealed licence"):
        verify_sealed(join_sd_jwt(plain, parts.disclosures), world.resolver, NOW)
    bare = sign_compact(payload, key, typ="dc+sd-jwt")
    with pytest.raises(Unauthenticated, match="no seal certificate"):
        verify_sealed(join_sd_jwt(bare, parts.disclosures), world.resolver, NOW)


@pytest.mark.parametrize("text", ["", "~", "abc", "a.b.c~~", "a.b.c"])
def test_malformed_serializations_are_refused(world: World, text: str) -> None:
    with pytest.raises(InvalidArgument):
        verify_sealed(text, world.resolver, NOW)
