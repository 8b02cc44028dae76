"""Pure conversions between domain values and protobuf messages (round-trip tested)."""

from nodes.convert.core import (
    claims_from_proto,
    claims_to_proto,
    json_object,
    revocation_from_proto,
    revocation_to_proto,
)

__all__ = [
    "claims_from_proto",
    "claims_to_proto",
    "json_object",
    "revocation_from_proto",
    "revocation_to_proto",
]
