"""The federation's exception tree; the network edge maps each class to one gRPC status code."""

from __future__ import annotations


class FederationError(Exception):
    """Base of every error the domain raises on purpose; the message is shown to the caller."""

    code_name = "UNKNOWN"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(FederationError):
    """The request is malformed: a bad id, a wrong check digit, a missing field."""

    code_name = "INVALID_ARGUMENT"


class Unauthenticated(FederationError):
    """Credentials are missing, forged, expired or replayed."""

    code_name = "UNAUTHENTICATED"


class PermissionDenied(FederationError):
    """The caller is known but not allowed: wrong audience, insufficient assurance, policy."""

    code_name = "PERMISSION_DENIED"


class NotFound(FederationError):
    """The named subject, licence, case or key does not exist."""

    code_name = "NOT_FOUND"


class AlreadyExists(FederationError):
    """The thing to create exists already and the request is not an idempotent retry."""

    code_name = "ALREADY_EXISTS"


class FailedPrecondition(FederationError):
    """The system is not in a state that allows the operation (e.g. a forbidden transition)."""

    code_name = "FAILED_PRECONDITION"


class ResourceExhausted(FederationError):
    """A quota or rate limit is spent."""

    code_name = "RESOURCE_EXHAUSTED"


class Unavailable(FederationError):
    """A peer node is unreachable; the caller may retry."""

    code_name = "UNAVAILABLE"


class DeadlineExceeded(FederationError):
    """A peer did not answer in time."""

    code_name = "DEADLINE_EXCEEDED"


class Internal(FederationError):
    """Something failed unexpectedly, here or at a peer: retrying the same call will not help."""

    code_name = "INTERNAL"


class IntegrityError(FederationError):
    """Stored data fails its integrity check (a tampered audit chain, a bad signature at rest)."""

    code_name = "DATA_LOSS"


__all__ = [
    "AlreadyExists",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FederationError",
    "IntegrityError",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
]
