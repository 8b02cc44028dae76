"""orjson and memchr paths of a first licence verification agree with the code they replaced.

Each reference below is the implementation as it was before: the JWS payload read by
strict_json, the disclosure read by the json module, the SD-JWT and compact JWS split by
str.split, and statuses and holder code types looked up by calling their enum. Inputs mix
what the federation writes (canonical JSON, ten disclosures) with what orjson refuses or
reads differently (duplicate members, NaN, integers beyond 64 bits, lone surrogates, a BOM,
spacing) and with malformed texts.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from federation.crypto.jose import (
    MAX_COMPACT_LENGTH,
    MEMBER_ALGS,
    SIGNATURE_ALGS,
    ParsedJws,
    _header,
    b64url_decode,
    b64url_encode,
    canonical_json,
    parse_compact,
)
from federation.errors import FederationError, InvalidArgument, Unauthenticated
from federation.jsontext import canonical_object, strict_json
from federation.licences.model import HolderCodeType, parse_holder_code_type
from federation.licences.sdjwt import (
    MAX_DISCLOSURES,
    MAX_SD_JWT_LENGTH,
    Disclosure,
    SdJwtParts,
    _decode_disclosure_json,
    split_sd_jwt,
)
from federation.licences.status import LicenceStatus, StatusList


def _typed(value: Any) -> Any:
    """A comparable form that tells 1, 1.0 and True apart (and NaN from nothing)."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def _outcome(call: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", _typed(call(*args))
    except FederationError as exc:
        return type(exc).__name__, exc.message


# --- the JWS payload --------------------------------------------------------------------


def _payload_before(payload_bytes: bytes) -> dict[str, Any]:
    try:
        value = strict_json(payload_bytes)
    except InvalidArgument as exc:
        raise InvalidArgument(f"JWS payload is {exc.message}") from None
    if not isinstance(value, dict):
        raise InvalidArgument("JWS payload must be a JSON object")
    return value  # type: ignore[no-any-return]


def _payload_now(payload_bytes: bytes) -> dict[str, Any]:
    return ParsedJws({}, payload_bytes, b"", b"").payload()


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["\ud800", "a\udfffb", "\x00\x7f\u2028", "江苏", "\U0001f600"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=12,
)
_OBJECTS = st.dictionaries(st.text(max_size=8), _VALUES, max_size=8)


def _writings(value: Any, tail: str) -> list[bytes]:
    """Ways the same value can be written, canonical first; some not JSON at all."""
    out: list[bytes] = []
    for write in (
        canonical_json,
        lambda v: json.dumps(v).encode(),
        lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode(),
        lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False, indent=1).encode(),
    ):
        try:
            out.append(write(value))
        except (ValueError, UnicodeEncodeError):  # NaN in canonical json, surrogates in UTF-8
            continue
    if out:
        text = out[0]
        out.append(text + tail.encode())
        out.append(b"\xef\xbb\xbf" + text)
        out.append(text.decode("utf-8", "surrogatepass").encode("utf-16"))
        if text.startswith(b"{") and len(text) > 2:  # a duplicate member, first or last
            out.append(b'{"a":1,"a":2,' + text[1:])
            out.append(text[:-1] + b',"a":1,"a":1}')
    return out


@settings(max_examples=400, deadline=None)
@given(st.one_of(_OBJECTS, _VALUES), st.sampled_from(["", " ", "\n", "x", "}", ",1"]))
def test_a_jws_payload_reads_as_strict_json_did(value: Any, tail: str) -> None:
    for data in _writings(value, tail):
        assert _outcome(_payload_now, data) == _outcome(_payload_before, data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.text(alphabet='{}[]":,.-+eE0123456789 tfnNaI\\u', max_size=40))
def test_malformed_payloads_are_refused_as_before(raw: bytes, text: str) -> None:
    for data in (raw, text.encode(), b"{" + text.encode() + b"}"):
        assert _outcome(_payload_now, data) == _outcome(_payload_before, data)


