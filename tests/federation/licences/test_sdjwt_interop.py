"""The OpenWallet `sd-jwt` reference implementation and this federation understand each other:
it verifies a sealed licence and a presentation made here (the seal key found through the
region's published seal JWKS), and a presentation its reference holder makes (ES256 or EdDSA
holder key, no `kid` in the KB-JWT) verifies here."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from federation.crypto.jose import Jwk, SigningKey, parse_compact
from federation.errors import Unauthenticated
from federation.licences import create_presentation, seal_licence, verify_presentation
from federation.licences.sdjwt import split_sd_jwt
from federation.regions import Region
from federation.trust.trustlist import Member, TrustList
from tests._support.licences import NOW, NonceLedger, World

sd_jwt_holder = pytest.importorskip("sd_jwt.holder")
sd_jwt_verifier = pytest.importorskip("sd_jwt.verifier")

AUD = Region.ZJ.entity_id
ALGS = ["ES256", "EdDSA"]
JWCRYPTO_KEYS = {
    "ES256": {"kty": "EC", "crv": "P-256"},
    "EdDSA": {"kty": "OKP", "crv": "Ed25519"},
}


def published_seal_jwks(world: World) -> dict[str, Any]:
    """The Jiangsu member's `seal_jwks` as a trust list publishes it (JSON, standard JWKs)."""
    js = Member(
        Region.JS.entity_id, Region.JS.code, Region.JS.label, ("region",), "", (),
        (SigningKey.generate().jwk,), (world.region_keys[Region.JS].jwk,),
    )  # fmt: skip
    trust = TrustList(1, int(NOW), int(NOW) + 3600, "ab" * 32, (js,))
    jwks: dict[str, Any] = json.loads(json.dumps(trust.to_dict()))["members"][0]["seal_jwks"]
    return jwks


def issuer_key_callback(world: World) -> Any:
    """What a third party does with jwcrypto alone: check the seal certificate in the header
    with the region's published seal key, then trust the seal key that certificate names."""
    region_keys = jwcrypto_jwk.JWKSet.from_json(json.dumps(published_seal_jwks(world)))

    def callback(issuer: str, header: dict[str, Any]) -> jwcrypto_jwk.JWK:
        certificate = jwcrypto_jws.JWS()
        certificate.deserialize(header["sealcert"])
        region_key = region_keys.get_key(certificate.jose_header["kid"])
        certificate.verify(region_key, alg=certificate.jose_header["alg"])
        claims = json.loads(certificate.payload)
        assert claims["sub"] == issuer and header["alg"] in ("EdDSA", "ES256")
        return jwcrypto_jwk.JWK(**claims["cnf"]["jwk"])

    return callback


class Verifier(sd_jwt_verifier.SDJWTVerifier):  # type: ignore[misc, name-defined]
    """The reference verifier checks KB-JWTs with ES256 only; let it use the holder's alg."""

    holder_alg = "ES256"

    def _verify_key_binding_jwt(
        self, expected_aud: Any = None, expected_nonce: Any = None, sign_alg: Any = None
    ) -> None:
        super()._verify_key_binding_jwt(expected_aud, expected_nonce, self.holder_alg)


def holder_keys(alg: str) -> tuple[jwcrypto_jwk.JWK, Jwk]:
    private = jwcrypto_jwk.JWK.generate(**JWCRYPTO_KEYS[alg])
    return private, Jwk.from_dict(json.loads(private.export_public()))


def sealed_for(world: World, holder: Jwk) -> str:
    licence = world.driving_licence()
    return seal_licence(licence, world.seal_for(licence.authority), NOW, holder).serialize()


def test_reference_verifier_verifies_a_sealed_licence(world: World) -> None:
    sealed = world.seal(world.driving_licence())
    verifier = sd_jwt_verifier.SDJWTVerifier(sealed, issuer_key_callback(world))
    claims = verifier.get_verified_payload()
    assert claims["holder_name"] == "张三" and claims["vehicle_class"] == "C1"
    assert claims["iss"] == world.police.credit_code and "_sd" not in claims


@pytest.mark.parametrize("alg", ALGS)
def test_reference_verifier_verifies_a_presentation_made_here(world: World, alg: str) -> None:
    holder = SigningKey.generate(alg)
    presentation = create_presentation(
        sealed_for(world, holder.jwk), holder, ["holder_name", "vehicle_class"], AUD, NOW,
        nonce="n-interop-1",
    )  # fmt: skip
    verifier_class = type("V", (Verifier,), {"holder_alg": alg})
    verifier = verifier_class(
        presentation, issuer_key_callback(world), expected_aud=AUD, expected_nonce="n-interop-1"
    )
    claims = verifier.get_verified_payload()
    assert claims["holder_name"] == "张三" and claims["vehicle_class"] == "C1"
    assert "holder_code" not in claims and "address" not in claims
    with pytest.raises(ValueError, match="nonce"):
        verifier_class(
            presentation, issuer_key_callback(world), expected_aud=AUD, expected_nonce="other"
        )


@pytest.mark.parametrize("alg", ALGS)
def test_a_reference_holder_presentation_verifies_here(world: World, alg: str) -> None:
    private, public = holder_keys(alg)
    holder = sd_jwt_holder.SDJWTHolder(sealed_for(world, public))
    nonce = secrets.token_urlsafe(12)
    holder.create_presentation(
        {"holder_name": True, "vehicle_class": True}, nonce, AUD, private, sign_alg=alg
    )
    presentation: str = holder.sd_jwt_presentation
    kb = split_sd_jwt(presentation).kb_jwt
    assert kb is not None
    header = parse_compact(kb, frozenset(ALGS), require_kid=False).header
    assert header == {"alg": alg, "typ": "kb+jwt"}  # no kid: the key is the licence's cnf
    result = verify_presentation(presentation, world.resolver, AUD, NonceLedger(), time.time())
    assert dict(result.disclosed) == {"holder_name": "张三", "vehicle_class": "C1"}
    assert result.holder_jwk.jkt == public.jkt and result.nonce == nonce


@pytest.mark.parametrize("alg", ALGS)
def test_a_reference_holder_with_the_wrong_key_is_refused_here(world: World, alg: str) -> None:
    _, public = holder_keys(alg)
    thief, _ = holder_keys(alg)
    holder = sd_jwt_holder.SDJWTHolder(sealed_for(world, public))
    holder.create_presentation({"holder_name": True}, "n-1", AUD, thief, sign_alg=alg)
    with pytest.raises(Unauthenticated, match="does not verify"):
        verify_presentation(
            holder.sd_jwt_presentation, world.resolver, AUD, NonceLedger(), time.time()
        )
