"""Shared machinery of the adversarial suite: identities, raw channels, outcomes, audit, tallies."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.crypto.pki import (
    cert_to_pem,
    create_root_ca,
    issue_node_certificate,
    key_to_pem,
    load_cert_pem,
    load_private_key_pem,
)
from federation.regions import Region
from federation.storage import open_store
from federation.trust.trustlist import TrustList
from nodes.config import load_config
from nodes.ops.provisioning import OPERATOR_ENTITY, Layout, read_trust_list
from nodes.ops.supervisor import Federation
from nodes.peering.channels import MIN_CONNECT_TIMEOUT_MS
from nodes.peering.targets import server_name_options

CALL_TIMEOUT_S = 5.0
HEALTH_TIMEOUT_S = 5.0
OK = grpc.StatusCode.OK
PRECISE = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)
# Refusals the application cannot audit: the transport gave up before any handler ran.
TRANSPORT_ONLY = frozenset(
    {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE}
)
AUDIT_FAILURE = b"could not append to the audit log"  # nodes/runtime.py logs this and carries on
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # the minimum time a connection attempt gets (see nodes.peering.channels): not 100 ms
    ("grpc.min_reconnect_backoff_ms", MIN_CONNECT_TIMEOUT_MS),
]


# --- tallies ------------------------------------------------------------------------------------
@dataclass
class Tally:
    """Counts of one attack. `imprecise`, `crashes`, `lost` and `unaudited` must all stay 0."""

    attack: str
    tried: int = 0
    refused_precisely: int = 0
    ok: int = 0
    imprecise: int = 0
    crashes: int = 0
    lost: int = 0
    unaudited: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    _buckets: Counter[str] = field(default_factory=Counter)

    def sample(self, text: str, limit: int = 40, bucket: str = "", per_bucket: int = 2) -> None:
        """Keep a few examples, at most `per_bucket` of each kind, so every defect shows."""
        if bucket:
            self._buckets[bucket] += 1
            if self._buckets[bucket] > per_bucket:
                return
        if len(self.samples) < limit:
            self.samples.append(text[:300])

    def record(
        self, what: str, code: grpc.StatusCode, details: str, acceptable: bool, bucket: str = ""
    ) -> None:
        """One attempt: `acceptable` says whether `code` is a precise answer to this attack."""
        self.tried += 1
        self.codes[code.name] += 1
        if acceptable and code is OK:
            self.ok += 1
        elif acceptable:
            self.refused_precisely += 1
        else:
            self.imprecise += 1
            self.sample(f"{what} -> {code.name}: {details}", bucket=f"{bucket}:{code.name}")

    @property
    def clean(self) -> bool:
        return self.imprecise == self.crashes == self.lost == self.unaudited == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "tried": self.tried,
            "refused_precisely": self.refused_precisely,
            "ok": self.ok,
            "imprecise": self.imprecise,
            "crashes": self.crashes,
            "lost": self.lost,
            "unaudited": self.unaudited,
            "codes": dict(sorted(self.codes.items())),
            "samples": list(self.samples),
            "notes": dict(self.notes),
        }

    def explain(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str)


def assert_clean(tally: Tally) -> None:
    """The suite's one assertion per attack: no imprecise answer, crash, loss or silent refusal."""
    assert tally.clean, (
        f"{tally.attack}: imprecise={tally.imprecise} crashes={tally.crashes} lost={tally.lost} "
        f"unaudited={tally.unaudited}\n{tally.explain()}"
    )


# --- identities ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """Client-side TLS material; `entity_id` is what the node's audit log calls us."""

    name: str
    entity_id: str
    ca: bytes
    cert: bytes | None
    key: bytes | None

    def credentials(self) -> grpc.ChannelCredentials:
        if self.cert is None or self.key is None:
            return grpc.ssl_channel_credentials(root_certificates=self.ca)
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )


