"""EdDSA and ES256 side by side: keys declare their algorithm, headers cannot choose another,
JWKs carry registered members only, and parsing fails only with the domain's two errors."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.crypto.jose import (
    EDDSA_ONLY,
    SIGNATURE_ALGS,
    Jwk,
    SigningKey,
    b64url_encode,
    canonical_json,
    parse_compact,
    sign_compact,
    verify_compact,
)
from federation.errors import InvalidArgument, Unauthenticated

KEYS = {alg: SigningKey.generate(alg) for alg in ("EdDSA", "ES256")}
BOTH = frozenset(SIGNATURE_ALGS)

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def raw(header: Any, payload: Any, signature: bytes = b"") -> str:
    return ".".join(
        (
            b64url_encode(canonical_json(header)),
            b64url_encode(canonical_json(payload)),
            b64url_encode(signature),
        )
    )


def resolver(key: SigningKey) -> Any:
    return lambda kid: key.jwk


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_each_key_signs_with_its_own_algorithm(alg: str) -> None:
    key = KEYS[alg]
    token = sign_compact({"sub": "x"}, key)
    parsed = verify_compact(token, resolver(key), BOTH)
    assert parsed.alg == alg == key.alg == key.jwk.alg
    assert len(parsed.signature) == 64  # ES256 is R || S, not DER


def test_es256_is_refused_where_only_eddsa_is_accepted() -> None:
    token = sign_compact({"sub": "x"}, KEYS["ES256"])
    with pytest.raises(Unauthenticated, match="only EdDSA"):
        verify_compact(token, resolver(KEYS["ES256"]))
    assert parse_compact(token, BOTH).alg == "ES256"


@pytest.mark.parametrize(("signer", "claimed"), [("EdDSA", "ES256"), ("ES256", "EdDSA")])
def test_a_header_cannot_choose_another_algorithm_for_the_key(signer: str, claimed: str) -> None:
    key = KEYS[signer]
    head = b64url_encode(canonical_json({"alg": claimed, "kid": key.kid}))
    body = b64url_encode(b"{}")
    token = f"{head}.{body}.{b64url_encode(key.sign(f'{head}.{body}'.encode()))}"
    with pytest.raises(Unauthenticated, match="algorithm confusion"):
        verify_compact(token, resolver(key), BOTH)


def test_es256_signature_of_the_wrong_length_is_refused() -> None:
    key = KEYS["ES256"]
    token = sign_compact({"a": 1}, key)
    head, body, sig = token.split(".")
    der_length = b64url_encode(base64.urlsafe_b64decode(sig + "==")[:63])
    with pytest.raises(Unauthenticated, match="does not verify"):
        verify_compact(f"{head}.{body}.{der_length}", resolver(key), BOTH)


@settings(deadline=None, max_examples=60)
@given(
    payload=st.dictionaries(st.text(max_size=8), json_scalars, max_size=5), bit=st.integers(0, 511)
)
def test_es256_round_trip_and_any_flipped_signature_bit_fails(
    payload: dict[str, Any], bit: int
) -> None:
    key = KEYS["ES256"]
    token = sign_compact(payload, key)
    assert verify_compact(token, resolver(key), BOTH).payload() == payload
    head, body, _ = token.split(".")
    raw_sig = bytearray(parse_compact(token, BOTH).signature)
    raw_sig[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(Unauthenticated):
        verify_compact(f"{head}.{body}.{b64url_encode(bytes(raw_sig))}", resolver(key), BOTH)


@settings(deadline=None, max_examples=300)
@given(header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "x"]), json_values))
def test_parsing_any_header_fails_only_with_domain_errors(header: dict[str, Any]) -> None:
    for algs in (EDDSA_ONLY, BOTH):
        for require_kid in (True, False):
            try:
                parsed = parse_compact(raw(header, {}, b"\x00" * 64), algs, require_kid)
            except (InvalidArgument, Unauthenticated):
                continue
            assert parsed.alg in algs and isinstance(parsed.alg, str)
            assert "kid" not in parsed.header or isinstance(parsed.header["kid"], str)
            assert not require_kid or "kid" in parsed.header


@settings(deadline=None, max_examples=200)
@given(alg=json_values.filter(lambda a: not (isinstance(a, str) and a in BOTH)))
def test_no_other_alg_value_is_accepted(alg: Any) -> None:
    with pytest.raises(Unauthenticated, match="refused"):
        parse_compact(raw({"alg": alg, "kid": "k"}, {}), BOTH)


@settings(deadline=None, max_examples=300)
@given(
    data=st.dictionaries(
        st.sampled_from(["kty", "crv", "x", "y", "kid", "use", "key_ops", "alg", "exp", "d"]),
        json_values
        | st.sampled_from(["OKP", "EC", "Ed25519", "P-256", "sig", KEYS["ES256"].jwk.x]),
    )
)
def test_jwk_parsing_fails_only_with_invalid_argument(data: dict[str, Any]) -> None:
    try:
        jwk = Jwk.from_dict(data)
    except InvalidArgument:
        return
    assert Jwk.from_dict(jwk.to_dict()) == jwk


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_jwk_round_trip_and_rfc_7638_thumbprint(alg: str) -> None:
    jwk = KEYS[alg].jwk
    data = jwk.to_dict()
    assert data["use"] == "sig" and data["alg"] == alg and "d" not in data
    assert Jwk.from_dict(data) == jwk
    members = {k: data[k] for k in ("crv", "kty", "x", "y") if k in data}
    digest = hashlib.sha256(canonical_json(members)).digest()
    assert jwk.kid == jwk.jkt == b64url_encode(digest)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"use": "seal"}, "'use' must be 'sig'"),
        ({"use": "enc"}, "'use' must be 'sig'"),
        ({"key_ops": ["sign"]}, "key_ops"),
        ({"key_ops": "verify"}, "key_ops"),
        ({"key_ops": ["verify", "encrypt"]}, "key_ops"),
        ({"alg": "ES256"}, "does not fit"),
        ({"alg": "HS256"}, "does not fit"),
        ({"d": "AAAA"}, "private"),
        ({"kid": ""}, "kid"),
        ({"exp": "1800000000"}, "exp"),
        ({"exp": True}, "exp"),
    ],
)
def test_jwk_members_must_be_registered_values(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Jwk.from_dict({**KEYS["EdDSA"].jwk.to_dict(), **change})
    assert Jwk.from_dict({**KEYS["EdDSA"].jwk.to_dict(), "key_ops": ["verify"]})


def test_ec_points_off_the_curve_or_of_the_wrong_size_are_refused() -> None:
    good = KEYS["ES256"].jwk.to_dict()
    for change in ({"y": good["x"]}, {"x": b64url_encode(b"\x01" * 31)}, {"y": ""}, {"y": 5}):
        with pytest.raises(InvalidArgument):
            Jwk.from_dict({**good, **change})
    with pytest.raises(InvalidArgument):
        Jwk.from_dict({**KEYS["EdDSA"].jwk.to_dict(), "y": good["y"]})


def test_public_key_serves_ed25519_only() -> None:
    assert KEYS["EdDSA"].jwk.public_key()
    with pytest.raises(Unauthenticated, match="not Ed25519"):
        KEYS["ES256"].jwk.public_key()
    with pytest.raises(InvalidArgument, match="EdDSA, ES256 or SM2SM3"):
        SigningKey.generate("HS256")
