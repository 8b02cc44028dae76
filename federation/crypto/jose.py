"""Compact JWS with EdDSA (Ed25519), ES256 (P-256) or SM2SM3 (SM2 with SM3) and their JWKs.

EdDSA and ES256 run on `cryptography`; SM2SM3, the national suite (no JOSE registration: see
`federation.crypto.sm2` for its alg name, JWK form and distinguishing identifier), on Tongsuo.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from nacl.bindings import crypto_sign_BYTES, crypto_sign_open
from nacl.exceptions import BadSignatureError

from federation.crypto import sm2
from federation.errors import InvalidArgument, Unauthenticated
from federation.jsontext import canonical_object, strict_json

MAX_COMPACT_LENGTH = 64 * 1024
_STANDARD_TO_URL = bytes.maketrans(b"+/", b"-_")


def b64url_encode(data: bytes) -> str:
    # binascii directly: base64.urlsafe_b64encode is two Python calls around the same two steps
    encoded = binascii.b2a_base64(data, newline=False)
    return encoded.translate(_STANDARD_TO_URL).rstrip(b"=").decode("ascii")


_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# the last character of a 2- or 3-character final group carries 4 or 2 unused bits, which the
# canonical encoding leaves zero: the characters whose value has those low bits clear
_CANONICAL_LAST = {
    2: frozenset(c for i, c in enumerate(_B64URL_ALPHABET) if i & 0x0F == 0),
    3: frozenset(c for i, c in enumerate(_B64URL_ALPHABET) if i & 0x03 == 0),
}
# base64url -> standard base64 for binascii's strict decoder; the standard alphabet's own "+"
# and "/", and any "=", become "!", which that decoder refuses like every other stranger
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: any character outside the alphabet is refused.

    Decoded by binascii in strict mode (every token's payload and signature pass here): it
    refuses whitespace, padding and any byte outside the (translated) alphabet, and the
    padding is added here to exactly the length the text needs.
    """
    if not isinstance(text, str) or len(text) % 4 == 1:
        raise InvalidArgument("not base64url text")
    tail = len(text) % 4
    try:
        data = binascii.a2b_base64(
            text.encode("ascii").translate(_TO_STANDARD) + _PADDING[tail], strict_mode=True
        )
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidArgument(f"not base64url text: {exc}") from None
    if tail and text[-1] not in _CANONICAL_LAST[tail]:  # unused trailing bits set
        raise InvalidArgument("not canonical base64url text")
    return data


# json.dumps with options builds an encoder per call; this is the one it builds (stateless)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 (for hashing and signing)."""
    return _CANONICAL.encode(value).encode()


def canonical_text(value: Any) -> str:
    """`canonical_json` before its UTF-8 encoding (to embed in a larger canonical text)."""
    return _CANONICAL.encode(value)


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


ALGORITHMS: dict[str, tuple[str, str]] = {
    "EdDSA": ("OKP", "Ed25519"),
    "ES256": ("EC", "P-256"),
    sm2.ALG: (sm2.KTY, sm2.CRV),
}
"""JWS `alg` -> the (kty, crv) of the only key type that may verify it (no algorithm choice)."""
EDDSA_ONLY = frozenset({"EdDSA"})
SUITES: dict[str, str] = {"ed25519": "EdDSA", "sm2": sm2.ALG}
"""Signing suites a federation member (hub, region) may choose -> the JWS `alg` its keys sign."""
MEMBER_ALGS = frozenset(SUITES.values())
"""What members sign with (tokens, trust lists, status lists, seals): EdDSA and SM2SM3.

Every member verifies both; which one applies to a JWS is the key's to say (`verify_parsed`).
"""
SIGNATURE_ALGS = frozenset(ALGORITHMS)
_ALG_OF_CURVE = {crv: alg for alg, (_, crv) in ALGORITHMS.items()}
_P256_BYTES = 32
_KEY_OPS = frozenset({"sign", "verify"})


