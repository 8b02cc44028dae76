"""Coroutine unary servicers are admitted by the same per-caller budget as synchronous ones."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from nodes.pb.v1 import diagnostics_pb2
from nodes.server.interceptors import Budget, FederationInterceptor, caller, forwarded_for
from nodes.tls import Peer

METHOD = "/yrd.federation.v1.DiagnosticsService/Echo"


class FakeContext:
    """Just enough of a grpc.aio context: an abort records its status and raises."""

    def __init__(self, origin: str = "") -> None:
        self.code: grpc.StatusCode | None = None
        self.details = ""
        self._metadata = (("yrd-forwarded-for", origin),) if origin else ()

    def invocation_metadata(self) -> Any:
        return self._metadata

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code, self.details = code, details
        raise grpc.aio.AbortError()


def make_interceptor(budget: Budget, refusals: list[tuple[str, grpc.StatusCode]]) -> Any:
    interceptor = FederationInterceptor(
        trust=lambda: None,  # type: ignore[arg-type,return-value]
        roles={},
        on_refusal=lambda label, method, code, message: refusals.append((label, code)),
        workers=ThreadPoolExecutor(1),
        unary_budget=budget,
        stream_budget=Budget("open streams", 8, 8),
    )
    # admission by trust list is tested elsewhere: here each context names its caller
    interceptor._peer = lambda context: Peer("fp-" + context.who, context.who)
    interceptor._admit = lambda method, peer: SimpleNamespace(entity_id=peer.entity_id)
    return interceptor


def test_an_async_servicer_is_refused_when_its_callers_budget_is_full() -> None:
    budget = Budget("calls in progress", total=4, per_caller=1)
    refusals: list[tuple[str, grpc.StatusCode]] = []
    interceptor = make_interceptor(budget, refusals)
    seen: list[tuple[str, str]] = []

    async def scenario() -> None:
        release = asyncio.Event()

        async def echo(request: Any, context: Any) -> Any:
            seen.append((caller().entity_id, forwarded_for()))
            await release.wait()
            return diagnostics_pb2.EchoResponse(payload=request.payload)

        handler = grpc.unary_unary_rpc_method_handler(
            echo,
            request_deserializer=diagnostics_pb2.EchoRequest.FromString,
            response_serializer=diagnostics_pb2.EchoResponse.SerializeToString,
        )
        call = interceptor._wrap(METHOD, handler).unary_unary
        raw = diagnostics_pb2.EchoRequest(payload=b"x").SerializeToString()

        def context(who: str, origin: str = "") -> FakeContext:
            ctx = FakeContext(origin)
            ctx.who = who  # type: ignore[attr-defined]
            return ctx

        first = asyncio.create_task(call(raw, context("region-a", "person-1")))
        while not seen:
            await asyncio.sleep(0)
        assert budget.in_use() == 1

        refused = context("region-a")
        with pytest.raises(grpc.aio.AbortError):
            await call(raw, refused)
        assert refused.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limit 1" in refused.details
        assert refusals == [("region-a", grpc.StatusCode.RESOURCE_EXHAUSTED)]

        other = asyncio.create_task(call(raw, context("region-b")))
        while len(seen) < 2:
            await asyncio.sleep(0)
        assert budget.in_use() == 2

        release.set()
        assert (await first).payload == b"x"
        assert (await other).payload == b"x"

    asyncio.run(scenario())
    assert seen == [("region-a", "person-1"), ("region-b", "")]
    assert budget.in_use() == 0  # released after the coroutine answered


def test_an_async_servicer_releases_its_budget_when_it_fails() -> None:
    budget = Budget("calls in progress", total=4, per_caller=1)
    refusals: list[tuple[str, grpc.StatusCode]] = []
    interceptor = make_interceptor(budget, refusals)

    async def broken(request: Any, context: Any) -> Any:
        raise RuntimeError("boom")

    handler = grpc.unary_unary_rpc_method_handler(
        broken, request_deserializer=diagnostics_pb2.EchoRequest.FromString
    )
    ctx = FakeContext()
    ctx.who = "region-a"  # type: ignore[attr-defined]

    async def scenario() -> None:
        with pytest.raises(grpc.aio.AbortError):
            await interceptor._wrap(METHOD, handler).unary_unary(b"", ctx)

    asyncio.run(scenario())
    assert ctx.code is grpc.StatusCode.INTERNAL
    assert budget.in_use() == 0
