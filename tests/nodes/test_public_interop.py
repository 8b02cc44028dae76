"""Issue 10's interoperability matrix against running nodes, as a verifier outside the federation
sees them: only the federation root CA, plain HTTPS (no client certificate) and the addresses
the artefacts themselves name (token `iss` -> JWKS, licence `iss` -> issuer metadata, licence
`status.status_list.uri` -> the signed list, `x5c` -> the root)."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

from federation.crypto.jose import Jwk, SigningKey
from federation.crypto.pki import create_root_ca
from federation.licences import create_presentation
from federation.regions import Region
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.demo.licences import DRIVING_FIELDS
from tests._support.nodes import eventually, new_citizen

sd_jwt_holder = pytest.importorskip("sd_jwt.holder")
sd_jwt_verifier = pytest.importorskip("sd_jwt.verifier")

pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
PASSWORD = "Lotus-pond-2024"
VC_ISSUER = "/.well-known/jwt-vc-issuer"


# --- what any outside verifier has: the root CA and an HTTPS client ------------------------------


def _get(fed_dir: Path, url: str) -> tuple[bytes, str]:
    context = ssl.create_default_context(cafile=str(fed_dir / "ca" / "root.crt"))
    assert urlsplit(url).scheme == "https"
    with urllib.request.urlopen(url, context=context, timeout=5) as response:
        return response.read(), str(response.headers.get("Content-Type"))


def _public_base(fed_dir: Path, region: str) -> str:
    config = load_config(fed_dir / f"{region}.toml")
    return f"https://{config.host}:{config.public_port}"


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _claims(jws: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(_b64url(jws.split("~", 1)[0].split(".")[1]))
    return claims


def _header(jws: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(_b64url(jws.split("~", 1)[0].split(".")[0]))
    return header


def _issuer_metadata(fed_dir: Path, iss: str) -> dict[str, Any]:
    """SD-JWT VC: `/.well-known/jwt-vc-issuer` inserted between the host and the iss path."""
    parts = urlsplit(iss)
    body, content_type = _get(fed_dir, f"https://{parts.netloc}{VC_ISSUER}{parts.path}")
    assert content_type == "application/json"
    metadata: dict[str, Any] = json.loads(body)
    assert metadata["issuer"] == iss  # the draft: metadata for exactly this issuer
    return metadata


def _issuer_key_callback(fed_dir: Path) -> Any:
    def callback(issuer: str, header: dict[str, Any]) -> jwcrypto_jwk.JWK:
        keys = jwcrypto_jwk.JWKSet.from_json(json.dumps(_issuer_metadata(fed_dir, issuer)["jwks"]))
        return keys.get_key(header["kid"])

    return callback


def _issue(client: FederationClient, holder_jwk: dict[str, Any] | None = None) -> Any:
    return client.issue_licence(
        "ZJ", secrets.token_hex(6), "driving_licence", new_citizen(), "测试人", DRIVING_FIELDS,
        holder_jwk=holder_jwk,
    )  # fmt: skip


# --- identity token x PyJWT / joserfc / jwcrypto, keys from the issuer's published JWKS ----------


def _verify_pyjwt(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    key = pyjwt.PyJWKSet.from_dict(jwks)[pyjwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = pyjwt.decode(
        token, key.key, algorithms=["EdDSA"], audience=Region.SH.entity_id,
        issuer=Region.ZJ.entity_id,
    )  # fmt: skip
    return claims


def _verify_joserfc(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    decoded = joserfc_jwt.decode(token, keys, algorithms=["EdDSA"])
    joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": Region.ZJ.entity_id},
        aud={"essential": True, "value": Region.SH.entity_id},
        exp={"essential": True},
    ).validate(decoded.claims)
    return dict(decoded.claims)


def _verify_jwcrypto(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    verified = jwcrypto_jwt.JWT(
        jwt=token,
        key=jwcrypto_jwk.JWKSet.from_json(json.dumps(jwks)),
        algs=["EdDSA"],
        check_claims={"iss": Region.ZJ.entity_id, "aud": Region.SH.entity_id},
    )
    claims: dict[str, Any] = json.loads(verified.claims)
    return claims


TOKEN_VERIFIERS = {"PyJWT": _verify_pyjwt, "joserfc": _verify_joserfc, "jwcrypto": _verify_jwcrypto}


@pytest.mark.parametrize("library", sorted(TOKEN_VERIFIERS))
def test_identity_token_verifies_with_the_published_jwks(
    fed_dir: Path, client: FederationClient, library: str
) -> None:
    subject = new_citizen()
    client.register("ZJ", "natural", subject, "Test Person", PASSWORD)
    token = client.login("ZJ", subject, PASSWORD, ["SH"]).tokens[Region.SH.entity_id]
    body, content_type = _get(fed_dir, _public_base(fed_dir, "zj") + "/.well-known/jwks.json")
    assert content_type == "application/jwk-set+json"
    claims = TOKEN_VERIFIERS[library](token, json.loads(body))
    assert claims["sub"] == subject and claims["aud"] == Region.SH.entity_id
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(Exception):  # noqa: B017 - each library names its own signature error
        TOKEN_VERIFIERS[library](forged, json.loads(body))


# --- status list x an independent decoder, fetched at the uri the licence names ------------------


def _independent_statuses(status_list: dict[str, Any]) -> list[int]:
    """Token Status List: `lst` is base64url(zlib(bytes)); entry i sits in byte i*bits//8,
    starting at bit (i*bits) % 8 counted from the least significant bit."""
    bits = status_list["bits"]
    assert bits in (1, 2, 4, 8)
    data = zlib.decompress(_b64url(status_list["lst"]))
    count = len(data) * 8 // bits
    return [(data[i * bits // 8] >> (i * bits % 8)) & ((1 << bits) - 1) for i in range(count)]


def test_status_list_at_the_licence_uri_decodes_independently(
    fed_dir: Path, client: FederationClient
) -> None:
    kept, gone = _issue(client), _issue(client)
    client.change_licence_status("ZJ", gone.identifier, "revoke", "withdrawn")
    references = [_claims(d.sd_jwt)["status"]["status_list"] for d in (kept, gone)]
    uri = references[0]["uri"]
    assert uri == references[1]["uri"] == _public_base(fed_dir, "zj") + "/status/330000/1"
    assert kept.status_list_uri == uri  # what the issuing node answers is what it sealed
    jwks_body, _ = _get(fed_dir, _public_base(fed_dir, "zj") + "/.well-known/jwks.json")
    keys = pyjwt.PyJWKSet.from_dict(json.loads(jwks_body))

    def revocation_published() -> tuple[dict[str, Any], list[int]]:
        body, content_type = _get(fed_dir, uri)  # the uri as sealed, fetched as any URL
        assert content_type == "application/statuslist+jwt"
        token = body.decode("ascii")
        header = pyjwt.get_unverified_header(token)
        assert header["typ"] == "statuslist+jwt"
        claims = pyjwt.decode(token, keys[header["kid"]].key, algorithms=["EdDSA"])
        statuses = _independent_statuses(claims["status_list"])
        assert statuses[references[1]["idx"]] == 1  # revoked (the draft's INVALID)
        return claims, statuses

    claims, statuses = eventually(revocation_published, timeout_s=10.0, pause_s=0.5)
    assert claims["sub"] == uri and claims["exp"] > claims["iat"] and claims["ttl"] > 0
    assert statuses[references[0]["idx"]] == 0  # valid


# --- licence and presentations x the OpenWallet `sd-jwt` package ----------------------------------


def test_sd_jwt_verifies_a_licence_with_keys_from_issuer_metadata(
    fed_dir: Path, client: FederationClient
) -> None:
    doc = _issue(client)
    claims = _claims(doc.sd_jwt)
    authority = claims["authority_code"]
    assert claims["iss"] == f"{_public_base(fed_dir, 'zj')}/authorities/{authority}"
    verified = sd_jwt_verifier.SDJWTVerifier(
        doc.sd_jwt, _issuer_key_callback(fed_dir)
    ).get_verified_payload()
    assert verified["holder_name"] == "测试人" and verified["vehicle_class"] == "C1"
    assert verified["iss"] == claims["iss"] and verified["authority_code"] == authority
    # the issuer metadata of another authority does not verify this seal
    other = dict(claims, iss=claims["iss"][: -len(authority)] + "X" * len(authority))
    with pytest.raises(urllib.error.HTTPError):
        _issuer_metadata(fed_dir, other["iss"])


class _Verifier(sd_jwt_verifier.SDJWTVerifier):  # type: ignore[misc, name-defined]
    """The reference verifier checks KB-JWTs with ES256 only; our holder key is EdDSA."""

    def _verify_key_binding_jwt(
        self, expected_aud: Any = None, expected_nonce: Any = None, sign_alg: Any = None
    ) -> None:
        super()._verify_key_binding_jwt(expected_aud, expected_nonce, "EdDSA")


def test_sd_jwt_verifies_a_presentation_of_a_node_licence(
    fed_dir: Path, client: FederationClient
) -> None:
    holder = SigningKey.generate()
    doc = _issue(client, holder.jwk.to_dict())
    audience = "https://verifier.example"
    presentation = create_presentation(
        doc.sd_jwt, holder, ["holder_name"], audience, time.time(), nonce="n-outside-1"
    )
    verifier = _Verifier(
        presentation, _issuer_key_callback(fed_dir), expected_aud=audience,
        expected_nonce="n-outside-1",
    )  # fmt: skip
    disclosed = verifier.get_verified_payload()
    assert disclosed["holder_name"] == "测试人" and "vehicle_class" not in disclosed


def test_sd_jwt_holder_presentation_verifies_at_a_node(client: FederationClient) -> None:
    private = jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256")
    public = Jwk.from_dict(json.loads(private.export_public()))
    doc = _issue(client, public.to_dict())
    holder = sd_jwt_holder.SDJWTHolder(doc.sd_jwt)
    nonce = client.issue_challenge("SH").nonce
    holder.create_presentation(
        {"holder_name": True, "vehicle_class": True}, nonce, Region.SH.entity_id, private,
        sign_alg="ES256",
    )  # fmt: skip
    reply = client.verify_presentation("SH", holder.sd_jwt_presentation, nonce)
    assert reply.verdict.verdict == "valid", list(reply.verdict.reasons)
    assert json.loads(reply.disclosed_json) == {"holder_name": "测试人", "vehicle_class": "C1"}


# --- x5c x openssl / cryptography: the seal chain reaches the federation root ---------------------


def _x5c(sd_jwt: str) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(base64.b64decode(c)) for c in _header(sd_jwt)["x5c"]]


def test_x5c_chain_verifies_with_cryptography_and_names_the_published_seal_key(
    fed_dir: Path, client: FederationClient
) -> None:
    doc = _issue(client)
    leaf, seal_ca = _x5c(doc.sd_jwt)
    root = x509.load_pem_x509_certificate((fed_dir / "ca" / "root.crt").read_bytes())
    # each link's signature and the CA's constraints (cryptography's WebPKI path validation
    # refuses Ed25519 keys outright, so the chain is walked link by link)
    leaf.verify_directly_issued_by(seal_ca)
    seal_ca.verify_directly_issued_by(root)
    constraints = seal_ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    # the leaf certifies the seal key the issuer metadata publishes, for the licence's `iss`
    iss = _claims(doc.sd_jwt)["iss"]
    (published,) = _issuer_metadata(fed_dir, iss)["jwks"]["keys"]
    assert Jwk.from_public_key(leaf.public_key()).kid == published["kid"]  # type: ignore[arg-type]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [iss]
    # and the intermediate is the region's seal-certifying key from the trust list
    member = client.trust_list.member(Region.ZJ.entity_id)
    ca_kid = Jwk.from_public_key(seal_ca.public_key()).kid  # type: ignore[arg-type]
    assert ca_kid in {k.kid for k in member.seal_keys}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
def test_x5c_chain_verifies_with_openssl(
    fed_dir: Path, client: FederationClient, tmp_path: Path
) -> None:
    leaf, seal_ca = _x5c(_issue(client).sd_jwt)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.pem").write_bytes(seal_ca.public_bytes(serialization.Encoding.PEM))
    checked = subprocess.run(
        [str(shutil.which("openssl")), "verify", "-CAfile", str(fed_dir / "ca" / "root.crt"),
         "-untrusted", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and checked.stdout.strip().endswith("OK"), checked.stderr
    # the chain does not verify against another root
    other = tmp_path / "other-root.pem"
    other.write_bytes(create_root_ca()[1].public_bytes(serialization.Encoding.PEM))
    refused = subprocess.run(
        [str(shutil.which("openssl")), "verify", "-CAfile", str(other),
         "-untrusted", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