class Harness:
    """One federation directory under attack, optionally with the processes we own."""

    def __init__(self, directory: Path, fed: Federation | None = None) -> None:
        self.layout = Layout(directory.resolve())
        self.fed = fed
        self.trust_list: TrustList = read_trust_list(self.layout)
        self._channels: dict[tuple[str, str], grpc.Channel] = {}
        self._ca = self.layout.ca_cert.read_bytes()

    # identities
    def operator(self) -> Identity:
        op = self.layout.operator_dir
        return Identity(
            "operator",
            OPERATOR_ENTITY,
            self._ca,
            (op / "tls.crt").read_bytes(),
            (op / "tls.key").read_bytes(),
        )

    def region(self, region: Region) -> Identity:
        node = self.layout.node_dir(region)
        return Identity(
            f"region-{region.short}",
            region.entity_id,
            self._ca,
            (node / "tls.crt").read_bytes(),
            (node / "tls.key").read_bytes(),
        )

    def unlisted(self, entity_id: str = "yrd:rogue:999999", code: str = "999999") -> Identity:
        """Chained to the federation root but absent from the trust list."""
        ca_key = load_private_key_pem(self.layout.ca_key.read_bytes())
        ca_cert = load_cert_pem(self._ca)
        key, cert = issue_node_certificate(ca_key, ca_cert, entity_id, code)
        return Identity(
            f"unlisted-{entity_id}", entity_id, self._ca, cert_to_pem(cert), key_to_pem(key)
        )

    def foreign(self, entity_id: str = Region.SH.entity_id, code: str = "310000") -> Identity:
        """A certificate naming a member but signed by another CA."""
        other_key, other_ca = create_root_ca("Impostor Root")
        key, cert = issue_node_certificate(other_key, other_ca, entity_id, code)
        return Identity("foreign-ca", entity_id, self._ca, cert_to_pem(cert), key_to_pem(key))

    def anonymous(self) -> Identity:
        return Identity("no-client-cert", "", self._ca, None, None)

    # channels
    def endpoint(self, region: Region) -> str:
        role = "hub" if region is Region.HUB else "region"
        return self.trust_list.member_by_region(region.code, role=role).endpoint

    def options(self, region: Region) -> list[tuple[str, Any]]:
        """Channel options to `region`: the handshake checks its node is the one answering."""
        role = "hub" if region is Region.HUB else "region"
        member = self.trust_list.member_by_region(region.code, role=role)
        return [*CHANNEL_OPTIONS, *server_name_options(member.entity_id)]

    def channel(self, region: Region, who: Identity) -> grpc.Channel:
        key = (region.code, who.name)
        if key not in self._channels:
            self._channels[key] = grpc.secure_channel(
                self.endpoint(region), who.credentials(), options=self.options(region)
            )
        return self._channels[key]

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def drop_channels(self, region: Region) -> None:
        for key in [k for k in self._channels if k[0] == region.code]:
            self._channels.pop(key).close()

    # node state
    def max_message_bytes(self, region: Region) -> int:
        return load_config(self.layout.config(region)).max_message_bytes

    def health(self, region: Region, timeout_s: float = HEALTH_TIMEOUT_S) -> str:
        """SERVING / NOT_SERVING, or the status code name when the check itself failed."""
        stub = health_pb2_grpc.HealthStub(self.channel(region, self.operator()))
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError as exc:
            return f"{exc.code().name}: {exc.details()}"
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    def alive(self, region: Region) -> bool:
        if self.fed is None or region not in self.fed.procs:
            return True  # not ours to watch: health alone decides
        return self.fed.procs[region].poll() is None

    def check_nodes(self, tally: Tally, regions: Iterable[Region]) -> None:
        """Count a crash for every node that died or does not answer SERVING."""
        for region in regions:
            status = self.health(region)
            if not self.alive(region) or status != "SERVING":
                tally.crashes += 1
                tally.sample(
                    f"{region.short} after {tally.attack}: alive={self.alive(region)} "
                    f"health={status}"
                )

    def backend(self, region: Region = Region.SH) -> str:
        """`sqlite` or `postgresql`: the store a node was provisioned with."""
        url = load_config(self.layout.config(region)).store_url
        return "postgresql" if url.startswith(("postgresql:", "postgres:")) else "sqlite"

    def store(self, region: Region) -> Any:
        return open_store(load_config(self.layout.config(region)).store_url)

    def audit_head(self, region: Region) -> int:
        store = self.store(region)
        try:
            return int(store.audit_head()[0])
        finally:
            store.close()

    def audit_since(self, region: Region, after_seq: int) -> list[Any]:
        store = self.store(region)
        try:
            return list(store.audit_entries(after_seq))
        finally:
            store.close()


# --- calls --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    details: str
    replies: int = 0
    reply: Any = None


def outcome_of(fn: Callable[[], Any]) -> Outcome:
    try:
        reply = fn()
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        return Outcome(code or grpc.StatusCode.UNKNOWN, str(exc.details() or ""))
    return Outcome(OK, "", reply=reply)


def raw_unary(
    channel: grpc.Channel, path: str, payload: bytes, timeout_s: float = CALL_TIMEOUT_S
) -> Outcome:
    call = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
    return outcome_of(lambda: call(payload, timeout=timeout_s))


