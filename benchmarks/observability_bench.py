"""Observability overhead: a unary call through the node's observing interceptor vs without it.

Run ``python benchmarks/observability_bench.py`` (``--calls N`` per configuration and round,
``--rounds R``; ``--quick`` for a smoke run); prints one JSON document. One process runs four
`grpc.aio` servers answering the same coroutine echo on loopback: ``off`` (no observing
interceptor: the baseline), ``metrics`` (the node's Prometheus series), ``metrics+log`` (and
the JSON access log) and ``metrics+log+traces`` (and a server span exported to a span file).
Every server has, as a node does, an interceptor wrapping its handler; the observing one goes
in front of it. Calls go to the servers sequentially in ABBA order round after round, so
machine noise falls on all four alike. The report gives p50/p90/p99 per configuration, its
ratio and added microseconds over ``off``, and the process CPU time per call (steadier than
latency on a busy machine; it includes the access-log writer and span exporter threads). The
servers use plaintext, so the caller is "unknown" and the certificate cache is not exercised.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from benchmarks._latency import nearest_rank
from nodes.observability.access_log import AccessLog
from nodes.observability.metrics import NodeMetrics
from nodes.observability.rpc_server import ObservingInterceptor
from nodes.observability.tracing import NodeTracing

METHOD = "/bench.Echo/Ping"
CONFIGS = ("off", "metrics", "metrics+log", "metrics+log+traces")
PAYLOAD = b"x" * 64


async def _ping(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


class _Wrapping(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """What a node always has: one interceptor wrapping each handler in a coroutine of its own
    (the federation interceptor's admission work is left out: it is the same in every config)."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        wrapped = self._wrapped.get(details.method)
        if wrapped is None:
            handler = await continuation(details)
            inner = handler.unary_unary

            async def call(request: bytes, context: grpc.aio.ServicerContext) -> Any:
                return await inner(request, context)

            wrapped = self._wrapped[details.method] = grpc.unary_unary_rpc_method_handler(call)
        return wrapped


def _interceptors(config: str, folder: Path) -> tuple[list[Any], list[Any]]:
    """The server interceptors of a configuration, and what to close afterwards."""
    if config == "off":
        return [_Wrapping()], []
    metrics = NodeMetrics("yrd:bench:000000")
    access = AccessLog(folder / f"{config}.log") if "log" in config else None
    tracing = (
        NodeTracing("yrd:bench:000000", f"file:{folder / 'spans.jsonl'}")
        if "traces" in config
        else None
    )
    closers = [c for c in (access, tracing) if c is not None]
    return [ObservingInterceptor(metrics, tracing, access), _Wrapping()], closers


async def _measure(
    calls: int, rounds: int, warmup: int, folder: Path
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Latency samples (us) per configuration, and the process CPU time each one's blocks took
    (client, server, and the background writer and exporter threads: all in this process)."""
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Ping": grpc.unary_unary_rpc_method_handler(_ping)}
    )
    servers, channels, closers = {}, {}, []
    for config in CONFIGS:
        interceptors, closing = _interceptors(config, folder)
        closers += closing
        server = grpc.aio.server(interceptors=interceptors)
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers[config] = server
        channels[config] = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stubs = {c: ch.unary_unary(METHOD) for c, ch in channels.items()}
    samples: dict[str, list[float]] = {c: [] for c in CONFIGS}
    cpu: dict[str, float] = dict.fromkeys(CONFIGS, 0.0)
    try:
        for config in CONFIGS:
            for _ in range(warmup):
                await stubs[config](PAYLOAD)
        for round_no in range(rounds):
            order = CONFIGS if round_no % 2 == 0 else tuple(reversed(CONFIGS))  # ABBA
            for config in order:
                stub, out = stubs[config], samples[config]
                cpu_start = time.process_time()
                for _ in range(calls):
                    start = time.perf_counter()
                    await stub(PAYLOAD)
                    out.append((time.perf_counter() - start) * 1e6)
                cpu[config] += time.process_time() - cpu_start
    finally:
        for ch in channels.values():
            await ch.close()
        for server in servers.values():
            await server.stop(None)
        for closer in closers:
            (closer.close if isinstance(closer, AccessLog) else closer.shutdown)()
    return samples, cpu


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {f"p{q}": round(nearest_rank(ordered, q), 1) for q in (50, 90, 99)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500, help="calls per config and round")
    parser.add_argument("--rounds", type=int, default=8, help="ABBA rounds (8)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    calls, rounds, warmup = (50, 2, 20) if args.quick else (args.calls, args.rounds, 200)
    if calls < 1 or rounds < 1:
        parser.error("--calls and --rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="yrd-obs-bench-") as tmp:
        samples, cpu = asyncio.run(_measure(calls, rounds, warmup, Path(tmp)))
    cpu_us = {c: round(cpu[c] / (calls * rounds) * 1e6, 1) for c in CONFIGS}
    base = _summary(samples["off"])
    report: dict[str, Any] = {
        "benchmark": "observability_bench",
        "command": " ".join(["python", "benchmarks/observability_bench.py", *(argv or [])]),
        "machine": {"python": platform.python_version(), "grpc": grpc.__version__},
        "setup": {"calls_per_config": calls * rounds, "rounds": rounds, "order": "ABBA"},
        "baseline": "off: the same coroutine echo behind a wrapping interceptor, no observing one",
        "latency_us": {c: _summary(v) for c, v in samples.items()},
        "ratio_over_off": {
            c: {p: round(_summary(v)[p] / base[p], 3) for p in base} for c, v in samples.items()
        },
        "added_us_p50": {c: round(_summary(v)["p50"] - base["p50"], 1) for c, v in samples.items()},
        # CPU is steadier than latency on a shared machine: what each call cost this process
        "cpu_us_per_call": cpu_us,
        "added_cpu_us_per_call": {c: round(cpu_us[c] - cpu_us["off"], 1) for c in CONFIGS},
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
