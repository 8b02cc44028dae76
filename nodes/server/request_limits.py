"""Field-size and character checks every decoded request passes before a servicer sees it."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from federation.errors import InvalidArgument

# opaque signed or JSON payloads: bounded only by the message-size limit and their own parsers
OPAQUE_FIELDS = frozenset(
    {
        "token",
        "sd_jwt",
        "presentation",
        "face_assertion",
        "consent_token",
        "assertion",
        "applicant_token",
        "holder_token",
        "signed_trust_list",
        "signed_catalogue",
        "archive",
        "payload",
    }
)
# free text a person types: a reason, a purpose, a comment, a password
TEXT_FIELDS = frozenset(
    {
        "reason",
        "reasons",
        "purpose",
        "note",
        "comment",
        "password",
        "session_secret",
        "name",
        "holder_name",
        "licence_name",
        "authority_name",
        "error",
    }
)
MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 4096
MAX_REPEATED = 4096
MAX_DEPTH = 8


def _limit(name: str) -> int | None:
    if name in OPAQUE_FIELDS or name.endswith("_json"):
        return None
    if name in TEXT_FIELDS:
        return MAX_TEXT_CHARS
    return MAX_ID_CHARS


def _check_text(path: str, name: str, value: str) -> None:
    if "\x00" in value:
        raise InvalidArgument(f"{path} contains a NUL character")
    limit = _limit(name)
    if limit is not None and len(value) > limit:
        raise InvalidArgument(f"{path} is {len(value)} characters long; at most {limit} allowed")


def check_request(message: Message, path: str = "", depth: int = 0) -> None:
    """Raise InvalidArgument for an over-long identifier or text, a NUL, or too many items."""
    if depth > MAX_DEPTH:
        raise InvalidArgument(f"{path or 'request'} is nested too deeply")
    for field, value in message.ListFields():
        where = f"{path}.{field.name}" if path else field.name
        repeated = field.is_repeated
        items = list(value) if repeated else [value]
        if repeated and len(items) > MAX_REPEATED:
            raise InvalidArgument(f"{where} has {len(items)} items; at most {MAX_REPEATED}")
        if field.type == FieldDescriptor.TYPE_STRING:
            if field.message_type is None:
                for item in items:
                    _check_text(where, field.name, item)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                for key, item in value.items():
                    _check_text(f"{where}[key]", "key", str(key))
                    if isinstance(item, str):
                        _check_text(f"{where}[{key}]", field.name, item)
                continue
            for item in items:
                check_request(item, where, depth + 1)
        elif field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            for item in items:
                if item != item or item in (float("inf"), float("-inf")):
                    raise InvalidArgument(f"{where} must be a finite number")
