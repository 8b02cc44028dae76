"""Link probes (Echo through each directed link's proxy, as its source node) and the proxy's
own overhead (Echo through a zero-delay proxy against a direct channel, in the same run)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import grpc
import numpy as np

from federation.regions import Region
from nodes.lab.controller import Lab
from nodes.lab.topology import LinkSpec, link_key
from nodes.lab.workload import Operation
from nodes.ops.provisioning import Layout
from nodes.pb.v1 import diagnostics_pb2, diagnostics_pb2_grpc
from nodes.peering.channels import secure_channel
from nodes.tls import TlsMaterial

PROBE_PAYLOAD = b"lab-link-probe" * 4
LINK_PREFIX = "link:"


def node_channel(layout: Layout, identity: Region, endpoint: str, target: Region) -> grpc.Channel:
    """A channel to `target` at `endpoint` carrying `identity`'s node certificate (as that node
    calls); the handshake checks the node answering, through any proxy, is `target`."""
    node = layout.node_dir(identity)
    tls = TlsMaterial.load(layout.ca_cert, node / "tls.crt", node / "tls.key")
    return secure_channel(endpoint, tls.channel_credentials(), target.entity_id)


def _echo_ok(reply: Any) -> str | None:
    return None if reply.payload == PROBE_PAYLOAD else "WRONG_PAYLOAD"


def link_probes(lab: Lab) -> tuple[dict[str, Operation], list[grpc.Channel]]:
    """One Echo operation per directed link A->B, sent by A's identity through A->B's proxy."""
    ops: dict[str, Operation] = {}
    channels = []
    request = diagnostics_pb2.EchoRequest(payload=PROBE_PAYLOAD)
    for a, b in itertools.permutations(Region, 2):
        channel = node_channel(lab.layout, a, lab.proxy_endpoint(a, b), b)
        channels.append(channel)
        name = LINK_PREFIX + link_key(a, b)
        ops[name] = Operation(
            name, b, diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).Echo, [request], _echo_ok
        )
    return ops, channels


def _quantiles_us(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1e6
    return {f"p{q:g}_us": round(float(np.percentile(arr, q)), 1) for q in (50, 90, 99)} | {
        "count": len(samples)
    }


def proxy_overhead(lab: Lab, target: Region, echoes: int) -> dict[str, Any]:
    """Echo to `target` directly and through a zero-delay proxy, alternating call by call."""
    assert lab.farm is not None
    host, _, port = lab.node_endpoints[target].rpartition(":")
    proxy_port = lab.farm.add(
        "overhead", (host, int(port)), LinkSpec.ideal(), LinkSpec.ideal(), lab.node_ports()
    )
    direct = node_channel(lab.layout, Region.HUB, lab.node_endpoints[target], target)
    proxied = node_channel(lab.layout, Region.HUB, f"127.0.0.1:{proxy_port}", target)
    request = diagnostics_pb2.EchoRequest(payload=PROBE_PAYLOAD)
    calls = {
        "direct": diagnostics_pb2_grpc.DiagnosticsServiceStub(direct).Echo,
        "proxied": diagnostics_pb2_grpc.DiagnosticsServiceStub(proxied).Echo,
    }
    samples: dict[str, list[float]] = {"direct": [], "proxied": []}
    try:
        for call in calls.values():  # connect and warm both before timing
            for _ in range(20):
                call(request, timeout=5.0)
        for i in range(echoes):
            order = ("direct", "proxied") if i % 2 == 0 else ("proxied", "direct")
            for name in order:
                t0 = time.perf_counter()
                calls[name](request, timeout=5.0)
                samples[name].append(time.perf_counter() - t0)
    finally:
        direct.close()
        proxied.close()
    d, p = _quantiles_us(samples["direct"]), _quantiles_us(samples["proxied"])
    return {
        "what": f"DiagnosticsService.Echo ({len(PROBE_PAYLOAD)} B) to {target.code}, direct vs "
        "through a zero-delay lab proxy (in the lab's proxy process), sequential, alternating "
        "call by call, same run, before the load starts",
        "direct": d,
        "proxied": p,
        "ratio_p50": round(p["p50_us"] / d["p50_us"], 3) if d["p50_us"] else None,
        "added_p50_us": round(p["p50_us"] - d["p50_us"], 1),
        "added_p99_us": round(p["p99_us"] - d["p99_us"], 1),
    }
