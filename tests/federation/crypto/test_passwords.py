"""Tests for scrypt password hashing, the PHC encoding and the password policy."""

from __future__ import annotations

import base64
import hashlib
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.crypto.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    parse_password_hash,
    verify_password,
)
from federation.errors import InvalidArgument

FAST = 10  # n_log2 for tests: 1 MiB of scrypt memory, about a millisecond


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def test_hash_format_and_verify() -> None:
    encoded = hash_password("correct horse battery", n_log2=FAST)
    assert encoded.startswith("$scrypt$ln=10,r=8,p=1$")
    parsed = parse_password_hash(encoded)
    assert (parsed.n_log2, parsed.r, parsed.p) == (10, 8, 1)
    assert len(parsed.salt) == 16 and len(parsed.digest) == 32
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)


def test_default_cost_is_2_pow_14() -> None:
    encoded = hash_password("correct horse battery")
    assert encoded.startswith("$scrypt$ln=14,r=8,p=1$")
    assert verify_password("correct horse battery", encoded)
    assert not needs_rehash(encoded)


def test_salts_differ() -> None:
    assert hash_password("same password", n_log2=FAST) != hash_password(
        "same password", n_log2=FAST
    )


def test_matches_hashlib_scrypt_directly() -> None:
    salt = bytes(range(16))
    digest = hashlib.scrypt(b"pleaseletmein", salt=salt, n=1024, r=8, p=1, dklen=32)
    encoded = f"$scrypt$ln=10,r=8,p=1${_b64(salt)}${_b64(digest)}"
    assert verify_password("pleaseletmein", encoded)


def test_unicode_normalisation() -> None:
    encoded = hash_password("caf\u00e9 au lait", n_log2=FAST)
    assert verify_password("cafe\u0301 au lait", encoded)


def test_needs_rehash() -> None:
    encoded = hash_password("correct horse battery", n_log2=FAST)
    assert needs_rehash(encoded, 14)
    assert not needs_rehash(encoded, FAST)
    assert needs_rehash(encoded, FAST, r=16)
    short_salt = f"$scrypt$ln=10,r=8,p=1${_b64(b'12345678')}${_b64(bytes(32))}"
    assert needs_rehash(short_salt, FAST)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plaintext",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=14,r=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=014,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=21,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=14,r=33,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=14,r=8,p=17$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=14,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ$aGFzaA",
        "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHR$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA$",
    ],
)
def test_malformed_encoded_is_invalid_argument(encoded: str) -> None:
    with pytest.raises(InvalidArgument, match=r"encoded password hash|scrypt"):
        verify_password("whatever", encoded)


def test_hash_rejects_bad_parameters() -> None:
    with pytest.raises(InvalidArgument, match="ln"):
        hash_password("correct horse battery", n_log2=4)
    with pytest.raises(InvalidArgument, match="ln"):
        hash_password("correct horse battery", n_log2=25)
    with pytest.raises(InvalidArgument, match="r must"):
        hash_password("correct horse battery", n_log2=FAST, r=0)
    with pytest.raises(InvalidArgument, match="must be a string"):
        hash_password(b"bytes", n_log2=FAST)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short1!", "too short"),
        ("x" * 1025, "too long"),
        ("1234567890", "only digits"),
        ("aaaaaaaaaa", "single character"),
        ("Password", "well-known"),
        ("tab\there!x", "control"),
        ("my330106199001010017pw", "own identifiers"),
    ],
)
def test_policy_refusals(password: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        check_password_policy(password, user_inputs=("330106199001010017",))


def test_policy_accepts_reasonable_passwords() -> None:
    check_password_policy("correct horse battery staple")
    check_password_policy("长江三角洲一网通办2024")
    check_password_policy("Zhang-San-1990!", user_inputs=("abc",))


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_hash_verify_round_trip(password: str, other: str) -> None:
    encoded = hash_password(password, n_log2=FAST)
    assert verify_password(password, encoded)
    if other != password:
        same = unicodedata.normalize("NFC", other) == unicodedata.normalize("NFC", password)
        assert verify_password(other, encoded) is same


@settings(deadline=None)
@given(st.text(max_size=120))
def test_parse_only_raises_invalid_argument(encoded: str) -> None:
    try:
        parse_password_hash(encoded)
    except InvalidArgument:
        return


@given(st.text(max_size=60))
def test_policy_only_raises_invalid_argument(password: str) -> None:
    try:
        check_password_policy(password)
    except InvalidArgument:
        return
    assert len(unicodedata.normalize("NFC", password)) >= 8
