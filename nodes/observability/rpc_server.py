"""Server interceptor: time, count, trace and log every served RPC.

It is installed first in the server's interceptor list, so it wraps what the federation
interceptor returns and sees the whole call: admission, refusal, queueing for a worker, the
servicer and the status the call ends with. Health and reflection are left out (probes would
drown the series). What it does per call depends on what is configured: with metrics, tracing
and the access log all off the node does not install it at all.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc

from nodes.tls import peer_of

if TYPE_CHECKING:
    from nodes.observability.access_log import AccessLog
    from nodes.observability.metrics import NodeMetrics
    from nodes.observability.tracing import NodeTracing

UNOBSERVED_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
UNKNOWN_PEER = "unknown"


def status_name(code: Any) -> str:
    """A gRPC status as its name ('OK', 'PERMISSION_DENIED'), whatever form grpc gives it in."""
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    if isinstance(code, int):
        for known in grpc.StatusCode:
            if known.value[0] == code:
                return str(known.name)
    return "UNKNOWN"


def _ended(context: grpc.aio.ServicerContext, error: BaseException | None) -> str:
    """The status a call ended with: an abort's code, a set code, or what grpc makes of `error`."""
    if isinstance(error, asyncio.CancelledError | GeneratorExit):  # the caller went away
        return "CANCELLED"
    code = context.code()
    if code is not None:
        return status_name(code)
    return "OK" if error is None else "UNKNOWN"


class _Observed:
    """What is recorded about one call, from its start to its status."""

    __slots__ = ("kind", "method", "peer", "span", "start", "token")

    def __init__(self, method: str, peer: str, kind: str) -> None:
        self.method = method
        self.peer = peer
        self.kind = kind
        self.start = time.perf_counter()
        self.span: Any = None
        self.token: Any = None


class ObservingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Metrics, server spans (W3C trace context from the metadata) and access log lines."""

    def __init__(
        self,
        metrics: NodeMetrics | None,
        tracing: NodeTracing | None,
        access: AccessLog | None,
    ) -> None:
        self._metrics = metrics
        self._tracing = tracing
        self._access = access
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}
        self._peers: dict[bytes, str] = {}
        self._lock = threading.Lock()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        method: str = details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:  # the inner interceptor hands out one handler per method
            return wrapped
        handler = await continuation(details)
        if handler is None or method.startswith(UNOBSERVED_PREFIXES):
            return handler
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped

    # --- who is calling: the entity id in the verified client certificate -------------
    def _peer(self, context: grpc.aio.ServicerContext) -> str:
        pems = context.auth_context().get("x509_pem_cert")
        if not pems:
            return UNKNOWN_PEER
        known = self._peers.get(pems[0])
        if known is None:
            peer = peer_of(context)
            known = (peer.label if peer is not None else "") or UNKNOWN_PEER
            with self._lock:
                if len(self._peers) > 1024:  # certificates chain to the root: few, but bounded
                    self._peers.clear()
                self._peers[pems[0]] = known
        return known

    # --- one call -------------------------------------------------------------------
    def _begin(self, method: str, kind: str, context: grpc.aio.ServicerContext) -> _Observed:
        seen = _Observed(method, self._peer(context), kind)
        if self._metrics is not None:
            self._metrics.in_flight(kind).inc()
        if self._tracing is not None:
            seen.span, seen.token = self._tracing.start_server(
                method, seen.peer, context.invocation_metadata()
            )
        return seen

    def _end(self, seen: _Observed, status: str) -> None:
        seconds = time.perf_counter() - seen.start
        if self._metrics is not None:
            self._metrics.in_flight(seen.kind).dec()
            self._metrics.served(seen.method, seen.peer, status, seconds)
        trace_id = ""
        if self._tracing is not None:
            trace_id = self._tracing.end_server(seen.span, seen.token, status)
        if self._access is not None:
            self._access.record(seen.method, seen.peer, status, seconds, trace_id)

    # --- wrapping --------------------------------------------------------------------
    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary:
            behaviour, make = handler.unary_unary, grpc.unary_unary_rpc_method_handler
        elif handler.unary_stream:
            behaviour, make = handler.unary_stream, grpc.unary_stream_rpc_method_handler
        elif handler.stream_unary:
            behaviour, make = handler.stream_unary, grpc.stream_unary_rpc_method_handler
        else:
            behaviour, make = handler.stream_stream, grpc.stream_stream_rpc_method_handler
        if inspect.iscoroutinefunction(behaviour):
            observed: Callable[..., Any] = self._call(method, behaviour)
        elif inspect.isasyncgenfunction(behaviour):
            observed = self._stream(method, behaviour)
        else:  # a synchronous handler runs on grpc's pool: nothing to wrap it in on the loop
            return handler
        return make(  # type: ignore[no-any-return]
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _call(self, method: str, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            seen = self._begin(method, "unary", context)
            error: BaseException | None = None
            try:
                return await behaviour(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._end(seen, _ended(context, error))

        return call

    def _stream(
        self, method: str, behaviour: Callable[..., AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            seen = self._begin(method, "stream", context)
            error: BaseException | None = None
            try:
                async for item in behaviour(request, context):
                    yield item
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._end(seen, _ended(context, error))

        return stream


__all__ = ["UNOBSERVED_PREFIXES", "ObservingInterceptor", "status_name"]
