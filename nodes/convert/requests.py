"""Request fields that carry JSON text: parsed once, bounded, as a precise INVALID_ARGUMENT."""

from __future__ import annotations

from typing import Any

from federation.errors import InvalidArgument
from federation.jsontext import loads_untrusted


def json_object(text: str, name: str) -> dict[str, Any] | None:
    """A request's JSON-object field: None when empty, InvalidArgument when not an object."""
    if not text:
        return None
    value = loads_untrusted(text, name)
    if not isinstance(value, dict):
        raise InvalidArgument(f"{name} must be a JSON object")
    return value
