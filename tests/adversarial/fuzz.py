"""Fuzz corpus over every RPC, generated from the descriptors (new methods join by themselves)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
import pkgutil
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import nodes.pb.v1 as pb_package
from federation.codes import make_citizen_id
from federation.regions import Region
from tests.adversarial.cases import ID_CARD_FIELDS, ITEM
from tests.adversarial.harness import (
    CALL_TIMEOUT_S,
    PRECISE,
    AuditLedger,
    Harness,
    Identity,
    Outcome,
    Tally,
    raw_stream,
    raw_unary,
)
from tests.adversarial.tokens import PASSWORD

MB = 1024 * 1024
WRONG_REGIONS = [
    "999999",
    "000000",
    "31000",
    "3100000",
    "HUB",
    "100000",
    "-310000",
    " 310000",
    "３１００００",
    "310000\x00",
    "SH;DROP",
    "sh",
    "yrd:sh:310000",
]
VALID_REGIONS = ["310000", "320000", "330000", "340000", "SH", "JS"]
JSON_HOSTILE = [
    "[" * 100_000,
    '{"a":' * 50_000,
    "[" * 5_000 + "]" * 5_000,
    '{"a":1,"a":2}',
    "NaN",
    '{"x": NaN, "y": Infinity, "z": -Infinity}',
    "1e999999",
    '{"n": 1e999999}',
    '{"n": 123456789012345678901234567890123456789}',
    "null",
    "[]",
    '"a string"',
    "{",
    '{"\\ud800": "lone surrogate"}',
    '{"a": "\\u0000\\u001b"}',
    "\ufeff{}",
    "{}" + " " * 1000,
]
TEXT_HOSTILE = [
    "",
    "\x00",
    "\x00\x01\x02\x1b[31m\r\n\t\x7f",
    "\u202e\u200b\ufeff",
    "🙂" * 2000,
    "%s%n%x",
    "../../../../etc/passwd",
    "' OR 1=1 --",
    "a.b.c",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "A" * 70_000,
    " ",
    "-1",
    "NaN",
]
INT32 = [0, -1, 1, 2**31 - 1, -(2**31), 600, 601]
INT64 = [0, -1, 2**63 - 1, -(2**63), 2**53 + 1, 10**15]
UINT32 = [0, 1, 2**32 - 1]
UINT64 = [0, 1, 2**64 - 1]
DOUBLE = [math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324, 1e18, -1.0]
FLOAT = [math.nan, math.inf, -math.inf, -0.0, 3.4e38, -3.4e38, 1e-45]
# Values a PostgreSQL store refuses where SQLite takes them: text past a btree index entry's
# 2,704 bytes (also after compression, hence incompressible letters), NUL characters in text.
# Each string field of every request gets each of them in an otherwise plausible request.
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
UNDECODABLE = [
    b"\xff" * 16,
    b"\x0a\xff\xff\xff\xff\x0f",  # field 1, length 4 GB
    b"\x00",  # field number 0
    b"\x08" + b"\xff" * 10 + b"\x01",  # varint longer than 10 bytes
    b"\x0b" * 200,  # unterminated groups, nested
    b"\x0c",  # end group without start
    b"\x0a\x05abc",  # length runs past the end
    b"\x0a\x02\xff\xfe",  # invalid UTF-8 in a string field
]


@dataclass(frozen=True)
class Rpc:
    """One method as the descriptors describe it."""

    service: str
    method: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.method.name}"

    @property
    def streaming(self) -> bool:
        return bool(self.method.server_streaming)

    @property
    def request(self) -> Descriptor:
        return self.method.input_type


def all_rpcs() -> list[Rpc]:
    """Every method of every service in the generated `nodes/pb/v1/*_pb2.py` descriptors."""
    out: list[Rpc] = []
    for info in sorted(pkgutil.iter_modules(pb_package.__path__), key=lambda m: m.name):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"{pb_package.__name__}.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                if method.client_streaming:
                    continue  # none today; a client stream would need its own corpus
                out.append(Rpc(service.full_name, method))
    return out


def served_services(harness: Harness, region: Region, who: Identity) -> set[str]:
    """Service names a node offers, from its reflection service."""
    stub = reflection_pb2_grpc.ServerReflectionStub(harness.channel(region, who))
    replies = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=CALL_TIMEOUT_S
    )
    return {s.name for reply in replies for s in reply.list_services_response.service}


# --- generation ---------------------------------------------------------------------------------
def _is_repeated(f: Any) -> bool:
    repeated = getattr(f, "is_repeated", None)  # protobuf >= 6; `label` before
    if repeated is not None:
        return bool(repeated)
    return bool(f.label == FieldDescriptor.LABEL_REPEATED)


def _is_map(f: Any) -> bool:
    return bool(
        _is_repeated(f)
        and f.type == FieldDescriptor.TYPE_MESSAGE
        and f.message_type.GetOptions().map_entry
    )


_EPOCH = dt.date(1970, 1, 1)


def string_paths(desc: Descriptor, depth: int = 0) -> list[tuple[str, ...]]:
    """Paths to every string field (through message fields, up to depth 2; map fields aside)."""
    out: list[tuple[str, ...]] = []
    f: Any
    for f in desc.fields:
        if _is_map(f):
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
        from federation.catalogue import starter_catalogue

        items = [i for i in starter_catalogue().items if i.owner_region == Region.SH.code]
        return [items[0].to_dict()] if items else None
    if field == "holder_jwk_json":
        from federation.jose import SigningKey

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
        target = (child[0] if len(child) else child.add()) if _is_repeated(f) else child
    f = target.DESCRIPTOR.fields_by_name[leaf]
    if _is_repeated(f):
        values = getattr(target, leaf)
        if len(values):
            values[0] = value
        else:
            values.append(value)
    else:
        setattr(target, leaf, value)


class Generator:
    """Well-typed requests with hostile values, from a seeded generator and a size budget."""

    def __init__(self, rng: random.Random, max_bytes: int) -> None:
        self.rng = rng
        self.max_bytes = max_bytes
        self._incompressible: str | None = None

    def hostile_string(self, f: Any, big: bool) -> str:
        name = f.name.lower()
        pool = list(TEXT_HOSTILE)
        if name.endswith("_json"):
            pool = JSON_HOSTILE + pool[:3]
        elif "region" in name or name in ("audience", "aud", "audiences"):
            pool = WRONG_REGIONS + pool[:3]
        value = self.rng.choice(pool)
        if big:
            value = self.rng.choice(["x" * MB, "[" * MB, "\x00" * MB, "鱼" * (MB // 3)])
        return value

    def benign_string(self, f: Any) -> str:
        name = f.name.lower()
        if name.endswith("_json"):
            return self.rng.choice(["{}", '{"a": 1}', ""])
        if "region" in name:
            return self.rng.choice(VALID_REGIONS)
        return self.rng.choice(["", "x", f"fz-{self.rng.randrange(10**9)}", "310101199001011234"])

    def scalar(self, f: Any, hostile: bool, big: bool) -> Any:
        t = f.type
        rng = self.rng
        if t == FieldDescriptor.TYPE_STRING:
            return self.hostile_string(f, big) if hostile else self.benign_string(f)
        if t == FieldDescriptor.TYPE_BYTES:
            if big:
                return rng.randbytes(MB)
            return rng.choice([b"", b"\x00", rng.randbytes(64), b"\xff" * 1000])
        if t == FieldDescriptor.TYPE_BOOL:
            return rng.random() < 0.5
        if t in (FieldDescriptor.TYPE_DOUBLE,):
            return rng.choice(DOUBLE) if hostile else rng.uniform(-1.0, 1.0)
        if t in (FieldDescriptor.TYPE_FLOAT,):
            return rng.choice(FLOAT) if hostile else rng.uniform(-1.0, 1.0)
        if t == FieldDescriptor.TYPE_ENUM:
            return rng.choice([v.number for v in f.enum_type.values] + [-1, 999])
        if t in (
            FieldDescriptor.TYPE_INT64,
            FieldDescriptor.TYPE_SINT64,
            FieldDescriptor.TYPE_SFIXED64,
        ):
            return rng.choice(INT64) if hostile else rng.randrange(0, 100)
        if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
            return rng.choice(UINT64) if hostile else rng.randrange(0, 100)
        if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
            return rng.choice(UINT32) if hostile else rng.randrange(0, 100)
        return rng.choice(INT32) if hostile else rng.randrange(0, 100)

    def fill(
        self,
        msg: Message,
        focus: str | None,
        depth: int = 0,
        hostile_rate: float = 0.3,
        big: bool = False,
        forced: str | None = None,
    ) -> None:
        """Set every field: the `focus` field gets a hostile value, others mostly benign ones."""
        for f in msg.DESCRIPTOR.fields:
            hostile = f.name == focus or self.rng.random() < hostile_rate
            f_big = big and f.name == focus
            if _is_map(f):
                target = getattr(msg, f.name)
                entry: Any = f.message_type
                for _ in range(self.rng.choice([0, 1, 3])):
                    k = self.scalar(entry.fields_by_name["key"], hostile, False)
                    vf = entry.fields_by_name["value"]
                    if vf.type == FieldDescriptor.TYPE_MESSAGE:
                        if depth < 3:
                            self.fill(target[k], None, depth + 1, hostile_rate)
                    else:
                        target[k] = self.scalar(vf, hostile, False)
            elif f.type == FieldDescriptor.TYPE_MESSAGE:
                if depth >= 3:
                    continue
                if _is_repeated(f):
                    count = self.rng.choice([0, 1, 2, 300]) if hostile else self.rng.choice([0, 1])
                    for _ in range(count):
                        self.fill(getattr(msg, f.name).add(), None, depth + 1, hostile_rate)
                elif hostile or self.rng.random() < 0.7:
                    self.fill(
                        getattr(msg, f.name),
                        focus if hostile else None,
                        depth + 1,
                        hostile_rate,
                        False,
                        forced,
                    )
            elif _is_repeated(f):
                if f_big:
                    count = 200_000 if f.type == FieldDescriptor.TYPE_FLOAT else 10_000
                else:
                    count = self.rng.choice([0, 1, 3, 129]) if hostile else self.rng.choice([0, 2])
                getattr(msg, f.name).extend(self.scalar(f, hostile, False) for _ in range(count))
            elif forced is not None and f.name == focus and f.type == FieldDescriptor.TYPE_STRING:
                setattr(msg, f.name, forced)
            else:
                setattr(msg, f.name, self.scalar(f, hostile, f_big))

    def hostile(self, rpc: Rpc, count: int) -> Iterator[tuple[str, bytes]]:
        cls = GetMessageClass(rpc.request)
        fields: list[str | None] = [f.name for f in rpc.request.fields] or [None]
        for i in range(count):
            msg = cls()
            focus = fields[i % len(fields)]
            big = i % 4 == 3  # every fourth request carries a megabyte in its focus field
            # the first pass puts the deepest nesting into every *_json field at least once
            forced = JSON_HOSTILE[0] if i < len(fields) and str(focus).endswith("_json") else None
            self.fill(msg, focus, big=big and forced is None, forced=forced)
            data = msg.SerializeToString()
            yield f"hostile[{i}] focus={focus} big={big}", data

    def mutated(self, rpc: Rpc, count: int) -> Iterator[tuple[str, bytes]]:
        cls = GetMessageClass(rpc.request)
        msg = cls()
        self.fill(msg, None, hostile_rate=0.0)
        valid = msg.SerializeToString() or b"\x0a\x01x"
        rng = self.rng
        for i in range(count):
            kind = i % 4
            data = bytearray(valid)
            if kind == 0:  # truncated
                data = data[: rng.randrange(0, max(1, len(data)))]
            elif kind == 1:  # a few bytes flipped
                for _ in range(rng.randint(1, 4)):
                    pos = rng.randrange(len(data))
                    data[pos] ^= 1 << rng.randrange(8)
            elif kind == 2:  # garbage appended
                data += rng.randbytes(rng.randint(1, 16))
            else:  # a length prefix inflated
                data = bytearray(b"\x0a\xf0\xff\x03") + data
            yield f"mutated[{i}] kind={kind}", bytes(data)

    def plausible(self, msg: Message, depth: int = 0) -> None:
        """Every string field a value the node could accept, so a boundary value is what fails."""
        for f in msg.DESCRIPTOR.fields:
            if _is_map(f):
                continue
            if f.type == FieldDescriptor.TYPE_MESSAGE:
                if depth < 2:
                    sub = getattr(msg, f.name)
                    self.plausible(sub.add() if _is_repeated(f) else sub, depth + 1)
                continue
            if f.type != FieldDescriptor.TYPE_STRING:
                self.fill_one(msg, f)
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
                value = self.benign_string(f)
            if _is_repeated(f):
                getattr(msg, f.name).append(value)
            else:
                setattr(msg, f.name, value)

    def fill_one(self, msg: Message, f: Any) -> None:
        if _is_repeated(f):
            getattr(msg, f.name).append(self.scalar(f, False, False))
        else:
            setattr(msg, f.name, self.scalar(f, False, False))

    def store_limits(self, rpc: Rpc) -> Iterator[tuple[str, bytes]]:
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
            if self._incompressible is None:  # one per generator: 1 MB of choices takes a while
                self._incompressible = "".join(self.rng.choices(letters, k=MB))
            return self._incompressible
        if kind == "3KB":
            return "".join(self.rng.choices(letters, k=3 * 1024))
        if kind == "NUL":
            return f"fz\x00{self.rng.randrange(10**6)}"
        return "\x00"

    def undecodable(self, count: int) -> Iterator[tuple[str, bytes]]:
        for i, data in enumerate(UNDECODABLE[:count]):
            yield f"undecodable[{i}]", data
        for i in range(max(0, count - len(UNDECODABLE))):
            yield f"random[{i}]", self.rng.randbytes(self.rng.randint(1, 64))


# --- the attack ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FuzzCall:
    region: Region
    who: Identity
    rpc: Rpc
    label: str
    payload: bytes


def fuzz_calls(
    harness: Harness,
    targets: dict[Region, list[Identity]],
    seed: int,
    per_method: int,
    store_limits: bool = False,
) -> list[FuzzCall]:
    rpcs = all_rpcs()
    calls: list[FuzzCall] = []
    roles: dict[str, frozenset[str]] = {}
    if store_limits:
        from tests.adversarial.roles import role_table  # roles imports this module

        roles = role_table()

    def reaches_handler(rpc: Rpc, who: Identity) -> bool:
        """Store limits only for callers the role check lets through to the store."""
        role = "operator" if who.name == "operator" else "region"
        return store_limits and role in roles.get(rpc.path, frozenset({role}))

    for region, identities in targets.items():
        served = served_services(harness, region, identities[0])
        gen = Generator(random.Random(f"{seed}:{region.code}"), harness.max_message_bytes(region))
        for rpc in rpcs:
            if rpc.service not in served:
                continue
            for who in identities:
                corpus = [
                    *gen.undecodable(max(2, per_method // 3)),
                    *gen.mutated(rpc, max(2, per_method // 3)),
                    *gen.hostile(rpc, max(4, per_method - 2 * (per_method // 3))),
                    *(gen.store_limits(rpc) if reaches_handler(rpc, who) else ()),
                ]
                calls += [FuzzCall(region, who, rpc, label, data) for label, data in corpus]
    return calls


def run_fuzz(
    harness: Harness,
    targets: dict[Region, list[Identity]],
    seed: int = 20261201,
    per_method: int = 30,
    workers: int = 4,
    store_limits: bool = False,
) -> Tally:
    """`store_limits` adds `STORE_LIMITS` in every string field (PostgreSQL's refusals)."""
    tally = Tally("fuzz")
    calls = fuzz_calls(harness, targets, seed, per_method, store_limits)
    ledger = AuditLedger(harness, targets)
    limits = {r: harness.max_message_bytes(r) for r in targets}

    def one(call: FuzzCall) -> tuple[FuzzCall, Outcome]:
        channel = harness.channel(call.region, call.who)
        if call.rpc.streaming:
            return call, raw_stream(channel, call.rpc.path, call.payload)
        return call, raw_unary(channel, call.rpc.path, call.payload)

    methods: set[str] = set()
    by_kind: dict[str, Counter[str]] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for call, out in pool.map(one, calls):
            methods.add(call.rpc.path)
            oversize = len(call.payload) > limits[call.region]
            precise = out.code is grpc.StatusCode.OK or out.code in PRECISE
            kind = call.label.split("[")[0]
            by_kind.setdefault(kind, Counter())[out.code.name] += 1
            if kind == "store_limit":  # store_limit[path=1MB]: per value, what the nodes said
                value = call.label.rsplit("=", 1)[1].rstrip("]")
                by_kind.setdefault(f"store_limit:{value}", Counter())[out.code.name] += 1
            tally.record(
                f"{call.region.short} {call.rpc.path} as {call.who.name} {call.label} "
                f"({len(call.payload)} B)",
                out.code,
                out.details,
                precise,
                bucket=f"{kind}:{call.rpc.path}" if kind in ("hostile", "store_limit") else kind,
            )
            if not (oversize and out.code is grpc.StatusCode.RESOURCE_EXHAUSTED):
                ledger.expect(call.region, call.who, call.rpc.path, out.code)
    ledger.settle(tally)
    harness.check_nodes(tally, targets)
    tally.notes["methods"] = len(methods)
    tally.notes["codes_by_kind"] = {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())}
    tally.notes["seed"] = seed
    tally.notes["per_method"] = per_method
    tally.notes["store_limits"] = store_limits
    tally.notes["calls"] = len(calls)
    return tally


