"""The one table from domain errors to gRPC status codes, and the interceptor that applies it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc

from federation.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    FederationError,
    IntegrityError,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from nodes.tls import REISSUE_HINT

log = logging.getLogger("yrd.node")

# how gRPC reports a server certificate that does not carry the name the channel checks
# (`grpc.ssl_target_name_override`, the dialled member's `entity_dns_name`): newer releases
# say the first, older ones "Peer name <name> is not in peer certificate"
_WRONG_SERVER = ("Hostname Verification Check failed", "is not in peer certificate")


class WrongPeer(Unavailable):
    """The TLS handshake found another member than the one dialled (UNAVAILABLE on the wire)."""


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
    Internal: grpc.StatusCode.INTERNAL,
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
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
        # a peer's bug is not an outage: retrying the same call will fail the same way
        return Internal(f"{peer} failed internally ({code.name}): {details}")
    if code == grpc.StatusCode.OUT_OF_RANGE:
        return InvalidArgument(f"{peer}: {details}")
    if code == grpc.StatusCode.UNAVAILABLE and any(m in (details or "") for m in _WRONG_SERVER):
        return WrongPeer(
            f"{peer}: the node answering is not the member dialled (its TLS certificate does not"
            f" name that member): another member listens at the address the trust list gives,"
            f" or the member's certificate predates member-named certificates ({REISSUE_HINT})."
            f" gRPC: {details}"
        )
    cls = ERROR_OF.get(code)
    if cls is None:
        return Unavailable(f"{peer}: {code.name if code else 'UNKNOWN'}: {details}")
    return cls(f"{peer}: {details}")


Refusal = Callable[[str, str, grpc.StatusCode, str], None]
"""(peer label, method, status, message) -> records a refused call in the audit log."""
