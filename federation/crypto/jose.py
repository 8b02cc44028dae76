"""Compact JWS with EdDSA (Ed25519, RFC 8037) and OKP JSON Web Keys, on `cryptography` alone."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from federation.errors import InvalidArgument, Unauthenticated

MAX_COMPACT_LENGTH = 64 * 1024


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: any character outside the alphabet is refused."""
    if not isinstance(text, str) or not _B64URL.match(text) or len(text) % 4 == 1:
        raise InvalidArgument("not base64url text")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgument(f"not base64url text: {exc}") from None
    if b64url_encode(raw) != text:  # unused trailing bits set: not the canonical encoding
        raise InvalidArgument("not canonical base64url text")
    return raw


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 (for hashing and signing)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse duplicate object members: parsers disagree on which one wins (RFC 7515 s. 5.2)."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise InvalidArgument(f"duplicate JSON member {name!r}")
        out[name] = value
    return out


def _no_constant(name: str) -> Any:
    raise InvalidArgument(f"JSON constant {name} is not allowed")


def strict_json(data: bytes | str) -> Any:
    """Parse JSON refusing duplicate members and NaN/Infinity; InvalidArgument when malformed."""
    try:
        return json.loads(data, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    except InvalidArgument as exc:
        raise InvalidArgument(f"not JSON: {exc.message}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidArgument(f"not JSON: {exc}") from None


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@functools.lru_cache(maxsize=1024)
def _public_key(x: str) -> Ed25519PublicKey:
    """Decoded keys are immutable: decode each trust-list key once, not per signature."""
    return Ed25519PublicKey.from_public_bytes(b64url_decode(x))


@dataclass(frozen=True)
class Jwk:
    """An Ed25519 public key as an OKP JWK with its RFC 7638 thumbprint as `kid`."""

    kid: str
    x: str
    use: str = "sig"
    not_after: int | None = None

    @staticmethod
    def thumbprint(x: str) -> str:
        required = {"crv": "Ed25519", "kty": "OKP", "x": x}
        return b64url_encode(hashlib.sha256(canonical_json(required)).digest())

    @classmethod
    def from_public_key(
        cls, key: Ed25519PublicKey, use: str = "sig", not_after: int | None = None
    ) -> Jwk:
        x = b64url_encode(raw_public(key))
        return cls(kid=cls.thumbprint(x), x=x, use=use, not_after=not_after)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Jwk:
        if data.get("kty") != "OKP" or data.get("crv") != "Ed25519":
            raise InvalidArgument("only OKP Ed25519 keys are accepted")
        x = data.get("x")
        if not isinstance(x, str) or len(b64url_decode(x)) != 32:
            raise InvalidArgument("JWK 'x' must be a 32-byte base64url Ed25519 key")
        kid = data.get("kid") or cls.thumbprint(x)
        not_after = data.get("exp")
        return cls(
            kid=str(kid),
            x=x,
            use=str(data.get("use", "sig")),
            not_after=int(not_after) if not_after is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x,
            "kid": self.kid,
            "use": self.use,
            "alg": "EdDSA",
        }
        if self.not_after is not None:
            out["exp"] = self.not_after
        return out

    def public_key(self) -> Ed25519PublicKey:
        return _public_key(self.x)


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key with its `kid`."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def jwk(self) -> Jwk:
        return Jwk.from_public_key(self.private.public_key())

    @property
    def kid(self) -> str:
        return self.jwk.kid

    def to_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidArgument("signing key must be Ed25519")
        return cls(key)


def sign_compact(
    payload: Mapping[str, Any] | bytes,
    key: SigningKey,
    typ: str = "JWT",
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """Sign a JSON payload (or raw bytes) as a compact JWS `header.payload.signature`."""
    header: dict[str, Any] = {"alg": "EdDSA", "kid": key.kid, "typ": typ}
    if extra_header:
        header.update(extra_header)
    body = payload if isinstance(payload, bytes) else canonical_json(payload)
    signing_input = f"{b64url_encode(canonical_json(header))}.{b64url_encode(body)}"
    signature = key.private.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


@dataclass(frozen=True)
class ParsedJws:
    """A compact JWS split into its parts, not yet verified."""

    header: dict[str, Any]
    payload_bytes: bytes
    signing_input: bytes
    signature: bytes

    def payload(self) -> dict[str, Any]:
        try:
            value = strict_json(self.payload_bytes)
        except InvalidArgument as exc:
            raise InvalidArgument(f"JWS payload is {exc.message}") from None
        if not isinstance(value, dict):
            raise InvalidArgument("JWS payload must be a JSON object")
        return value


def parse_compact(token: str) -> ParsedJws:
    """Split and decode a compact JWS; raises InvalidArgument when malformed."""
    if not isinstance(token, str) or not token:
        raise InvalidArgument("empty token")
    if len(token) > MAX_COMPACT_LENGTH:
        raise InvalidArgument(f"token longer than {MAX_COMPACT_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidArgument("a compact JWS has exactly three dot-separated parts")
    try:
        header = strict_json(b64url_decode(parts[0]))
    except InvalidArgument as exc:
        raise InvalidArgument(f"JWS header is {exc.message}") from None
    if not isinstance(header, dict):
        raise InvalidArgument("JWS header must be a JSON object")
    if header.get("alg") != "EdDSA":
        raise Unauthenticated(f"JWS algorithm {header.get('alg')!r} refused; only EdDSA")
    if not isinstance(header.get("kid"), str):
        raise InvalidArgument("JWS header has no 'kid'")
    if "crit" in header:
        raise InvalidArgument("JWS 'crit' header parameters are not supported")
    return ParsedJws(
        header=header,
        payload_bytes=b64url_decode(parts[1]),
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=b64url_decode(parts[2]),
    )


KeyResolver = Callable[[str], Jwk]


def verify_compact(token: str, resolve: KeyResolver) -> ParsedJws:
    """Parse and verify a compact JWS; `resolve(kid)` returns the trusted key or raises."""
    parsed = parse_compact(token)
    jwk = resolve(parsed.header["kid"])
    try:
        jwk.public_key().verify(parsed.signature, parsed.signing_input)
    except InvalidSignature:
        raise Unauthenticated(
            f"signature does not verify with key {jwk.kid} (forged or altered)"
        ) from None
    return parsed
