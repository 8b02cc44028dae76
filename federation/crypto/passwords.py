"""Memory-hard password hashing (scrypt, PHC string format) and the minimum password policy."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from federation.errors import InvalidArgument

DEFAULT_N_LOG2 = 14
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32

# Bounds on parameters read back from storage, so a tampered record cannot make one
# verification allocate gigabytes or spin for minutes.
_MAX_N_LOG2 = 20
_MIN_HASH_N_LOG2 = 10  # hashing below this is too weak even for tests' sake
_MAX_R = 32
_MAX_P = 16

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_ENCODED = re.compile(
    r"\$scrypt\$ln=(?P<ln>[1-9][0-9]?),r=(?P<r>[1-9][0-9]?),p=(?P<p>[1-9][0-9]?)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)


@dataclass(frozen=True)
class ScryptHash:
    """A parsed ``$scrypt$`` PHC string."""

    n_log2: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"encoded password hash: {what} is not valid base64") from None
    if _b64encode(data) != text:
        raise InvalidArgument(f"encoded password hash: {what} is not canonical unpadded base64")
    return data


def _password_bytes(password: str) -> bytes:
    if not isinstance(password, str):
        raise InvalidArgument(f"password must be a string, got {type(password).__name__}")
    # NFC so that the same visible password typed on different keyboards hashes the same.
    return unicodedata.normalize("NFC", password).encode("utf-8", "surrogatepass")


def _check_params(n_log2: int, r: int, p: int, *, lowest: int) -> None:
    if not lowest <= n_log2 <= _MAX_N_LOG2:
        raise InvalidArgument(
            f"scrypt ln (log2 of N) must be in {lowest}..{_MAX_N_LOG2}, got {n_log2}"
        )
    if not 1 <= r <= _MAX_R:
        raise InvalidArgument(f"scrypt r must be in 1..{_MAX_R}, got {r}")
    if not 1 <= p <= _MAX_P:
        raise InvalidArgument(f"scrypt p must be in 1..{_MAX_P}, got {p}")


def _scrypt(password: bytes, salt: bytes, n_log2: int, r: int, p: int, length: int) -> bytes:
    n = 1 << n_log2
    maxmem = 2 * 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length)


def parse_password_hash(encoded: str) -> ScryptHash:
    """Parse ``$scrypt$ln=..,r=..,p=..$<salt>$<hash>``; malformed input raises InvalidArgument."""
    if not isinstance(encoded, str):
        raise InvalidArgument(
            f"encoded password hash must be a string, got {type(encoded).__name__}"
        )
    match = _ENCODED.fullmatch(encoded)
    if match is None:
        raise InvalidArgument(
            "encoded password hash must look like "
            "'$scrypt$ln=14,r=8,p=1$<base64 salt>$<base64 hash>'"
        )
    n_log2, r, p = int(match["ln"]), int(match["r"]), int(match["p"])
    _check_params(n_log2, r, p, lowest=1)
    salt = _b64decode(match["salt"], "salt")
    digest = _b64decode(match["hash"], "hash")
    if len(salt) < 8:
        raise InvalidArgument(
            f"encoded password hash: salt must be at least 8 bytes, got {len(salt)}"
        )
    if not 16 <= len(digest) <= 64:
        raise InvalidArgument(
            f"encoded password hash: hash must be 16..64 bytes, got {len(digest)}"
        )
    return ScryptHash(n_log2=n_log2, r=r, p=p, salt=salt, digest=digest)


def hash_password(
    password: str, *, n_log2: int = DEFAULT_N_LOG2, r: int = DEFAULT_R, p: int = DEFAULT_P
) -> str:
    """Hash a password with scrypt and a fresh random salt; return the PHC string."""
    _check_params(n_log2, r, p, lowest=_MIN_HASH_N_LOG2)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(_password_bytes(password), salt, n_log2, r, p, HASH_BYTES)
    return f"$scrypt$ln={n_log2},r={r},p={p}${_b64encode(salt)}${_b64encode(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Tell whether ``password`` matches ``encoded`` (constant-time compare)."""
    parsed = parse_password_hash(encoded)
    candidate = _scrypt(
        _password_bytes(password),
        parsed.salt,
        parsed.n_log2,
        parsed.r,
        parsed.p,
        len(parsed.digest),
    )
    return hmac.compare_digest(candidate, parsed.digest)


def needs_rehash(
    encoded: str, n_log2: int = DEFAULT_N_LOG2, *, r: int = DEFAULT_R, p: int = DEFAULT_P
) -> bool:
    """Tell whether ``encoded`` was made with other parameters than the current ones."""
    parsed = parse_password_hash(encoded)
    return (
        (parsed.n_log2, parsed.r, parsed.p) != (n_log2, r, p)
        or len(parsed.salt) < SALT_BYTES
        or len(parsed.digest) < HASH_BYTES
    )


_COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "passw0rd",
        "qwertyui",
        "qwerty123",
        "qwertyuiop",
        "iloveyou",
        "admin123",
        "administrator",
        "abc12345",
        "abcd1234",
        "1qaz2wsx",
        "asdfghjk",
        "zxcvbnm1",
        "letmein1",
        "welcome1",
        "woaini1314",
    }
)


def check_password_policy(password: str, *, user_inputs: Sequence[str] = ()) -> None:
    """Raise InvalidArgument unless ``password`` meets the minimum policy.

    At least 8 and at most 1024 characters, not only digits, not one repeated character,
    no control characters, not a well-known password, and not containing any of
    ``user_inputs`` (the account's citizen id, phone number, name) of 4+ characters.
    """
    if not isinstance(password, str):
        raise InvalidArgument(f"password must be a string, got {type(password).__name__}")
    text = unicodedata.normalize("NFC", password)
    if len(text) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(
            f"password is too short: use at least {MIN_PASSWORD_LENGTH} characters, got {len(text)}"
        )
    if len(text) > MAX_PASSWORD_LENGTH:
        raise InvalidArgument(
            f"password is too long: use at most {MAX_PASSWORD_LENGTH} characters, got {len(text)}"
        )
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise InvalidArgument("password must not contain control or unassigned characters")
    if text.isdigit():
        raise InvalidArgument("password must not be only digits: add letters or symbols")
    if len(set(text)) == 1:
        raise InvalidArgument("password must not repeat a single character: use a passphrase")
    if text.casefold() in _COMMON_PASSWORDS:
        raise InvalidArgument("password is a well-known password: choose another one")
    folded = text.casefold()
    for value in user_inputs:
        if len(value) >= 4 and value.casefold() in folded:
            raise InvalidArgument(
                "password must not contain your own identifiers (id number, phone, name)"
            )


__all__ = [
    "DEFAULT_N_LOG2",
    "DEFAULT_P",
    "DEFAULT_R",
    "HASH_BYTES",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "SALT_BYTES",
    "ScryptHash",
    "check_password_policy",
    "hash_password",
    "needs_rehash",
    "parse_password_hash",
    "verify_password",
]
