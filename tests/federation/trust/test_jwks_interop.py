"""Verifiable by anyone: PyJWT, joserfc and jwcrypto verify federated tokens with a region's JWKS
as the signed trust list publishes it, and load every published key, seal-certifying ones too;
a token key never verifies a seal certificate, nor a seal key a token."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt as pyjwt
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from jwcrypto import jwt as jwcrypto_jwt

from federation.codes import make_credit_code
from federation.crypto.jose import SigningKey, b64url_decode
from federation.errors import Unauthenticated
from federation.identity.assurance import Assurance
from federation.identity.tokens import mint_token
from federation.licences import certify_seal_key, read_seal_certificate
from federation.licences.model import IssuingAuthority
from federation.regions import Region
from federation.trust.keys import seal_keys, status_keys
from federation.trust.trustlist import (
    Member,
    TrustList,
    sign_trust_list,
    verify_trust_list,
)

# joserfc warns that RFC 9864 prefers the fully-specified "Ed25519" to "EdDSA"; both name it
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")

NOW = int(time.time())
ANCHOR = SigningKey.generate()
TOKEN_KEYS = {region: SigningKey.generate() for region in Region}
SEAL_KEYS = {region: SigningKey.generate() for region in Region if region.is_province}
AUTHORITY = IssuingAuthority(
    make_credit_code("1", "1", "310000", "01400123"), "上海市公安局", "310000"
)


def _member(region: Region) -> Member:
    return Member(
        entity_id=region.entity_id,
        region_code=region.code,
        name=region.label,
        roles=("hub",) if region is Region.HUB else ("region",),
        endpoint="127.0.0.1:1",
        tls_fingerprints=("ab" * 32,),
        signing_keys=(TOKEN_KEYS[region].jwk,),
        seal_keys=(SEAL_KEYS[region].jwk,) if region in SEAL_KEYS else (),
    )


SIGNED = sign_trust_list(
    TrustList(1, NOW, NOW + 3600, "cd" * 32, tuple(_member(r) for r in Region)), ANCHOR
)
TRUST = verify_trust_list(SIGNED, ANCHOR.jwk, NOW)
PUBLISHED: dict[str, Any] = json.loads(b64url_decode(SIGNED.split(".")[1]))
"""The trust list exactly as the hub signs and every node caches it."""


def published(region: Region, name: str = "jwks") -> dict[str, Any]:
    member = next(m for m in PUBLISHED["members"] if m["entity_id"] == region.entity_id)
    jwks: dict[str, Any] = member[name]
    return jwks


def token(key: SigningKey | None = None, audience: str = Region.ZJ.entity_id) -> str:
    return mint_token(
        key or TOKEN_KEYS[Region.SH],
        issuer=Region.SH.entity_id,
        subject="310101199001011234",
        audience=audience,
        session_id="s-1",
        assurance=Assurance.SUBSTANTIAL,
        home_region=Region.SH.code,
        subject_kind="natural_person",
        name="张三",
        amr=("pwd",),
        home_attestation="",
        now=time.time(),
    )


def test_published_jwks_hold_registered_members_only() -> None:
    for member in PUBLISHED["members"]:
        for name in ("jwks", "seal_jwks"):
            for key in member[name]["keys"]:
                assert key["use"] == "sig" and key["alg"] in ("EdDSA", "ES256")
                assert set(key) <= {"kty", "crv", "x", "y", "kid", "use", "alg", "exp"}
    assert published(Region.SH, "seal_jwks")["keys"] == [SEAL_KEYS[Region.SH].jwk.to_dict()]
    assert TRUST.member(Region.SH.entity_id).seal_keys == (SEAL_KEYS[Region.SH].jwk,)


# --- tokens ------------------------------------------------------------------------------------


def test_pyjwt_verifies_a_federated_token() -> None:
    keys = pyjwt.PyJWKSet.from_dict(published(Region.SH))
    text = token()
    key = keys[pyjwt.get_unverified_header(text)["kid"]]
    claims = pyjwt.decode(
        text, key.key, algorithms=["EdDSA"], audience=Region.ZJ.entity_id,
        issuer=Region.SH.entity_id,
    )  # fmt: skip
    assert claims["sub"] == "310101199001011234" and claims["acr"] == Assurance.SUBSTANTIAL.acr
    with pytest.raises(pyjwt.InvalidAudienceError):
        pyjwt.decode(text, key.key, algorithms=["EdDSA"], audience=Region.AH.entity_id)


def test_joserfc_verifies_a_federated_token() -> None:
    keys = KeySet.import_key_set(published(Region.SH))
    decoded = joserfc_jwt.decode(token(), keys, algorithms=["EdDSA"])
    registry = joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": Region.SH.entity_id},
        aud={"essential": True, "value": Region.ZJ.entity_id},
    )
    registry.validate(decoded.claims)
    assert decoded.header["alg"] == "EdDSA" and decoded.claims["name"] == "张三"


def test_jwcrypto_verifies_a_federated_token() -> None:
    keys = jwcrypto_jwk.JWKSet.from_json(json.dumps(published(Region.SH)))
    verified = jwcrypto_jwt.JWT(
        jwt=token(),
        key=keys,
        algs=["EdDSA"],
        check_claims={"iss": Region.SH.entity_id, "aud": Region.ZJ.entity_id},
    )
    assert json.loads(verified.claims)["sub"] == "310101199001011234"


def test_a_seal_key_never_verifies_a_token_anywhere() -> None:
    forged = token(SEAL_KEYS[Region.SH])  # the region's own seal key signs a "token"
    kid = pyjwt.get_unverified_header(forged)["kid"]
    with pytest.raises(KeyError):
        pyjwt.PyJWKSet.from_dict(published(Region.SH))[kid]
    with pytest.raises(JoseError):
        keys = KeySet.import_key_set(published(Region.SH))
        joserfc_jwt.decode(forged, keys, algorithms=["EdDSA"])
    with pytest.raises(jwcrypto_jwt.JWTMissingKey):
        jwcrypto_jwt.JWT(
            jwt=forged,
            key=jwcrypto_jwk.JWKSet.from_json(json.dumps(published(Region.SH))),
            algs=["EdDSA"],
        )
    with pytest.raises(Unauthenticated, match="listed for 'seal', not 'sig'"):
        status_keys(lambda: TRUST, lambda: NOW)(Region.SH.code, SEAL_KEYS[Region.SH].kid)


# --- the whole JWKS, seal-certifying keys included ----------------------------------------------


def test_every_library_loads_the_whole_published_jwks() -> None:
    everything = TRUST.jwks()
    seal_kid = SEAL_KEYS[Region.JS].kid
    assert seal_kid in {k["kid"] for k in everything["keys"]}
    assert len(pyjwt.PyJWKSet.from_dict(everything).keys) == len(everything["keys"])
    assert KeySet.import_key_set(everything).get_by_kid(seal_kid)
    loaded = jwcrypto_jwk.JWKSet.from_json(json.dumps(everything))
    assert loaded.get_key(seal_kid) is not None
    for region in SEAL_KEYS:
        KeySet.import_key_set(published(region, "seal_jwks"))
        jwcrypto_jwk.JWKSet.from_json(json.dumps(published(region, "seal_jwks")))


def test_jwcrypto_and_joserfc_verify_a_seal_certificate_with_the_seal_key() -> None:
    subject = SigningKey.generate()
    cert = certify_seal_key(
        SEAL_KEYS[Region.SH], Region.SH, AUTHORITY, subject.jwk, 86400, NOW
    )
    keys = jwcrypto_jwk.JWKSet.from_json(json.dumps(published(Region.SH, "seal_jwks")))
    verifier = jwcrypto_jws.JWS()
    verifier.deserialize(cert)
    verifier.verify(keys.get_key(SEAL_KEYS[Region.SH].kid), alg="EdDSA")  # checks `use` is sig
    claims = json.loads(verifier.payload)
    assert claims["sub"] == AUTHORITY.credit_code
    joserfc_keys = KeySet.import_key_set(published(Region.SH, "seal_jwks"))
    from joserfc import jws as joserfc_jws

    assert joserfc_jws.deserialize_compact(cert, joserfc_keys, algorithms=["EdDSA"]).payload
    ours = read_seal_certificate(cert, seal_keys(lambda: TRUST, lambda: NOW))
    assert ours.seal_jwk == subject.jwk


def test_a_token_key_never_verifies_a_seal_certificate() -> None:
    cert = certify_seal_key(
        TOKEN_KEYS[Region.SH], Region.SH, AUTHORITY, SigningKey.generate().jwk, 86400, NOW
    )
    with pytest.raises(Unauthenticated, match="listed for 'sig', not 'seal'"):
        read_seal_certificate(cert, seal_keys(lambda: TRUST, lambda: NOW))
    keys = jwcrypto_jwk.JWKSet.from_json(json.dumps(published(Region.SH, "seal_jwks")))
    assert keys.get_key(TOKEN_KEYS[Region.SH].kid) is None


def test_a_legacy_use_seal_key_is_read_as_a_seal_key_and_never_written() -> None:
    legacy = json.loads(json.dumps(PUBLISHED))
    for member in legacy["members"]:
        seal = member.pop("seal_jwks")["keys"]
        member["jwks"]["keys"] += [{**k, "use": "seal"} for k in seal]
    again = TrustList.from_dict(legacy)
    assert again == TRUST
    assert "seal" not in json.dumps([m.to_dict()["jwks"] for m in again.members])
    # what standard libraries made of the legacy form (why it changed)
    legacy_jwks = next(m for m in legacy["members"] if m["region_code"] == "310000")["jwks"]
    with pytest.raises(JoseError):
        KeySet.import_key_set(legacy_jwks)
    old_key = jwcrypto_jwk.JWK(**legacy_jwks["keys"][1])
    cert = certify_seal_key(
        SEAL_KEYS[Region.SH], Region.SH, AUTHORITY, SigningKey.generate().jwk, 86400, NOW
    )
    verifier = jwcrypto_jws.JWS()
    verifier.deserialize(cert)
    with pytest.raises(jwcrypto_jws.InvalidJWSSignature):  # jwcrypto: `use` must be sig
        verifier.verify(old_key, alg="EdDSA")


def test_a_key_is_listed_for_one_purpose_only() -> None:
    sh = TRUST.member(Region.SH.entity_id)
    with pytest.raises(Exception, match="twice"):
        Member(
            sh.entity_id, sh.region_code, sh.name, sh.roles, sh.endpoint,
            sh.tls_fingerprints, sh.signing_keys, sh.signing_keys,
        )  # fmt: skip
    doubled = sh.to_dict()
    doubled["seal_jwks"] = doubled["jwks"]
    with pytest.raises(Exception, match="twice"):
        Member.from_dict(doubled)