@settings(max_examples=200, deadline=None)
@given(_OBJECTS)
def test_canonical_objects_are_taken_only_when_written_canonically(value: dict[str, Any]) -> None:
    try:
        data = canonical_json(value)
        strict = strict_json(data)
    except (ValueError, UnicodeEncodeError, InvalidArgument):
        return
    fast = canonical_object(data)
    if fast is not None:  # orjson writes it as json does: the very same object
        assert _typed(fast) == _typed(strict)
    assert canonical_object(json.dumps(value, indent=1).encode()) is None or value == {}


# --- disclosures --------------------------------------------------------------------------


def _disclosure_before(encoded: str) -> tuple[str, str, object]:
    """Disclosure.parse as it was (json module); the fields it kept."""
    try:
        value = _decode_disclosure_json(b64url_decode(encoded).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidArgument("a disclosure is not base64url-encoded JSON") from None
    if not isinstance(value, list) or len(value) != 3:
        raise InvalidArgument("a disclosure must be a JSON array [salt, claim name, value]")
    salt, name, claim = value
    if not isinstance(salt, str) or len(salt) < 16:
        raise InvalidArgument("a disclosure salt must be a string of >= 16 characters")
    if not isinstance(name, str) or not name or name in ("_sd", "...", "_sd_alg"):
        raise InvalidArgument(f"a disclosure claim name is invalid: {name!r}")
    if not isinstance(claim, (str, int, bool)):
        raise InvalidArgument(f"disclosed claim {name!r} must be a string, integer or boolean")
    return salt, name, claim


def _disclosure_now(encoded: str) -> tuple[str, str, object]:
    parsed = Disclosure.parse(encoded)
    assert parsed.encoded == encoded
    return parsed.salt, parsed.name, parsed.value


def _disclosure_texts(salt: str, name: str, claim: Any) -> list[bytes]:
    item = [salt, name, claim]
    out = []
    for write in (
        lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")),
        json.dumps,
        lambda v: " " + json.dumps(v) + "\n",
        lambda v: json.dumps(v)[:-1] + ",1]",
        lambda v: json.dumps(v[:2]),
        lambda v: json.dumps(v) + "x",
        lambda v: "\ufeff" + json.dumps(v),
    ):
        try:
            out.append(write(item).encode("utf-8", "surrogatepass"))
        except ValueError:
            continue
    return out


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(st.text(min_size=14, max_size=24), st.integers(), st.just("\ud800" * 16)),
    st.one_of(st.sampled_from(["holder_name", "_sd", "...", ""]), st.text(max_size=10)),
    _VALUES,
)
def test_a_disclosure_parses_as_the_json_module_read_it(salt: Any, name: Any, claim: Any) -> None:
    for raw in _disclosure_texts(salt, name, claim):
        encoded = b64url_encode(raw)
        assert _outcome(_disclosure_now, encoded) == _outcome(_disclosure_before, encoded)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_any_bytes_as_a_disclosure_are_refused_or_read_as_before(raw: bytes) -> None:
    encoded = b64url_encode(raw)
    assert _outcome(_disclosure_now, encoded) == _outcome(_disclosure_before, encoded)


# --- splitting --------------------------------------------------------------------------


def _split_before(text: str) -> SdJwtParts:
    if not isinstance(text, str) or not text:
        raise InvalidArgument("empty SD-JWT")
    if len(text) > MAX_SD_JWT_LENGTH:
        raise InvalidArgument(f"SD-JWT longer than {MAX_SD_JWT_LENGTH} characters")
    parts = text.split("~")
    if len(parts) < 2:
        raise InvalidArgument("an SD-JWT has at least one '~' after the issuer-signed JWT")
    issuer_jwt, middle, last = parts[0], parts[1:-1], parts[-1]
    if not issuer_jwt:
        raise InvalidArgument("the issuer-signed JWT before the first '~' is empty")
    if len(middle) > MAX_DISCLOSURES:
        raise InvalidArgument(f"more than {MAX_DISCLOSURES} disclosures")
    for position, disclosure in enumerate(middle, start=1):
        if not disclosure:
            raise InvalidArgument(f"disclosure {position} is empty ('~~')")
    return SdJwtParts(issuer_jwt, tuple(middle), last or None)