@functools.lru_cache(maxsize=1024)
def _public_key(x: str) -> Ed25519PublicKey:
    """Decoded keys are immutable: decode each trust-list key once, not per signature."""
    return Ed25519PublicKey.from_public_bytes(b64url_decode(x))


@functools.lru_cache(maxsize=1024)
def _ed25519_raw(x: str) -> bytes:
    """The 32 raw bytes of an Ed25519 key, decoded and checked by `cryptography` once."""
    return raw_public(_public_key(x))


def _verify_ed25519(x: str, signature: bytes, data: bytes) -> None:
    """RFC 8032 verification by libsodium: about half the CPU of OpenSSL's on this path (every
    VerifyToken pays one), and at least as strict (non-canonical S, small-order keys and R are
    refused). InvalidSignature, as from `cryptography`, when it does not hold."""
    if len(signature) != crypto_sign_BYTES:
        raise InvalidSignature("an EdDSA signature is 64 bytes")
    try:
        crypto_sign_open(signature + data, _ed25519_raw(x))
    except BadSignatureError:
        raise InvalidSignature("EdDSA signature does not verify") from None


@functools.lru_cache(maxsize=1024)
def _p256_key(x: str, y: str) -> ec.EllipticCurvePublicKey:
    """A P-256 point; ValueError unless both coordinates are 32 bytes and on the curve."""
    xb, yb = b64url_decode(x), b64url_decode(y)
    if len(xb) != _P256_BYTES or len(yb) != _P256_BYTES:
        raise ValueError("P-256 coordinates are 32 bytes each")
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(xb, "big"), int.from_bytes(yb, "big"), ec.SECP256R1()
    )
    return numbers.public_key()


@functools.lru_cache(maxsize=1024)
def _sm2_point(x: str, y: str) -> tuple[int, int]:
    """An SM2 point as integers; ValueError unless both are 32 bytes and on sm2p256v1."""
    xb, yb = b64url_decode(x), b64url_decode(y)
    if len(xb) != sm2.COORDINATE_BYTES or len(yb) != sm2.COORDINATE_BYTES:
        raise ValueError("SM2 coordinates are 32 bytes each")
    point = int.from_bytes(xb, "big"), int.from_bytes(yb, "big")
    sm2.public_key(*point)  # on the curve, or ValueError
    return point


def _coordinate(value: int) -> str:
    return b64url_encode(value.to_bytes(_P256_BYTES, "big"))


def _refuse_member(data: Mapping[str, Any], alg: str) -> None:
    """Only registered values: `use` sig, `key_ops` with verify, `alg` of this key type."""
    if "d" in data:
        raise InvalidArgument("a public JWK must not hold private key material ('d')")
    use = data.get("use", "sig")
    if use != "sig":
        raise InvalidArgument(f"JWK 'use' must be 'sig' (a signature key), not {use!r}")
    ops = data.get("key_ops", ["verify"])
    if (
        not isinstance(ops, list)
        or not all(isinstance(op, str) for op in ops)
        or "verify" not in ops
        or not set(ops) <= _KEY_OPS
    ):
        raise InvalidArgument("JWK 'key_ops' must be a list holding 'verify' (and 'sign')")
    if data.get("alg", alg) != alg:
        raise InvalidArgument(f"JWK 'alg' {data.get('alg')!r} does not fit a {alg} key")


