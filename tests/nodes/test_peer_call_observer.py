"""The grpc.aio unary peer-call observer: each call's end is recorded with its real status,
the caller still gets the response or the error, and a caller's cancellation reaches the call.

A real grpc.aio server on localhost (generic handlers, raw bytes) stands for the peer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from nodes.observability.metrics import NodeMetrics
from nodes.observability.rpc_client import AioPeerCallObserver

TARGET = "peer.test"


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def _missing(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    return b""


async def _slow(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await asyncio.sleep(5)
    return request


def _handlers() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "t.Peer",
        {
            name: grpc.unary_unary_rpc_method_handler(fn)
            for name, fn in (("Echo", _echo), ("Missing", _missing), ("Slow", _slow))
        },
    )


def _count(metrics: NodeMetrics, method: str, status: str) -> float:
    value = metrics.registry.get_sample_value(
        "yrd_rpc_client_duration_seconds_count",
        {"method": method, "target": TARGET, "status": status},
    )
    return value or 0.0


async def _scenario(metrics: NodeMetrics) -> dict[str, Any]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handlers(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    out: dict[str, Any] = {}
    try:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", interceptors=[AioPeerCallObserver(TARGET, metrics, None)]
        ) as channel:
            echo = channel.unary_unary("/t.Peer/Echo")
            missing = channel.unary_unary("/t.Peer/Missing")
            slow = channel.unary_unary("/t.Peer/Slow")
            out["echo"] = await echo(b"hello", timeout=5)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await missing(b"x", timeout=5)
            out["missing"] = err.value.code()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await slow(b"x", timeout=0.05)
            out["deadline"] = err.value.code()
            call = slow(b"x", timeout=5)
            await asyncio.sleep(0.05)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await asyncio.sleep(0.05)  # let the interceptor task see the cancellation
            out["echo_after"] = await echo(b"again", timeout=5)
    finally:
        await server.stop(None)
    return out


def test_aio_unary_observer_records_status_and_passes_results_through() -> None:
    metrics = NodeMetrics("test-node")
    out = asyncio.run(_scenario(metrics))
    assert out["echo"] == b"hello"
    assert out["echo_after"] == b"again"
    assert out["missing"] == grpc.StatusCode.NOT_FOUND
    assert out["deadline"] == grpc.StatusCode.DEADLINE_EXCEEDED
    assert _count(metrics, "/t.Peer/Echo", "OK") == 2
    assert _count(metrics, "/t.Peer/Missing", "NOT_FOUND") == 1
    assert _count(metrics, "/t.Peer/Slow", "DEADLINE_EXCEEDED") == 1
    assert _count(metrics, "/t.Peer/Slow", "CANCELLED") == 1
