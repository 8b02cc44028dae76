"""Fuzz corpus over every RPC, generated from the descriptors (new methods join by themselves)."""

from __future__ import annotations

import importlib
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
from federation.regions import Region
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
from tests.adversarial.limits import StoreLimits, is_map, is_repeated

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


class Generator:
    """Well-typed requests with hostile values, from a seeded generator and a size budget."""

    def __init__(self, rng: random.Random, max_bytes: int) -> None:
        self.rng = rng
        self.max_bytes = max_bytes

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
            if is_map(f):
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
                if is_repeated(f):
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
            elif is_repeated(f):
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
        limits = StoreLimits(random.Random(f"{seed}:{region.code}:limits"))
        for rpc in rpcs:
            if rpc.service not in served:
                continue
            for who in identities:
                corpus = [
                    *gen.undecodable(max(2, per_method // 3)),
                    *gen.mutated(rpc, max(2, per_method // 3)),
                    *gen.hostile(rpc, max(4, per_method - 2 * (per_method // 3))),
                    *(limits.requests(rpc) if reaches_handler(rpc, who) else ()),
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
    """`store_limits` adds `limits.STORE_LIMITS` in every string field (PostgreSQL's refusals)."""
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