@dataclass(frozen=True)
class Jwk:
    """A public signature key (OKP Ed25519, EC P-256 or EC SM2) with its RFC 7638 thumbprint.

    The JWK holds registered members only (`use` is always `sig`); what a key is for in the
    federation (token signing, seal certification) is said where the key is listed.
    """

    kid: str
    x: str
    not_after: int | None = None
    crv: str = "Ed25519"
    y: str = ""

    @property
    def alg(self) -> str:
        """The one JWS algorithm this key verifies: EdDSA, ES256 (P-256) or SM2SM3 (SM2)."""
        return _ALG_OF_CURVE[self.crv]

    @property
    def kty(self) -> str:
        return ALGORITHMS[self.alg][0]

    def required_members(self) -> dict[str, str]:
        """The RFC 7638 members: what a thumbprint is taken over and what `cnf` carries."""
        out = {"crv": self.crv, "kty": self.kty, "x": self.x}
        if self.y:
            out["y"] = self.y
        return out

    @property
    def jkt(self) -> str:
        """The RFC 7638 SHA-256 thumbprint, whatever `kid` the key was given."""
        return b64url_encode(hashlib.sha256(canonical_json(self.required_members())).digest())

    @staticmethod
    def thumbprint(x: str, crv: str = "Ed25519", y: str = "") -> str:
        return Jwk(kid="", x=x, crv=crv, y=y).jkt

    @classmethod
    def from_public_key(
        cls,
        key: Ed25519PublicKey | ec.EllipticCurvePublicKey | tuple[int, int],
        not_after: int | None = None,
    ) -> Jwk:
        """From a `cryptography` public key, or an SM2 point given as its (x, y) integers."""
        if isinstance(key, tuple):
            x, y, crv = _coordinate(key[0]), _coordinate(key[1]), sm2.CRV
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1):
                raise InvalidArgument("only P-256 elliptic-curve keys are accepted")
            numbers = key.public_numbers()
            x, y, crv = _coordinate(numbers.x), _coordinate(numbers.y), "P-256"
        else:
            x, y, crv = b64url_encode(raw_public(key)), "", "Ed25519"
        return cls(kid=cls.thumbprint(x, crv, y), x=x, not_after=not_after, crv=crv, y=y)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Jwk:
        kty, crv = data.get("kty"), data.get("crv")
        if (kty, crv) not in ALGORITHMS.values():
            raise InvalidArgument("only OKP Ed25519, EC P-256 and EC SM2 keys are accepted")
        alg = _ALG_OF_CURVE[str(crv)]
        _refuse_member(data, alg)
        x, y = data.get("x"), data.get("y", "")
        if not isinstance(x, str) or not isinstance(y, str):
            raise InvalidArgument("JWK 'x' and 'y' must be base64url strings")
        if alg == "EdDSA":
            if y or len(b64url_decode(x)) != 32:
                raise InvalidArgument("JWK 'x' must be a 32-byte base64url Ed25519 key")
        else:
            try:
                _p256_key(x, y) if alg == "ES256" else _sm2_point(x, y)
            except (ValueError, InvalidArgument):
                raise InvalidArgument(f"JWK 'x', 'y' are not a point on {crv}") from None
        kid = data.get("kid")
        if kid is not None and (not isinstance(kid, str) or not kid):
            raise InvalidArgument("JWK 'kid' must be a non-empty string")
        not_after = data.get("exp")
        if not_after is not None and type(not_after) is not int:
            raise InvalidArgument("JWK 'exp' must be an integer time")
        return cls(
            kid=kid or cls.thumbprint(x, str(crv), y),
            x=x,
            not_after=not_after,
            crv=str(crv),
            y=y,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.required_members(), "kid": self.kid}
        out.update(use="sig", alg=self.alg)
        if self.not_after is not None:
            out["exp"] = self.not_after
        return out

    def public_key(self) -> Ed25519PublicKey:
        """The Ed25519 key (federation member keys); `verify_signature` serves every key type."""
        if self.alg != "EdDSA":
            raise Unauthenticated(f"key {self.kid} is a {self.alg} key, not Ed25519")
        return _public_key(self.x)

    def verify_signature(self, signature: bytes, data: bytes) -> None:
        """Check a JWS signature made with this key's algorithm; InvalidSignature if it fails."""
        if self.alg == "EdDSA":
            _verify_ed25519(self.x, signature, data)
            return
        if self.alg == sm2.ALG:
            sm2.verify(*_sm2_point(self.x, self.y), signature, data)
            return
        if len(signature) != 2 * _P256_BYTES:
            raise InvalidSignature("an ES256 signature is 64 bytes (R || S)")
        r = int.from_bytes(signature[:_P256_BYTES], "big")
        s = int.from_bytes(signature[_P256_BYTES:], "big")
        der = encode_dss_signature(r, s)
        _p256_key(self.x, self.y).verify(der, data, ec.ECDSA(hashes.SHA256()))


PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey | sm2.Sm2PrivateKey


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 (EdDSA), P-256 (ES256) or SM2 (SM2SM3) key with its `kid`."""

    private: PrivateKey

    def __post_init__(self) -> None:
        if isinstance(self.private, ec.EllipticCurvePrivateKey) and not isinstance(
            self.private.curve, ec.SECP256R1
        ):
            raise InvalidArgument("elliptic-curve signing keys must be P-256")

    @classmethod
    def generate(cls, alg: str = "EdDSA") -> SigningKey:
        if alg == "EdDSA":
            return cls(Ed25519PrivateKey.generate())
        if alg == "ES256":
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if alg == sm2.ALG:
            return cls(sm2.Sm2PrivateKey.generate())
        raise InvalidArgument(f"unknown signing algorithm {alg!r}; use EdDSA, ES256 or {sm2.ALG}")

    @classmethod
    def for_suite(cls, suite: str) -> SigningKey:
        """A new member key of a suite in `SUITES` (ed25519, sm2)."""
        if suite not in SUITES:
            raise InvalidArgument(f"unknown signing suite {suite!r}; use {' or '.join(SUITES)}")
        return cls.generate(SUITES[suite])

    @property
    def alg(self) -> str:
        if isinstance(self.private, sm2.Sm2PrivateKey):
            return sm2.ALG
        return "ES256" if isinstance(self.private, ec.EllipticCurvePrivateKey) else "EdDSA"

    @property
    def jwk(self) -> Jwk:
        if isinstance(self.private, sm2.Sm2PrivateKey):
            return Jwk.from_public_key(self.private.public_numbers())
        return Jwk.from_public_key(self.private.public_key())

    @property
    def kid(self) -> str:
        return self.jwk.kid

    def sign(self, data: bytes) -> bytes:
        """A JWS signature: Ed25519's 64 bytes, or ES256's / SM2SM3's fixed-width R || S."""
        if isinstance(self.private, sm2.Sm2PrivateKey):
            return self.private.sign(data)
        if isinstance(self.private, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
        return self.private.sign(data)

    def to_pem(self) -> bytes:
        if isinstance(self.private, sm2.Sm2PrivateKey):
            return self.private.to_pem()
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except UnsupportedAlgorithm:  # `cryptography` has no SM2 curve: Tongsuo reads it
            try:
                return cls(sm2.Sm2PrivateKey.from_pem(pem))
            except ValueError:
                raise InvalidArgument("signing key must be Ed25519, P-256 or SM2") from None
        except (ValueError, TypeError) as exc:
            raise InvalidArgument(
                f"signing key must be an unencrypted PKCS#8 PEM Ed25519, P-256 or SM2 key: {exc}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise InvalidArgument("signing key must be Ed25519, P-256 or SM2")
        return cls(key)


def sign_compact(
    payload: Mapping[str, Any] | bytes,
    key: SigningKey,
    typ: str = "JWT",
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """Sign a JSON payload (or raw bytes) as a compact JWS `header.payload.signature`."""
    header: dict[str, Any] = {"alg": key.alg, "kid": key.kid, "typ": typ}
    if extra_header:
        header.update(extra_header)
    body = payload if isinstance(payload, bytes) else canonical_json(payload)
    signing_input = f"{b64url_encode(canonical_json(header))}.{b64url_encode(body)}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


@dataclass(frozen=True)
class ParsedJws:
    """A compact JWS split into its parts, not yet verified."""

    header: dict[str, Any]
    payload_bytes: bytes
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    def payload(self) -> dict[str, Any]:
        canonical = canonical_object(self.payload_bytes)  # what the federation signs
        if canonical is not None:
            return canonical
        try:
            value = strict_json(self.payload_bytes)
        except InvalidArgument as exc:
            raise InvalidArgument(f"JWS payload is {exc.message}") from None
        if not isinstance(value, dict):
            raise InvalidArgument("JWS payload must be a JSON object")
        return value


MAX_CACHED_HEADER = 4096
"""Longer protected headers are decoded every time, not kept (a seal's carries a certificate)."""


@functools.lru_cache(maxsize=256)
def _decoded_header(segment: str) -> dict[str, Any]:
    """A protected header segment decoded once: every token of one key shares the same one."""
    try:
        header = strict_json(b64url_decode(segment))
    except InvalidArgument as exc:
        raise InvalidArgument(f"JWS header is {exc.message}") from None
    if not isinstance(header, dict):
        raise InvalidArgument("JWS header must be a JSON object")
    return header


def _header(segment: str) -> dict[str, Any]:
    """The decoded header, a copy of the cached one (callers may keep or change theirs)."""
    if len(segment) > MAX_CACHED_HEADER:
        return _decoded_header.__wrapped__(segment)
    return dict(_decoded_header(segment))


def parse_compact(
    token: str, algs: frozenset[str] = MEMBER_ALGS, require_kid: bool = True
) -> ParsedJws:
    """Split and decode a compact JWS; raises InvalidArgument when malformed.

    Only the algorithms in `algs` pass (the members' EdDSA and SM2SM3 unless a caller accepts
    ES256 too); the key then decides which one verifies (`verify_parsed`); `none`,
    HMAC and anything else are refused before any key is looked at. A `kid`, when present, is
    a string; `require_kid=False` serves JWTs whose key comes from elsewhere (a KB-JWT's `cnf`).
    """
    if not isinstance(token, str) or not token:
        raise InvalidArgument("empty token")
    if len(token) > MAX_COMPACT_LENGTH:
        raise InvalidArgument(f"token longer than {MAX_COMPACT_LENGTH} characters")
    # the two dots found by memchr (a sealed licence's JWS is ~3.5 KB): split's char loop
    # walks every character
    first = token.find(".")
    second = token.find(".", first + 1) if first >= 0 else -1
    if second < 0 or token.find(".", second + 1) >= 0:
        raise InvalidArgument("a compact JWS has exactly three dot-separated parts")
    header = _header(token[:first])
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algs:
        accepted = " or ".join(sorted(algs))
        raise Unauthenticated(f"JWS algorithm {alg!r} refused; only {accepted}")
    if "kid" in header and not isinstance(header["kid"], str):
        raise InvalidArgument("JWS header 'kid' must be a string")
    if require_kid and "kid" not in header:
        raise InvalidArgument("JWS header has no 'kid'")
    if "crit" in header:
        raise InvalidArgument("JWS 'crit' header parameters are not supported")
    return ParsedJws(
        header=header,
        payload_bytes=b64url_decode(token[first + 1 : second]),
        signing_input=token[:second].encode("ascii"),
        signature=b64url_decode(token[second + 1 :]),
    )


KeyResolver = Callable[[str], Jwk]


def verify_parsed(parsed: ParsedJws, jwk: Jwk, what: str = "JWS") -> None:
    """Verify with the algorithm the key declares; a header naming another one is refused."""
    if parsed.alg != jwk.alg:
        raise Unauthenticated(
            f"{what} says alg {parsed.alg!r} but key {jwk.kid} is an {jwk.alg} key "
            "(algorithm confusion refused)"
        )
    try:
        jwk.verify_signature(parsed.signature, parsed.signing_input)
    except InvalidSignature:
        raise Unauthenticated(
            f"{what} signature does not verify with key {jwk.kid} (forged or altered)"
        ) from None


def verify_compact(
    token: str, resolve: KeyResolver, algs: frozenset[str] = MEMBER_ALGS
) -> ParsedJws:
    """Parse and verify a compact JWS; `resolve(kid)` returns the trusted key or raises."""
    parsed = parse_compact(token, algs)
    verify_parsed(parsed, resolve(parsed.header["kid"]))
    return parsed