def _split_outcome(call: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", call(text)
    except FederationError as exc:
        return type(exc).__name__, exc.message


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab.~", max_size=30), st.integers(min_value=0, max_value=70))
def test_an_sd_jwt_splits_as_str_split_did(text: str, repeat: int) -> None:
    for candidate in (text, "x~" * repeat + text, text * 3000):
        assert _split_outcome(split_sd_jwt, candidate) == _split_outcome(_split_before, candidate)


def _parse_compact_before(
    token: str, algs: frozenset[str] = MEMBER_ALGS, require_kid: bool = True
) -> ParsedJws:
    if not isinstance(token, str) or not token:
        raise InvalidArgument("empty token")
    if len(token) > MAX_COMPACT_LENGTH:
        raise InvalidArgument(f"token longer than {MAX_COMPACT_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidArgument("a compact JWS has exactly three dot-separated parts")
    header = _header(parts[0])
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
        payload_bytes=b64url_decode(parts[1]),
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=b64url_decode(parts[2]),
    )


_HEADERS = [
    b64url_encode(canonical_json(h))
    for h in (
        {"alg": "EdDSA", "kid": "k"},
        {"alg": "ES256", "kid": "k", "typ": "JWT"},
        {"alg": "none", "kid": "k"},
        {"alg": "EdDSA"},
        {"alg": "EdDSA", "kid": 1},
        {"alg": "EdDSA", "kid": "k", "crit": ["x"]},
    )
]
_SEGMENTS = st.one_of(
    st.sampled_from([*_HEADERS, "", "e30", "eyJhbGciOiJFZERTQSJ9", "AAAA", "A", "é"]),
    st.text(alphabet="AQw_-=.é", max_size=12),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_SEGMENTS, min_size=1, max_size=5), st.sampled_from([MEMBER_ALGS, SIGNATURE_ALGS]))
def test_a_compact_jws_parses_as_before(segments: list[str], algs: frozenset[str]) -> None:
    token = ".".join(segments)
    for require_kid in (True, False):
        now = _split_outcome(
            functools.partial(parse_compact, algs=algs, require_kid=require_kid), token
        )
        before = _split_outcome(
            functools.partial(_parse_compact_before, algs=algs, require_kid=require_kid), token
        )
        assert now == before


# --- enum lookups -----------------------------------------------------------------------


def _status_before(statuses: StatusList, index: int) -> LicenceStatus:
    value = statuses.raw(index)
    try:
        return LicenceStatus(value)
    except ValueError:
        raise InvalidArgument(f"status value {value} at index {index} is undefined") from None


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=8), st.sampled_from([1, 2, 4, 8]), st.integers(-2, 70))
def test_a_status_reads_as_the_enum_call_did(data: bytes, bits: int, index: int) -> None:
    statuses = StatusList.from_bytes(data, bits)
    now, before = _outcome(statuses.get, index), _outcome(_status_before, statuses, index)
    assert now == before
    if now[0] == "ok":
        assert statuses.get(index) is _status_before(statuses, index)


def _holder_code_type_before(text: Any) -> HolderCodeType:
    try:
        return HolderCodeType(text)
    except ValueError:
        raise InvalidArgument(
            f"holder code type must be 'citizen_id' or 'credit_code', got {text!r}"
        ) from None


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.sampled_from(["citizen_id", "credit_code", "CITIZEN_ID", "citizen_id ", ""]),
        _VALUES,
    )
)
def test_a_holder_code_type_parses_as_the_enum_call_did(text: Any) -> None:
    assert _outcome(parse_holder_code_type, text) == _outcome(_holder_code_type_before, text)
