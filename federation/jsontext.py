"""Parse JSON from outside: no NaN/Infinity, precise errors; depth-bounded or duplicate-free."""

from __future__ import annotations

import json
from typing import Any

import orjson

from federation.errors import InvalidArgument

MAX_DEPTH = 32


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse duplicate object members: parsers disagree on which one wins (RFC 7515 s. 5.2)."""
    out = dict(pairs)
    if len(out) == len(pairs):  # the common case, decided at C speed
        return out
    out = {}
    for name, value in pairs:
        if name in out:
            raise InvalidArgument(f"duplicate JSON member {name!r}")
        out[name] = value
    return out


def _no_constant(name: str) -> Any:
    raise InvalidArgument(f"JSON constant {name} is not allowed")


# json.loads with options builds a decoder (and its scanner) per call: one, shared (stateless)
_STRICT = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_no_constant)


def _loads_strict(data: bytes | str) -> Any:
    """json.loads(data, ...) with the shared decoder: the same text handling (encoding
    detection for bytes, a UTF-8 BOM refused in text) and the same errors."""
    if isinstance(data, bytes | bytearray):
        text = data.decode(json.detect_encoding(data), "surrogatepass")
    elif isinstance(data, str):
        if data.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
        text = data
    else:
        return json.loads(data, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    return _STRICT.decode(text)


def strict_json(data: bytes | str) -> Any:
    """Parse JSON refusing duplicate members and NaN/Infinity; InvalidArgument when malformed."""
    try:
        return _loads_strict(data)
    except InvalidArgument as exc:
        raise InvalidArgument(f"not JSON: {exc.message}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidArgument(f"not JSON: {exc}") from None


_SORTED = orjson.OPT_SORT_KEYS


def canonical_object(data: bytes) -> dict[str, Any] | None:
    """The JSON object `data` is, when `data` is exactly that object's canonical JSON (sorted
    keys, no spaces, UTF-8: what `jose.canonical_json` writes, so every JWS payload the
    federation signs); None for anything else, which `strict_json` then decides.

    Parsed and re-written by orjson (C; a licence's payload in about a third of the
    instructions). Text equal to the re-written form has no duplicate member (the parse keeps
    one of each, the re-written text would be shorter) and no NaN/Infinity (orjson refuses
    them, as it refuses integers beyond 64 bits and lone surrogates): exactly the objects that
    `strict_json` accepts with the same value, which the property tests check.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if type(value) is not dict or orjson.dumps(value, option=_SORTED) != data:
        return None
    return value


def depth_of(value: Any) -> int:
    """Nesting depth of arrays and objects, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def loads_untrusted(text: str | bytes, what: str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads for request data: InvalidArgument when malformed or nested too deeply."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidArgument(f"{what} is nested too deeply (at most {max_depth} levels)") from None
    except InvalidArgument as exc:
        raise InvalidArgument(f"{what} is not JSON: {exc.message}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(f"{what} is not JSON: {exc}") from None
    if depth_of(value) > max_depth:
        raise InvalidArgument(f"{what} is nested too deeply (at most {max_depth} levels)")
    return value
