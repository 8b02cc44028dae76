"""Store limits: values a PostgreSQL store refuses where SQLite takes them, in every field.

Text past a btree index entry's 2,704 bytes (also after compression, hence incompressible
letters) and NUL characters in text. Each string field of every request (through nested
messages), and each string inside a plausible `*_json` document, gets each value in turn while
the rest of the request is plausible, so the value gets as far as the store.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from federation.codes import make_citizen_id
from federation.regions import Region
from tests.adversarial.cases import ID_CARD_FIELDS, ITEM
from tests.adversarial.tokens import PASSWORD

if TYPE_CHECKING:
    from tests.adversarial.fuzz import Rpc

MB = 1024 * 1024
STORE_LIMITS = ("1MB", "3KB", "NUL", "NUL-only")
PLAUSIBLE = {
    "kind": "natural",
    "subject_kind": "natural",
    "name": "边界测试",
    "holder_name": "边界测试",
    "password": PASSWORD,
    "licence_type": "resident_identity_card",
    "valid_until": "2040-01-01",
    "fields_json": json.dumps(ID_CARD_FIELDS, ensure_ascii=False),
    "requested_acr": "low",
    "required_acr": "low",
    "item_code": ITEM,
    "service_item": ITEM,
    "window_id": "SH-W-BOUNDARY",
    "action": "start_review",
    "reviewer": "reviewer-1",
    "purpose": "边界测试",
    "reason": "边界测试",
    "note": "边界测试",
    "delivery_method": "electronic",
    # optional: empty lets the node choose (the licence type's authority, a fresh number, today)
    "authority_code": "",
    "number": "",
    "issue_date": "",
    "valid_from": "",
    "holder_jwk_json": "",
    "on_behalf_of": "",
    "face_assertion": "",
}


def is_repeated(f: Any) -> bool:
    repeated = getattr(f, "is_repeated", None)  # protobuf >= 6; `label` before
    if repeated is not None:
        return bool(repeated)
    return bool(f.label == FieldDescriptor.LABEL_REPEATED)


def is_map(f: Any) -> bool:
    return bool(
        is_repeated(f)
        and f.type == FieldDescriptor.TYPE_MESSAGE
        and f.message_type.GetOptions().map_entry
    )


_EPOCH = dt.date(1970, 1, 1)


def string_paths(desc: Descriptor, depth: int = 0) -> list[tuple[str, ...]]:
    """Paths to every string field (through message fields, up to depth 2; map fields aside)."""
    out: list[tuple[str, ...]] = []
    f: Any
    for f in desc.fields:
        if is_map(f):
            continue
        if f.type == FieldDescriptor.TYPE_STRING:
            out.append((f.name,))
        elif f.type == FieldDescriptor.TYPE_MESSAGE and depth < 2:
            out += [(f.name, *rest) for rest in string_paths(f.message_type, depth + 1)]
    return out


JSON_LEAVES = 12  # strings replaced per plausible JSON document


def plausible_document(field: str) -> Any:
    """A JSON value a node would accept in the `*_json` field `field`, or None."""
    if field in ("fields_json", "result_json", "requested_json"):
        return dict(ID_CARD_FIELDS)
    if field == "items_json":  # the first starter item Shanghai owns, as Shanghai publishes it
        from federation.cases.catalogue import starter_catalogue

        items = [i for i in starter_catalogue().items if i.owner_region == Region.SH.code]
        return [items[0].to_dict()] if items else None
    if field == "holder_jwk_json":
        from federation.crypto.jose import SigningKey

        return SigningKey.generate().jwk.to_dict()
    return None


def json_leaves(doc: Any, at: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Paths to every string inside a JSON value."""
    if isinstance(doc, str):
        return [at]
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in json_leaves(v, (*at, k))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in json_leaves(v, (*at, i))]
    return []


def _replaced(doc: Any, at: tuple[str | int, ...], value: str) -> Any:
    if not at:
        return value
    head, rest = at[0], at[1:]
    if isinstance(doc, dict):
        return {k: (_replaced(v, rest, value) if k == head else v) for k, v in doc.items()}
    return [(_replaced(v, rest, value) if i == head else v) for i, v in enumerate(doc)]


