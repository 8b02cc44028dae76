"""Parse JSON that came from outside: bounded depth, no NaN or Infinity, a precise error."""

from __future__ import annotations

import json
from typing import Any

from federation.errors import InvalidArgument

MAX_DEPTH = 32


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(f"{what} is not JSON: {exc}") from None
    if depth_of(value) > max_depth:
        raise InvalidArgument(f"{what} is nested too deeply (at most {max_depth} levels)")
    return value
