"""Server interceptor: admit only trust-listed peers with the right role, map and audit errors."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc

from federation.errors import FederationError, PermissionDenied, Unauthenticated
from federation.trustlist import Member, TrustList
from nodes.errors import Refusal, run_mapped, status_of
from nodes.tls import Peer, peer_of

OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

current_member: contextvars.ContextVar[Member] = contextvars.ContextVar("current_member")


def caller() -> Member:
    """The trust-listed member making the current call (set by the interceptor)."""
    return current_member.get()


class FederationInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """mTLS already proved the certificate chains to the root; this checks the trust list."""

    def __init__(
        self,
        trust: Callable[[], TrustList],
        roles: Mapping[str, frozenset[str]],
        on_refusal: Refusal,
    ) -> None:
        self._trust = trust
        self._roles = roles
        self._on_refusal = on_refusal
        self._peers: dict[bytes, Peer] = {}
        self._lock = threading.Lock()

    def _peer(self, context: grpc.ServicerContext) -> Peer | None:
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

    def _admit(self, method: str, context: grpc.ServicerContext) -> Member:
        peer = self._peer(context)
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

    def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = continuation(details)
        method: str = details.method
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler

        def admitted(behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> Any:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                def inner(req: Any, ctx: grpc.ServicerContext) -> Any:
                    current_member.set(self._admit(method, ctx))
                    return behaviour(req, ctx)

                label = (self._peer(context) or Peer("", "")).label
                return run_mapped(method, label, inner, request, context, self._on_refusal)

            return call

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                admitted(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            behaviour = handler.unary_stream

            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                label = (self._peer(context) or Peer("", "")).label
                try:
                    current_member.set(self._admit(method, context))
                    yield from behaviour(request, context)
                except FederationError as exc:
                    code = status_of(exc)
                    self._on_refusal(label, method, code, exc.message)
                    context.abort(code, exc.message)

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler
