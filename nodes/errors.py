"""The one table from domain errors to gRPC status codes, and the interceptor that applies it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc

from federation.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    FederationError,
    IntegrityError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("yrd.node")

STATUS_OF: dict[type[FederationError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    IntegrityError: grpc.StatusCode.DATA_LOSS,
}

ERROR_OF: dict[grpc.StatusCode, type[FederationError]] = {v: k for k, v in STATUS_OF.items()}


def status_of(error: FederationError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]  # type: ignore[index]
    return grpc.StatusCode.UNKNOWN


def error_from_rpc(exc: grpc.RpcError, peer: str) -> FederationError:
    """Turn a failed call to a peer back into a domain error (client side of the table)."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return FailedPrecondition(f"{peer}: this node does not serve that call ({details})")
    cls = ERROR_OF.get(code)
    if cls is None:
        return Unavailable(f"{peer}: {code.name if code else 'UNKNOWN'}: {details}")
    return cls(f"{peer}: {details}")


Refusal = Callable[[str, str, grpc.StatusCode, str], None]
"""(peer label, method, status, message) -> records a refused call in the audit log."""


def run_mapped(
    method: str,
    peer: str,
    behaviour: Callable[[Any, grpc.ServicerContext], Any],
    request: Any,
    context: grpc.ServicerContext,
    on_refusal: Refusal,
) -> Any:
    """Call a handler; domain errors become their status, anything else INTERNAL (logged)."""
    try:
        return behaviour(request, context)
    except FederationError as exc:
        code = status_of(exc)
        on_refusal(peer, method, code, exc.message)
        context.abort(code, exc.message)
    except Exception:
        if context.code() is not None:  # already aborted with a chosen status
            raise
        log.exception("unhandled error in %s from %s", method, peer)
        on_refusal(peer, method, grpc.StatusCode.INTERNAL, "internal error")
        context.abort(grpc.StatusCode.INTERNAL, "internal error; the node logged the details")