def raw_stream(
    channel: grpc.Channel,
    path: str,
    payload: bytes,
    timeout_s: float = CALL_TIMEOUT_S,
    max_replies: int = 3,
) -> Outcome:
    """A server stream read for at most `max_replies` messages; still open then counts as OK."""
    call = channel.unary_stream(path, request_serializer=None, response_deserializer=None)
    replies = 0
    stream: Any = None
    try:
        stream = call(payload, timeout=timeout_s)
        for _ in stream:
            replies += 1
            if replies >= max_replies:
                stream.cancel()
                return Outcome(OK, "", replies)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        if code is grpc.StatusCode.CANCELLED and replies >= max_replies:
            return Outcome(OK, "", replies)
        return Outcome(code or grpc.StatusCode.UNKNOWN, str(exc.details() or ""), replies)
    return Outcome(OK, "", replies)


# --- audit matching -----------------------------------------------------------------------------
class AuditLedger:
    """What we expect each node's audit log to show for our refused calls."""

    def __init__(self, harness: Harness, regions: Iterable[Region]) -> None:
        self._h = harness
        self._heads = {r: harness.audit_head(r) for r in regions}
        self._log_sizes = {r: self._log_size(r) for r in self._heads}
        self._expected: dict[Region, Counter[tuple[str, str, str]]] = {
            r: Counter() for r in self._heads
        }

    def expect(self, region: Region, who: Identity, path: str, code: grpc.StatusCode) -> None:
        """A refusal that reached the node: it must appear as `refused:<CODE>` for `path`.

        RESOURCE_EXHAUSTED may be the client's view of an answer too large to deliver (a refusal
        whose message echoes a megabyte of input): any `refused:*` entry then matches.
        """
        if code is OK or code in TRANSPORT_ONLY:
            return
        outcome = (
            "refused:*" if code is grpc.StatusCode.RESOURCE_EXHAUSTED else (f"refused:{code.name}")
        )
        self._expected[region][(who.entity_id, path, outcome)] += 1

    def missing(self) -> list[tuple[str, int, str]]:
        """(outcome, how many missing, description) per expectation the log does not meet."""
        out: list[tuple[str, int, str]] = []
        for region, expected in self._expected.items():
            if not expected:
                continue
            seen: Counter[tuple[str, str, str]] = Counter()
            for e in self._h.audit_since(region, self._heads[region]):
                seen[(e.actor, e.action, e.outcome)] += 1
                if e.outcome.startswith("refused:"):
                    seen[(e.actor, e.action, "refused:*")] += 1
            for key, count in sorted(expected.items()):
                short = count - seen.get(key, 0)
                if short > 0:
                    out.append(
                        (
                            key[2],
                            short,
                            f"{region.short} {key[1]} {key[2]} by {key[0]}: "
                            f"{short} of {count} refusals not in the audit log",
                        )
                    )
        return out

    def _log(self, region: Region) -> Path:
        return self._h.layout.node_dir(region) / "node.log"

    def _log_size(self, region: Region) -> int:
        try:
            return self._log(region).stat().st_size
        except OSError:
            return 0

    def swallowed(self) -> int:
        """Audit appends the nodes logged as failed (and answered anyway) since we started."""
        failed = 0
        for region, size in self._log_sizes.items():
            try:
                with self._log(region).open("rb") as log:
                    log.seek(size)
                    failed += log.read().count(AUDIT_FAILURE)
            except OSError:
                continue
        return failed

    def node_errors(self, limit: int = 10) -> list[str]:
        """ERROR lines (an unmapped exception, a failed audit append) the nodes logged since."""
        lines: list[str] = []
        for region, size in self._log_sizes.items():
            try:
                with self._log(region).open("rb") as log:
                    log.seek(size)
                    text = log.read().decode("utf-8", "replace")
            except OSError:
                continue
            lines += [f"{region.short}: {ln[:400]}" for ln in text.splitlines() if "ERROR" in ln]
        return lines[:limit]

    def settle(self, tally: Tally) -> None:
        for outcome, short, line in self.missing():
            tally.unaudited += short
            tally.sample(line, bucket=f"unaudited:{outcome}", per_bucket=4)
        swallowed = self.swallowed()
        tally.notes["audit_failures_logged"] = swallowed
        errors = self.node_errors()
        if errors:  # what a node said about an INTERNAL or UNAVAILABLE answer
            tally.notes["node_error_lines"] = errors
        if swallowed and not tally.unaudited:
            tally.unaudited += swallowed
            tally.sample(f"{swallowed} audit appends failed on the node (logged, then ignored)")


def wait_until(check: Callable[[], bool], timeout_s: float, pause_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(pause_s)
    return check()


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
