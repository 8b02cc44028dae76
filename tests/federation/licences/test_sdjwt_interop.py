"""The OpenWallet `sd-jwt` reference implementation and this federation understand each other:
it verifies a sealed licence and a presentation made here (the seal key found through the
region's published seal JWKS), and a presentation its reference holder makes (ES256 or EdDSA
holder key, no `kid` in the KB-JWT) verifies here; the sealed `exp`/`nbf` let its JOSE library
and PyJWT refuse an expired or not-yet-valid licence without knowing our date fields."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from typing import Any

import jwt
import pytest
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from jwcrypto import jwt as jwcrypto_jwt

from federation.clock import CHINA_STANDARD_TIME
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


# --- validity window as registered claims: generic verifiers enforce `exp` and `nbf` ------------


def _expired_and_current(world: World) -> tuple[str, str]:
    """A licence that ended the day before NOW (2025-06-01) and one valid until 2099."""
    expired = world.driving_licence(valid_until=dt.date(2025, 5, 31))
    return world.seal(expired), world.seal(world.driving_licence(valid_until=dt.date(2099, 1, 2)))


class WindowCheckingVerifier(sd_jwt_verifier.SDJWTVerifier):  # type: ignore[misc, name-defined]
    """sd-jwt 0.10.4 leaves `# TODO: Check exp/nbf/iat`; the JOSE library it is built on
    (jwcrypto) checks the registered claims of the issuer-signed JWT, here at `now`."""

    now = NOW

    def _verify_sd_jwt(self, cb_get_issuer_key: Any, sign_alg: Any = None) -> None:
        super()._verify_sd_jwt(cb_get_issuer_key, sign_alg)
        parsed = jwcrypto_jws.JWS()
        parsed.deserialize(self._unverified_input_sd_jwt)
        key = cb_get_issuer_key(self._sd_jwt_payload["iss"], parsed.jose_header)
        checks = {"exp": int(self.now), "nbf": int(self.now)}
        jwcrypto_jwt.JWT(jwt=self._unverified_input_sd_jwt, key=key, check_claims=checks)


def test_reference_verifier_refuses_an_expired_licence_by_exp(world: World) -> None:
    expired, current = _expired_and_current(world)
    callback = issuer_key_callback(world)
    plain = sd_jwt_verifier.SDJWTVerifier(expired, callback).get_verified_payload()
    end_of_may_31 = dt.datetime(2025, 6, 1, tzinfo=CHINA_STANDARD_TIME).timestamp()
    assert plain["exp"] == int(end_of_may_31) and plain["valid_until"] == "2025-05-31"
    with pytest.raises(jwcrypto_jwt.JWTExpired):
        WindowCheckingVerifier(expired, callback)
    assert WindowCheckingVerifier(current, callback).get_verified_payload()["exp"] > NOW
    early = type("Early", (WindowCheckingVerifier,), {"now": end_of_may_31 - 200 * 86400})
    with pytest.raises(jwcrypto_jwt.JWTNotYetValid):  # valid_from is 2025-01-02
        early(current, callback)


def test_pyjwt_refuses_an_expired_licence_by_exp(world: World) -> None:
    """PyJWT knows nothing of SD-JWT or seals: given the seal key, it enforces the window."""
    expired, current = _expired_and_current(world)
    seal_key = jwt.PyJWK(world.seal_for(world.police).key.jwk.to_dict(), algorithm="EdDSA")
    issuer_jwt = split_sd_jwt(expired).issuer_jwt
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(issuer_jwt, seal_key, algorithms=["EdDSA"])
    claims = jwt.decode(split_sd_jwt(current).issuer_jwt, seal_key, algorithms=["EdDSA"])
    assert claims["valid_until"] == "2099-01-02"
    future = world.seal(
        world.driving_licence(valid_from=dt.date(2098, 1, 1), valid_until=dt.date(2099, 1, 2))
    )
    with pytest.raises(jwt.ImmatureSignatureError):
        jwt.decode(split_sd_jwt(future).issuer_jwt, seal_key, algorithms=["EdDSA"])
