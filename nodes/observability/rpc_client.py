"""Client interceptors for calls a node makes to its peers and the hub (sync and grpc.aio).

Each call is timed into `yrd_rpc_client_duration_seconds{method,target,status}` and, with
tracing on, runs in a client span whose W3C `traceparent` (and `tracestate`) is added to the
call's metadata, so the peer's server span continues the same trace. The span's parent is
whatever span is current where the call is made: the served call's span, also on a worker
thread (the node's worker pool copies the caller's context, see `context_pool`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc

from nodes.observability.rpc_server import status_name

if TYPE_CHECKING:
    from nodes.observability.metrics import NodeMetrics
    from nodes.observability.tracing import NodeTracing

Metadata = Sequence[tuple[str, str | bytes]]


class _CallDetails(
    namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,  # type: ignore[misc]
):
    """The sync call details with the trace context added to its metadata."""


def _method_of(details: Any) -> str:
    method = details.method
    return method.decode("ascii") if isinstance(method, bytes) else str(method)


class _Observer:
    """What both flavours share: start a call's span and stamp, and record its end."""

    def __init__(self, target: str, metrics: NodeMetrics | None, tracing: NodeTracing | None):
        self.target = target
        self.metrics = metrics
        self.tracing = tracing

    def begin(self, details: Any) -> tuple[str, float, Any, list[tuple[str, str]] | None]:
        method = _method_of(details)
        span, extra = None, None
        if self.tracing is not None:
            span, extra = self.tracing.start_client(method, self.target)
        return method, time.perf_counter(), span, extra

    def end(self, method: str, start: float, span: Any, status: str) -> None:
        if self.metrics is not None:
            self.metrics.called(method, self.target, status, time.perf_counter() - start)
        if self.tracing is not None:
            self.tracing.end_client(span, status)


def _with(metadata: Metadata | None, extra: list[tuple[str, str]] | None) -> Any:
    if not extra:
        return metadata
    return (*(metadata or ()), *extra)


def _aio_details(details: Any, extra: list[tuple[str, str]] | None) -> Any:
    """grpc.aio call details with `extra` metadata added (the same details when none)."""
    if not extra:
        return details
    return grpc.aio.ClientCallDetails(
        details.method,
        details.timeout,
        _with(details.metadata, extra),
        details.credentials,
        details.wait_for_ready,
    )


class PeerCallObserver(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    """For `grpc.intercept_channel` on a synchronous peer channel."""

    def __init__(self, target: str, metrics: NodeMetrics | None, tracing: NodeTracing | None):
        self._observer = _Observer(target, metrics, tracing)

    def _run(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        method, start, span, extra = self._observer.begin(details)
        if extra:
            details = _CallDetails(
                details.method,
                details.timeout,
                _with(details.metadata, extra),
                details.credentials,
                details.wait_for_ready,
                details.compression,
            )
        outcome = continuation(details, request)
        # a blocking call has already ended (the callback runs at once); a future ends later
        outcome.add_done_callback(
            lambda call: self._observer.end(method, start, span, status_name(call.code()))
        )
        return outcome

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return self._run(continuation, client_call_details, request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return self._run(continuation, client_call_details, request)


class _AioObserver:
    """What the grpc.aio flavours share (grpc.aio files an interceptor under one call kind
    only, the first it implements, so unary and server-streaming calls need a class each)."""

    def __init__(self, target: str, metrics: NodeMetrics | None, tracing: NodeTracing | None):
        self._observer = _Observer(target, metrics, tracing)
        self._pending: set[asyncio.Task[None]] = set()  # keeps the recording tasks alive

    async def _record(self, call: Any, method: str, start: float, span: Any) -> None:
        try:
            status = status_name(await call.code())
        except asyncio.CancelledError:
            status = "CANCELLED"
        self._observer.end(method, start, span, status)

    async def _run(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        method, start, span, extra = self._observer.begin(details)
        call = await continuation(_aio_details(details, extra), request)

        def done(finished: Any) -> None:
            # the status is known once the call is done; `code()` is a coroutine in grpc.aio
            task = asyncio.get_running_loop().create_task(
                self._record(finished, method, start, span)
            )
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        call.add_done_callback(done)
        return call


class AioPeerCallObserver(_AioObserver, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Unary calls on a `grpc.aio` peer channel.

    A unary call is awaited here, inside the interceptor's own task (grpc.aio runs the
    interceptors in a task the caller's await waits for), so its end is recorded inline: no
    done-callback and no extra task per call. The finished call is returned, so the caller
    still gets its response, or its `AioRpcError`, from it.
    """

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        observer = self._observer
        method, start, span, extra = observer.begin(client_call_details)
        details = _aio_details(client_call_details, extra)
        call = None
        try:
            call = await continuation(details, request)
            with contextlib.suppress(grpc.RpcError):  # the caller gets it from the call
                await call
            status = status_name(await call.code())
        except asyncio.CancelledError:
            # the caller cancelled while the call ran: grpc.aio cancels only this task then
            if call is not None:
                call.cancel()
            observer.end(method, start, span, "CANCELLED")
            raise
        except BaseException:
            observer.end(method, start, span, "UNKNOWN")
            raise
        observer.end(method, start, span, status)
        return call


class AioPeerStreamObserver(_AioObserver, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Server-streaming calls on a `grpc.aio` peer channel (forwarded case watches)."""

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await self._run(continuation, client_call_details, request)


__all__ = ["AioPeerCallObserver", "AioPeerStreamObserver", "PeerCallObserver"]
