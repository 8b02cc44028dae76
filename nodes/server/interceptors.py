"""Server interceptor: decode, admit only trust-listed peers with the right role, map and audit.

The node runs a `grpc.aio` server. Every handler, whatever its kind, is wrapped here so that
undecodable bytes, oversized fields, an unknown or wrong-role caller and every domain error get
their precise status and an audit entry. Synchronous unary servicers run on the node's
bounded worker pool; coroutine unary servicers (Echo, VerifyToken) and streams run on the event
loop and hold no worker. Every unary call, of either kind, is admitted by the same per-caller
budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Executor
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from federation.errors import (
    FailedPrecondition,
    FederationError,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from federation.trust.trustlist import Member, TrustList
from nodes.errors import Refusal, status_of
from nodes.server.request_limits import check_request
from nodes.tls import Peer, peer_of

log = logging.getLogger("yrd.node")

OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
MAX_MESSAGE_CHARS = 1024

FORWARDED_FOR = "yrd-forwarded-for"
"""Metadata a region sets when it forwards a call: the entity the call is ultimately made for."""

current_member: contextvars.ContextVar[Member] = contextvars.ContextVar("current_member")
current_origin: contextvars.ContextVar[str] = contextvars.ContextVar("current_origin", default="")


def caller() -> Member:
    """The trust-listed member making the current call (set by the interceptor)."""
    return current_member.get()


def forwarded_for() -> str:
    """The entity a forwarding region says the call is for ('' when not forwarded)."""
    return current_origin.get()


def _origin_of(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == FORWARDED_FOR:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return ""


class Budget:
    """A counter with a ceiling, per caller and in total (thread-safe)."""

    def __init__(self, what: str, total: int, per_caller: int) -> None:
        self.what = what
        self.total = total
        self.per_caller = per_caller
        self._in_use: dict[str, int] = {}
        self._sum = 0
        self._lock = threading.Lock()

    def acquire(self, who: str) -> None:
        with self._lock:
            mine = self._in_use.get(who, 0)
            if self._sum >= self.total:
                raise ResourceExhausted(
                    f"this node already serves {self._sum} {self.what}; retry later"
                )
            if mine >= self.per_caller:
                raise ResourceExhausted(
                    f"{who} already holds {mine} {self.what} (limit {self.per_caller}); "
                    "close some before opening more"
                )
            self._in_use[who] = mine + 1
            self._sum += 1

    def release(self, who: str) -> None:
        with self._lock:
            left = self._in_use.get(who, 1) - 1
            if left:
                self._in_use[who] = left
            else:
                self._in_use.pop(who, None)
            self._sum -= 1

    def in_use(self) -> int:
        with self._lock:
            return self._sum


def _call_as(member: Member, origin: str, behaviour: Callable[..., Any], *args: Any) -> Any:
    """Run a synchronous servicer on a worker thread with the caller set for `caller()`."""
    current_member.set(member)
    current_origin.set(origin)
    return behaviour(*args)


class FederationInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """mTLS already proved the certificate chains to the root; this checks the trust list."""

    def __init__(
        self,
        trust: Callable[[], TrustList],
        roles: Mapping[str, frozenset[str]],
        on_refusal: Refusal,
        workers: Executor,
        unary_budget: Budget,
        stream_budget: Budget,
    ) -> None:
        self._trust = trust
        self._roles = roles
        self._on_refusal = on_refusal
        self._workers = workers
        self._unary = unary_budget
        self._streams = stream_budget
        self._peers: dict[bytes, Peer] = {}
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}
        self._lock = threading.Lock()

    # --- who is calling ----------------------------------------------------------------
    def _peer(self, context: grpc.aio.ServicerContext) -> Peer | None:
        pems = context.auth_context().get("x509_pem_cert")
        if not pems:
            return None
        with self._lock:
            known = self._peers.get(pems[0])
        if known is None:
            known = peer_of(context)
            if known is not None:
                with self._lock:
                    if len(self._peers) > 1024:
                        self._peers.clear()
                    self._peers[pems[0]] = known
        return known

    def _admit(self, method: str, peer: Peer | None) -> Member:
        if peer is None:
            raise Unauthenticated("no client certificate; the federation speaks mutual TLS only")
        member = self._trust().member_by_fingerprint(peer.fingerprint)
        if member.entity_id != peer.entity_id:
            raise PermissionDenied(
                f"certificate names {peer.entity_id!r} but is listed for {member.entity_id}"
            )
        allowed = self._roles.get(method)
        if allowed is not None and not allowed.intersection(member.roles):
            raise PermissionDenied(
                f"{member.entity_id} (roles {', '.join(member.roles)}) may not call {method}; "
                f"it needs one of: {', '.join(sorted(allowed))}"
            )
        return member

    # --- refusals ----------------------------------------------------------------------
    async def _refuse(
        self, context: grpc.aio.ServicerContext, label: str, method: str, exc: BaseException
    ) -> None:
        """Audit the refusal on a worker (it writes the store), then abort with its status."""
        if isinstance(exc, FederationError):
            code, message = status_of(exc), exc.message
        else:
            log.error("unhandled error in %s from %s", method, label, exc_info=exc)
            code, message = grpc.StatusCode.INTERNAL, "internal error; the node logged the details"
        if len(message) > MAX_MESSAGE_CHARS:  # a refusal may quote the request: never all of it
            message = message[:MAX_MESSAGE_CHARS] + "... (truncated)"
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._workers, self._on_refusal, label, method, code, message
            )
        except Exception:
            log.exception("could not audit a refused call to %s from %s", method, label)
        await context.abort(code, message)

    # --- wrapping ----------------------------------------------------------------------
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        method: str = details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:  # servicers are registered once: wrap each method once
            return wrapped
        handler = await continuation(details)
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        decode = handler.request_deserializer or (lambda raw: raw)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary_call(method, decode, handler.unary_unary),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream_call(method, decode, handler.unary_stream),
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._client_stream_call(method, handler.stream_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._client_stream_call(method, handler.stream_stream),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _decode(self, decode: Callable[[bytes], Any], raw: bytes) -> Any:
        try:
            request = decode(raw)
        except (DecodeError, ValueError, TypeError) as exc:
            raise InvalidArgument(f"the request is not a valid protobuf message: {exc}") from None
        check_request(request)
        return request

    @contextlib.asynccontextmanager
    async def _guard(self, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[Member]:
        """Admit the caller; any failure in the block becomes its precise status, audited."""
        peer = self._peer(context)
        label = (peer or Peer("", "")).label
        try:
            yield self._admit(method, peer)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            await self._refuse(context, label, method, exc)

    def _unary_call(
        self, method: str, decode: Callable[[bytes], Any], behaviour: Callable[..., Any]
    ) -> Callable[..., Any]:
        is_async = inspect.iscoroutinefunction(behaviour)

        async def call(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            async with self._guard(method, context) as member:
                request = self._decode(decode, raw)
                origin = _origin_of(context)
                # one budget for every unary call, coroutine or not: a caller holding its
                # share is refused RESOURCE_EXHAUSTED before any work is done for it
                self._unary.acquire(member.entity_id)
                try:
                    if is_async:
                        current_member.set(member)
                        current_origin.set(origin)
                        return await behaviour(request, context)
                    loop = asyncio.get_running_loop()
                    return await loop.run_in_executor(
                        self._workers, _call_as, member, origin, behaviour, request, context
                    )
                finally:
                    self._unary.release(member.entity_id)

        return call

    def _stream_call(
        self, method: str, decode: Callable[[bytes], Any], behaviour: Callable[..., Any]
    ) -> Callable[..., AsyncIterator[Any]]:
        if not inspect.isasyncgenfunction(behaviour):
            raise TypeError(f"{method}: a server stream must be an async generator")

        async def stream(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with self._guard(method, context) as member:
                request = self._decode(decode, raw)
                origin = _origin_of(context)
                self._streams.acquire(member.entity_id)
                try:
                    current_member.set(member)
                    current_origin.set(origin)
                    async for item in behaviour(request, context):
                        yield item
                finally:
                    self._streams.release(member.entity_id)

        return stream

    def _client_stream_call(self, method: str, behaviour: Callable[..., Any]) -> Any:
        """Client-streaming calls are admitted and mapped like the rest (none are served yet).

        A synchronous client-streaming servicer would hold a worker for the whole upload, so
        only coroutine servicers are accepted; anything else is refused, never run.
        """
        is_async = inspect.iscoroutinefunction(behaviour)

        async def call(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self._guard(method, context) as member:
                if not is_async:
                    raise FailedPrecondition(f"{method} is not served by this node")
                current_member.set(member)
                return await behaviour(requests, context)

        return call
