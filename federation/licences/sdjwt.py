"""SD-JWT mechanics (RFC 9901): salted disclosures, their digests, and the `~` serialization."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import orjson

from federation.crypto.jose import b64url_decode, b64url_encode
from federation.errors import InvalidArgument, Unauthenticated
from federation.licences.types import FieldValue

SD_ALG = "sha-256"
SD_JWT_TYP = "dc+sd-jwt"
ACCEPTED_SD_JWT_TYPS = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
KB_JWT_TYP = "kb+jwt"
MAX_SD_JWT_LENGTH = 64 * 1024
MAX_DISCLOSURES = 64
_SALT_BYTES = 16  # 128 bits, as RFC 9901 recommends
# json.loads(text) with no options is this decoder's decode after a type check: called
# directly, a licence's ten disclosures skip that wrapper
_DECODER = json.JSONDecoder()
_DECODE_JSON = _DECODER.decode
# what decode runs between its two whitespace matches (typeshed does not list the attribute)
_SCAN_JSON: Callable[[str, int], tuple[object, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_SHA256 = hashlib.sha256
_NEW = object.__new__


def _decode_disclosure_json(text: str) -> object:
    """json.loads(text), the common case without the two Python frames around the scanner:
    text that is one JSON value from first to last character. Anything else (surrounding
    whitespace, trailing data, malformed) is left to json.loads's own decode, which accepts or
    refuses it exactly as before."""
    try:
        value, end = _SCAN_JSON(text, 0)
    except StopIteration:
        return _DECODE_JSON(text)
    if end != len(text):
        return _DECODE_JSON(text)
    return value


_LOADS = orjson.loads
JSONDecodeError = json.JSONDecodeError  # orjson's is a subclass
# the claim types orjson reads exactly as json does (an integer beyond 64 bits is a float)
_ORJSON_CLAIMS = frozenset({str, int, bool})


def _json_disclosure(raw: bytes) -> list[object]:
    """A decoded disclosure as the json module reads it: [salt, name, value] or a refusal."""
    try:
        value = _decode_disclosure_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidArgument("a disclosure is not base64url-encoded JSON") from None
    if not isinstance(value, list) or len(value) != 3:
        raise InvalidArgument("a disclosure must be a JSON array [salt, claim name, value]")
    return value


def new_salt() -> str:
    return b64url_encode(secrets.token_bytes(_SALT_BYTES))


def sd_digest(text: str) -> str:
    """base64url(SHA-256(text)): a disclosure digest, or the `sd_hash` of a presentation."""
    return b64url_encode(hashlib.sha256(text.encode("utf-8")).digest())  # ASCII when well-formed


@dataclass(frozen=True)
class Disclosure:
    """One salted claim `[salt, name, value]` and its base64url encoding as sealed."""

    salt: str
    name: str
    value: FieldValue
    encoded: str

    @classmethod
    def create(cls, name: str, value: FieldValue, salt: str | None = None) -> Disclosure:
        salt = salt if salt is not None else new_salt()
        text = json.dumps([salt, name, value], ensure_ascii=False, separators=(",", ":"))
        return cls(salt, name, value, b64url_encode(text.encode("utf-8")))

    @classmethod
    def parse(cls, encoded: str) -> Disclosure:
        """Decode a disclosure; InvalidArgument unless it is `[salt, name, scalar]`."""
        raw = b64url_decode(encoded)
        try:
            value = _LOADS(raw)  # orjson, C: strict RFC 8259
        except JSONDecodeError:
            value = None
        if type(value) is not list or len(value) != 3 or type(value[2]) not in _ORJSON_CLAIMS:
            # anything else is decided by the json module as before: what orjson refuses or
            # reads differently (NaN, integers beyond 64 bits it reads as floats, surrogates)
            value = _json_disclosure(raw)
        salt, name, claim = value
        if not isinstance(salt, str) or len(salt) < 16:
            raise InvalidArgument("a disclosure salt must be a string of >= 16 characters")
        if not isinstance(name, str) or not name or name in ("_sd", "...", "_sd_alg"):
            raise InvalidArgument(f"a disclosure claim name is invalid: {name!r}")
        if not isinstance(claim, (str, int, bool)):  # a tuple: faster than a union
            raise InvalidArgument(f"disclosed claim {name!r} must be a string, integer or boolean")
        # what the frozen dataclass's __init__ does (no __post_init__, no slots) in one dict
        # update instead of four object.__setattr__ calls: ten of these per licence verified
        disclosure = _NEW(cls)
        disclosure.__dict__.update(salt=salt, name=name, value=claim, encoded=encoded)
        return disclosure

    @property
    def digest(self) -> str:
        return sd_digest(self.encoded)


@dataclass(frozen=True)
class SdJwtParts:
    """A `~`-separated SD-JWT split into issuer JWT, disclosures and optional key-binding JWT."""

    issuer_jwt: str
    disclosures: tuple[str, ...]
    kb_jwt: str | None

    @property
    def presented(self) -> str:
        """Everything up to and including the last `~`: the input of a KB-JWT's `sd_hash`."""
        return join_sd_jwt(self.issuer_jwt, self.disclosures)


