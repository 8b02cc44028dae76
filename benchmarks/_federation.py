"""Benchmark helpers on a running federation: CPU of several nodes, readiness, echo calls, a
region's identity (minted tokens are `nodes.fixtures.tokens`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from benchmarks._load import Call
from federation.regions import Region
from nodes.ops.process_cpu import ProcessCpu
from nodes.ops.provisioning import Layout
from nodes.pb.v1 import diagnostics_pb2, diagnostics_pb2_grpc
from nodes.peering.channels import secure_channel
from nodes.tls import TlsMaterial


class ProcessesCpu(ProcessCpu):
    """CPU seconds used so far by several processes together (e.g. every node a call touches)."""

    def __init__(self, pids: Sequence[int]) -> None:
        super().__init__(pids[0])
        self._all = [ProcessCpu(pid) for pid in pids]

    def seconds(self) -> float | None:
        values = [p.seconds() for p in self._all]
        return None if any(v is None for v in values) else sum(v or 0.0 for v in values)


@dataclass(frozen=True)
class Readiness:
    """How long the first successful call took after the nodes started, and how many failed."""

    seconds: float
    failures: int


def wait_until_ok(call: Call, timeout_s: float = 30.0, pause_s: float = 0.25) -> tuple[float, int]:
    """Retry `call` until it succeeds (peer channels may still be in reconnect backoff after
    the nodes started in parallel); returns (seconds waited, failed attempts)."""
    start = time.monotonic()
    failures = 0
    while True:
        try:
            call()
        except Exception:
            failures += 1
            if time.monotonic() - start > timeout_s:
                raise
            time.sleep(pause_s)
            continue
        return time.monotonic() - start, failures


def echo_call(channel: grpc.Channel, payload: bytes, timeout_s: float) -> Call:
    """DiagnosticsService/Echo: the raw mTLS round trip to a node, the baseline of every ratio."""
    echo = diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).Echo
    request = diagnostics_pb2.EchoRequest(payload=payload)

    def call() -> object:
        reply = echo(request, timeout=timeout_s)
        if len(reply.payload) != len(payload):
            raise RuntimeError("echo answered a different payload")
        return reply

    return call


def region_channel(
    directory: Path, identity: Region, endpoint: str, target: Region
) -> grpc.Channel:
    """A channel to `target` at `endpoint` carrying `identity`'s node certificate: the benchmark
    calls a peer exactly as that region's node does (region-only RPCs such as
    ListLocalLicences), checking the node answering is `target`."""
    layout = Layout(directory.resolve())
    node = layout.node_dir(identity)
    tls = TlsMaterial.load(layout.ca_cert, node / "tls.crt", node / "tls.key")
    return secure_channel(endpoint, tls.channel_credentials(), target.entity_id)