# --- faults behind a forwarding region ----------------------------------------------------------
FORWARDED_ITEM = "YRD-JS-QY-0101"  # owned by Jiangsu; the Shanghai window forwards it


def run_forwarded_faults(
    harness: Harness, window: Region = Region.SH, owner: Region = Region.JS
) -> Tally:
    """Hostile JSON the window forwards untouched: the owner's refusal must come back precise
    (not INTERNAL at the owner, and not re-labelled UNAVAILABLE by the window)."""
    from nodes.pb.v1 import case_pb2

    tally = Tally("forwarded_faults")
    op = harness.operator()
    path = "/yrd.federation.v1.CaseService/SubmitCase"
    ledger = AuditLedger(harness, [window, owner])
    for i, text in enumerate(JSON_HOSTILE):
        request = case_pb2.SubmitCaseRequest(
            request_id=f"fwd-{i}",
            item_code=FORWARDED_ITEM,
            owner_region=owner.code,
            window_id="SH-W-FWD",
            requested_json=text,
        )
        out = raw_unary(
            harness.channel(window, op),
            path,
            request.SerializeToString(),
            timeout_s=CALL_TIMEOUT_S * 3,
        )
        tally.record(
            f"{window.short} -> {owner.short} SubmitCase requested_json={text[:24]!r}",
            out.code,
            out.details,
            out.code in PRECISE or out.code is grpc.StatusCode.OK,
            bucket=out.code.name,
        )
        ledger.expect(window, op, path, out.code)
    ledger.settle(tally)
    harness.check_nodes(tally, [window, owner])
    return tally