def join_sd_jwt(issuer_jwt: str, disclosures: Iterable[str], kb_jwt: str = "") -> str:
    """`<issuer-jwt>~<disclosure>~...~[<kb-jwt>]` as RFC 9901 serializes it."""
    return "~".join([issuer_jwt, *disclosures, ""]) + kb_jwt


def split_sd_jwt(text: str) -> SdJwtParts:
    """Split without verifying; InvalidArgument when the shape is wrong."""
    if not isinstance(text, str) or not text:
        raise InvalidArgument("empty SD-JWT")
    if len(text) > MAX_SD_JWT_LENGTH:
        raise InvalidArgument(f"SD-JWT longer than {MAX_SD_JWT_LENGTH} characters")
    # the issuer JWT (most of the text) is found by memchr, not walked by split's char loop
    cut = text.find("~")
    if cut < 0:
        raise InvalidArgument("an SD-JWT has at least one '~' after the issuer-signed JWT")
    issuer_jwt, rest = text[:cut], text[cut + 1 :].split("~")
    middle, last = rest[:-1], rest[-1]
    if not issuer_jwt:
        raise InvalidArgument("the issuer-signed JWT before the first '~' is empty")
    if len(middle) > MAX_DISCLOSURES:
        raise InvalidArgument(f"more than {MAX_DISCLOSURES} disclosures")
    for position, disclosure in enumerate(middle, start=1):
        if not disclosure:
            raise InvalidArgument(f"disclosure {position} is empty ('~~')")
    return SdJwtParts(issuer_jwt, tuple(middle), last or None)


def match_disclosures(encoded: Sequence[str], digests: Sequence[str]) -> tuple[Disclosure, ...]:
    """Parse disclosures and require each digest to be among the sealed `_sd`, once only."""
    sealed = set(digests)
    seen_digests: set[str] = set()
    seen_names: set[str] = set()
    out: list[Disclosure] = []
    for position, text in enumerate(encoded, start=1):
        disclosure = Disclosure.parse(text)
        digest = b64url_encode(_SHA256(text.encode("utf-8")).digest())  # sd_digest, inline
        if digest not in sealed:
            raise Unauthenticated(
                f"disclosure {position} ({disclosure.name!r}) is not sealed in the licence: "
                "its digest is not in _sd (altered or taken from another licence)"
            )
        if digest in seen_digests or disclosure.name in seen_names:
            raise InvalidArgument(f"claim {disclosure.name!r} is disclosed twice")
        seen_digests.add(digest)
        seen_names.add(disclosure.name)
        out.append(disclosure)
    return tuple(out)


__all__ = [
    "ACCEPTED_SD_JWT_TYPS",
    "KB_JWT_TYP",
    "MAX_DISCLOSURES",
    "MAX_SD_JWT_LENGTH",
    "SD_ALG",
    "SD_JWT_TYP",
    "Disclosure",
    "SdJwtParts",
    "join_sd_jwt",
    "match_disclosures",
    "new_salt",
    "sd_digest",
]
