"""Tests for compact JWS with EdDSA (RFC 8037) and OKP JWKs (RFC 7638 thumbprints)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.crypto.jose import (
    MAX_COMPACT_LENGTH,
    Jwk,
    SigningKey,
    b64url_decode,
    b64url_encode,
    canonical_json,
    parse_compact,
    sign_compact,
    verify_compact,
)
from federation.errors import FederationError, InvalidArgument, Unauthenticated
from federation.jsontext import strict_json

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# RFC 8037 appendix A.1-A.3: an Ed25519 key pair and its RFC 7638 thumbprint.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()


def resolver(*keys: SigningKey):
    table = {k.kid: k.jwk for k in keys}

    def resolve(kid: str) -> Jwk:
        if kid not in table:
            raise Unauthenticated(f"unknown key {kid}")
        return table[kid]

    return resolve


def raw_header(header: dict[str, object]) -> str:
    return b64url_encode(json.dumps(header).encode())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


# --- base64url and canonical JSON -------------------------------------------------------------


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_b64url_round_trip_without_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data


@pytest.mark.parametrize("text", ["ab=c", "a+bc", "a/bc", "ab c", "ab\nc", "abc\n", "A", "é"])
def test_b64url_decode_refuses_non_base64url_text(text: str) -> None:
    with pytest.raises(InvalidArgument):
        b64url_decode(text)


_B64URL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _reference_b64url_decode(text: str) -> bytes | None:
    """The decoder's contract spelled out slowly: the alphabet only, no padding, canonical
    trailing bits; None where it must refuse."""
    if any(c not in _B64URL_CHARS for c in text) or len(text) % 4 == 1:
        return None
    tail = len(text) % 4
    if tail and _B64URL_CHARS.index(text[-1]) & (0x0F if tail == 2 else 0x03):
        return None
    return base64.urlsafe_b64decode(text + "=" * (-tail % 4))


@settings(deadline=None, max_examples=500)
@given(
    st.text(alphabet=st.sampled_from(_B64URL_CHARS), max_size=40)
    | st.text(alphabet=st.sampled_from(_B64URL_CHARS + "+/= \n\t.~é\x00\u0660"), max_size=40)
)
def test_b64url_decode_is_exactly_the_strict_alphabet(text: str) -> None:
    expected = _reference_b64url_decode(text)
    if expected is None:
        with pytest.raises(InvalidArgument):
            b64url_decode(text)
    else:
        assert b64url_decode(text) == expected


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["长三角", {"d": 2, "c": 3}]}) == (
        '{"a":["长三角",{"c":3,"d":2}],"b":1}'.encode()
    )


# --- sign and verify --------------------------------------------------------------------------


@settings(deadline=None)
@given(json_objects)
def test_sign_verify_round_trip(payload: dict[str, object]) -> None:
    token = sign_compact(payload, KEY)
    parsed = verify_compact(token, resolver(KEY, OTHER_KEY))
    assert parsed.payload() == payload
    assert parsed.header == {"alg": "EdDSA", "kid": KEY.kid, "typ": "JWT"}


def test_sign_raw_bytes_and_extra_header() -> None:
    token = sign_compact(b"not json", KEY, typ="x+jwt", extra_header={"cty": "text"})
    parsed = verify_compact(token, resolver(KEY))
    assert parsed.payload_bytes == b"not json"
    assert parsed.header["typ"] == "x+jwt"
    assert parsed.header["cty"] == "text"
    with pytest.raises(InvalidArgument, match="not JSON"):
        parsed.payload()


def test_payload_must_be_an_object() -> None:
    parsed = verify_compact(sign_compact(b"[1, 2]", KEY), resolver(KEY))
    with pytest.raises(InvalidArgument, match="JSON object"):
        parsed.payload()


def test_signature_by_another_key_with_the_same_kid_is_refused() -> None:
    forged = sign_compact({"sub": "x"}, OTHER_KEY, extra_header={"kid": KEY.kid})
    with pytest.raises(Unauthenticated, match="forged or altered"):
        verify_compact(forged, resolver(KEY))


def test_unknown_kid_is_refused_by_the_resolver() -> None:
    with pytest.raises(Unauthenticated, match="unknown key"):
        verify_compact(sign_compact({"a": 1}, OTHER_KEY), resolver(KEY))


def _flip_byte(data: bytes, index: int, mask: int) -> bytes:
    index %= len(data)
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


@settings(deadline=None, max_examples=100)
@given(
    payload=json_objects,
    part=st.sampled_from([0, 1, 2]),
    index=st.integers(min_value=0, max_value=10_000),
    mask=st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_change_is_refused(
    payload: dict[str, object], part: int, index: int, mask: int
) -> None:
    token = sign_compact(payload, KEY)
    parts = token.split(".")
    decoded = [b64url_decode(p) for p in parts]
    decoded[part] = _flip_byte(decoded[part], index, mask)
    tampered = ".".join(b64url_encode(d) for d in decoded)
    assert tampered != token
    with pytest.raises(FederationError) as info:
        verify_compact(tampered, resolver(KEY))
    # a changed byte is either unreadable or fails the signature; nothing else escapes
    assert type(info.value) in (InvalidArgument, Unauthenticated)


@settings(deadline=None, max_examples=100)
@given(
    payload=json_objects,
    data=st.data(),
)
def test_any_single_character_change_before_the_last_signature_char_is_refused(
    payload: dict[str, object], data: st.DataObject
) -> None:
    token = sign_compact(payload, KEY)
    # the last signature character also carries 4 padding bits; see the xfail test below
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 2))
    replacement = data.draw(
        st.sampled_from(B64URL_ALPHABET + ".!*~ ").filter(lambda c: c != token[position])
    )
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(FederationError) as info:
        verify_compact(tampered, resolver(KEY))
    assert type(info.value) in (InvalidArgument, Unauthenticated)


def test_signature_with_changed_padding_bits_is_refused() -> None:
    token = sign_compact({"sub": "x"}, KEY)
    head, body, sig = token.split(".")
    # 64 bytes -> 86 characters; the last one holds 2 data bits and 4 zero padding bits
    alt = B64URL_ALPHABET[B64URL_ALPHABET.index(sig[-1]) ^ 1]
    tampered = f"{head}.{body}.{sig[:-1]}{alt}"
    assert tampered != token
    with pytest.raises(InvalidArgument):
        verify_compact(tampered, resolver(KEY))


# regression: found by these tests, fixed in e0c2df2 (strict base64url)
@pytest.mark.parametrize("junk", ["!!", "*", "~~~~", "\t"])
def test_characters_outside_the_base64url_alphabet_are_refused(junk: str) -> None:
    with pytest.raises(InvalidArgument):
        b64url_decode(junk)
    token = sign_compact({"sub": "x"}, KEY)
    head, body, sig = token.split(".")
    with pytest.raises(InvalidArgument):
        parse_compact(f"{head}.{body}.{sig[:8]}{junk * 4}{sig[8:]}")


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES256", None])
def test_algorithms_other_than_eddsa_are_refused(alg: str | None) -> None:
    header = {"kid": KEY.kid, "typ": "JWT"} if alg is None else {"alg": alg, "kid": KEY.kid}
    body = b64url_encode(b'{"sub":"x"}')
    for sig in ("", b64url_encode(b"\x00" * 32)):
        with pytest.raises(Unauthenticated, match="only EdDSA"):
            parse_compact(f"{raw_header(header)}.{body}.{sig}")


def test_alg_none_with_the_real_kid_cannot_reach_key_resolution() -> None:
    calls: list[str] = []

    def resolve(kid: str) -> Jwk:
        calls.append(kid)
        return KEY.jwk

    token = f"{raw_header({'alg': 'none', 'kid': KEY.kid})}.{b64url_encode(b'{}')}."
    with pytest.raises(Unauthenticated):
        verify_compact(token, resolve)
    assert calls == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": "EdDSA"}, "no 'kid'"),
        ({"alg": "EdDSA", "kid": 7}, "'kid' must be a string"),
        ({"alg": "EdDSA", "kid": "k", "crit": ["b64"]}, "crit"),
    ],
)
def test_header_requirements(header: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_compact(f"{raw_header(header)}.{b64url_encode(b'{}')}.AAAA")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "....",
        "e30.e30",
        "!!!.e30.AAAA",
        "A.e30.AAAA",
        f"{b64url_encode(b'not json')}.e30.AAAA",
        f"{b64url_encode(b'[1]')}.e30.AAAA",
        f"{b64url_encode(bytes([0xFF, 0xFE, 0x00]))}.e30.AAAA",
        f"{raw_header({'alg': 'EdDSA', 'kid': 'k'})}.e30.A",
        "a" * (MAX_COMPACT_LENGTH + 1),
        "e30." + "a" * MAX_COMPACT_LENGTH + ".AAAA",
    ],
)
def test_malformed_compact_strings_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_compact(token)


@pytest.mark.parametrize("token", [None, 12, b"a.b.c"])
def test_non_string_tokens_are_invalid_argument(token: object) -> None:
    with pytest.raises(InvalidArgument):
        parse_compact(token)  # type: ignore[arg-type]


# regression: deeply nested JSON raised RecursionError and 5000-digit numbers ValueError
# before e0c2df2
@pytest.mark.parametrize("evil", [b"[" * 30_000, b"1" * 5_000])
def test_pathological_json_in_header_or_payload_is_invalid_argument(evil: bytes) -> None:
    with pytest.raises(InvalidArgument):
        parse_compact(f"{b64url_encode(evil)}.e30.AAAA")
    parsed = parse_compact(sign_compact(evil, KEY))
    with pytest.raises(InvalidArgument):
        parsed.payload()


@settings(deadline=None, max_examples=150)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_invalid_argument_only(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_compact(text)


@settings(deadline=None, max_examples=150)
@given(
    parts=st.lists(
        st.text(alphabet=B64URL_ALPHABET + "=+/!. ", max_size=40), min_size=1, max_size=5
    )
)
def test_arbitrary_dotted_base64ish_text_gives_invalid_argument_only(parts: list[str]) -> None:
    with pytest.raises(InvalidArgument):
        parse_compact(".".join(parts))


@settings(deadline=None, max_examples=100)
@given(header=json_values, payload=st.binary(max_size=40), sig=st.binary(max_size=80))
def test_well_encoded_but_arbitrary_parts_never_escape_the_error_tree(
    header: object, payload: bytes, sig: bytes
) -> None:
    token = ".".join(
        [b64url_encode(json.dumps(header).encode()), b64url_encode(payload), b64url_encode(sig)]
    )
    with pytest.raises(FederationError) as info:
        verify_compact(token, resolver(KEY))
    assert type(info.value) in (InvalidArgument, Unauthenticated)


# --- JWKs --------------------------------------------------------------------------------------


def test_thumbprint_matches_rfc_8037_example() -> None:
    assert Jwk.thumbprint(RFC8037_X) == RFC8037_THUMBPRINT
    private = Ed25519PrivateKey.from_private_bytes(b64url_decode(RFC8037_D))
    jwk = Jwk.from_public_key(private.public_key())
    assert jwk.x == RFC8037_X
    assert jwk.kid == RFC8037_THUMBPRINT
    assert SigningKey(private).kid == RFC8037_THUMBPRINT
    assert SigningKey(private).jwk.to_dict()["kid"] == RFC8037_THUMBPRINT


@settings(deadline=None, max_examples=50)
@given(st.binary(min_size=32, max_size=32))
def test_thumbprint_is_the_rfc_7638_construction(seed: bytes) -> None:
    jwk = SigningKey(Ed25519PrivateKey.from_private_bytes(seed)).jwk
    # RFC 7638 section 3: required members only, lexicographic order, no whitespace
    members = '{"crv":"Ed25519","kty":"OKP","x":"' + jwk.x + '"}'
    expected = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest())
    assert jwk.kid == expected.decode().rstrip("=")


def test_jwk_dict_round_trip_keeps_expiry_and_only_registered_use() -> None:
    jwk = Jwk.from_public_key(KEY.private.public_key(), not_after=1_800_000_000)
    data = jwk.to_dict()
    assert data["kty"] == "OKP" and data["crv"] == "Ed25519" and data["alg"] == "EdDSA"
    assert data["use"] == "sig"
    assert data["exp"] == 1_800_000_000
    assert Jwk.from_dict(data) == jwk
    assert "exp" not in KEY.jwk.to_dict()


def test_jwk_from_dict_without_kid_uses_the_thumbprint() -> None:
    data = {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}
    assert Jwk.from_dict(data).kid == RFC8037_THUMBPRINT


@pytest.mark.parametrize(
    "data",
    [
        {"kty": "EC", "crv": "P-384", "x": RFC8037_X, "y": RFC8037_X},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "X25519", "x": RFC8037_X},
        {"kty": "OKP", "crv": "Ed448", "x": RFC8037_X},
        {"crv": "Ed25519", "x": RFC8037_X},
        {},
    ],
)
def test_jwk_from_dict_rejects_non_okp_ed25519(data: dict[str, str]) -> None:
    with pytest.raises(InvalidArgument, match="OKP Ed25519"):
        Jwk.from_dict(data)


@pytest.mark.parametrize("x", [None, 5, "", "AAAA", b64url_encode(b"\x01" * 31), "a+b/"])
def test_jwk_from_dict_requires_a_32_byte_x(x: object) -> None:
    with pytest.raises(InvalidArgument):
        Jwk.from_dict({"kty": "OKP", "crv": "Ed25519", "x": x})


def test_jwk_public_key_verifies_what_the_signing_key_signs() -> None:
    signature = KEY.private.sign(b"message")
    Jwk.from_dict(KEY.jwk.to_dict()).public_key().verify(signature, b"message")


def test_signing_key_pem_round_trip_and_other_curves_refused() -> None:
    again = SigningKey.from_pem(KEY.to_pem())
    assert again.kid == KEY.kid
    p256 = SigningKey.generate("ES256")
    assert SigningKey.from_pem(p256.to_pem()).jwk == p256.jwk
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidArgument, match="P-256"):
        SigningKey.from_pem(p384)


# --- strict JSON ---------------------------------------------------------------------------------


@given(
    members=st.dictionaries(st.text(max_size=8), st.integers(), min_size=1, max_size=5),
    data=st.data(),
)
def test_strict_json_refuses_any_duplicate_member(members: dict[str, int], data: Any) -> None:
    name = data.draw(st.sampled_from(sorted(members)))
    body = json.dumps(members)[:-1] + f", {json.dumps(name)}: 0}}"
    with pytest.raises(InvalidArgument, match="duplicate JSON member"):
        strict_json(body)
    assert strict_json(json.dumps(members)) == members


def test_strict_json_refuses_duplicates_in_nested_objects_and_constants() -> None:
    with pytest.raises(InvalidArgument, match="duplicate JSON member 'b'"):
        strict_json('{"a": {"b": 1, "b": 2}}')
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(InvalidArgument, match="not allowed"):
            strict_json(f'{{"a": {constant}}}')


def test_a_jws_header_or_payload_with_duplicate_members_is_refused() -> None:
    key = SigningKey.generate()
    token = sign_compact(b'{"sub":"a","sub":"b"}', key)
    with pytest.raises(InvalidArgument, match="payload is not JSON: duplicate JSON member 'sub'"):
        parse_compact(token).payload()
    head = b64url_encode(f'{{"alg":"EdDSA","kid":"{key.kid}","alg":"none"}}'.encode())
    with pytest.raises(InvalidArgument, match="header is not JSON: duplicate JSON member 'alg'"):
        parse_compact(f"{head}.{token.split('.')[1]}.{token.split('.')[2]}")