def _set_path(msg: Message, path: tuple[str, ...], value: str) -> None:
    """Set the string field at `path`; a repeated step uses its first element (added if none)."""
    *parents, leaf = path
    target: Any = msg
    for name in parents:
        f = target.DESCRIPTOR.fields_by_name[name]
        child = getattr(target, name)
        target = (child[0] if len(child) else child.add()) if is_repeated(f) else child
    f = target.DESCRIPTOR.fields_by_name[leaf]
    if is_repeated(f):
        values = getattr(target, leaf)
        if len(values):
            values[0] = value
        else:
            values.append(value)
    else:
        setattr(target, leaf, value)


def _fill_scalar(msg: Message, f: Any, rng: random.Random) -> None:
    """A harmless value for a field that is not a string or a message."""
    if f.type == FieldDescriptor.TYPE_BOOL:
        value: Any = False
    elif f.type == FieldDescriptor.TYPE_ENUM:
        value = f.enum_type.values[0].number
    elif f.type == FieldDescriptor.TYPE_BYTES:
        value = b""
    elif f.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        value = float(rng.randrange(0, 100))
    else:
        value = rng.randrange(0, 100)
    if is_repeated(f):
        getattr(msg, f.name).append(value)
    else:
        setattr(msg, f.name, value)


class StoreLimits:
    """Requests carrying `STORE_LIMITS`, from a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._incompressible: str | None = None

    def plausible(self, msg: Message, depth: int = 0) -> None:
        """Every string field a value the node could accept, so a boundary value is what fails."""
        for f in msg.DESCRIPTOR.fields:
            if is_map(f):
                continue
            if f.type == FieldDescriptor.TYPE_MESSAGE:
                if depth < 2:
                    sub = getattr(msg, f.name)
                    self.plausible(sub.add() if is_repeated(f) else sub, depth + 1)
                continue
            if f.type != FieldDescriptor.TYPE_STRING:
                _fill_scalar(msg, f, self.rng)
                continue
            name = f.name.lower()
            if name in PLAUSIBLE:
                value = PLAUSIBLE[name]
            elif name in ("subject_id", "holder_code", "applicant_id"):
                day = self.rng.randrange(15000)
                value = make_citizen_id("310101", _EPOCH + dt.timedelta(days=day), 100 + day % 800)
            elif name == "request_id":
                value = f"boundary-{self.rng.randrange(10**12)}"
            elif "region" in name:
                value = "310000"
            else:
                value = "{}" if name.endswith("_json") else f"fz-{self.rng.randrange(10**9)}"
            if is_repeated(f):
                getattr(msg, f.name).append(value)
            else:
                setattr(msg, f.name, value)

    def requests(self, rpc: Rpc) -> Iterator[tuple[str, bytes]]:
        """Each string field, at any depth up to 2, given each of `STORE_LIMITS` in turn; in a
        `*_json` field also each string inside a plausible document (escaped, so only the
        decoded value carries the NUL: it passes the edge's checks and meets the store)."""
        cls = GetMessageClass(rpc.request)
        for path in string_paths(rpc.request):
            field = ".".join(path)
            for kind in STORE_LIMITS:
                msg = cls()
                self.plausible(msg)
                _set_path(msg, path, self.limit_value(kind))
                yield f"store_limit[{field}={kind}]", msg.SerializeToString()
            doc = plausible_document(path[-1])
            if doc is None:
                continue
            leaves = json_leaves(doc)[:JSON_LEAVES]
            for n, leaf in enumerate(leaves):
                for kind in STORE_LIMITS if n == 0 else ("3KB", "NUL"):
                    msg = cls()
                    self.plausible(msg)
                    text = json.dumps(_replaced(doc, leaf, self.limit_value(kind)))
                    _set_path(msg, path, text)
                    where = "/".join(map(str, leaf))
                    yield f"store_limit[{field}:{where}={kind}]", msg.SerializeToString()
            if isinstance(doc, dict):  # a NUL in a member name
                msg = cls()
                self.plausible(msg)
                _set_path(msg, path, json.dumps({**doc, "fz\x00key": "x"}))
                yield f"store_limit[{field}:<key>=NUL]", msg.SerializeToString()

    def limit_value(self, kind: str) -> str:
        letters = "abcdefghijklmnopqrstuvwxyz"
        if kind == "1MB":
            if self._incompressible is None:  # one per run: 1 MB of choices takes a while
                self._incompressible = "".join(self.rng.choices(letters, k=MB))
            return self._incompressible
        if kind == "3KB":
            return "".join(self.rng.choices(letters, k=3 * 1024))
        if kind == "NUL":
            return f"fz\x00{self.rng.randrange(10**6)}"
        return "\x00"
