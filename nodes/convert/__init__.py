"""Pure conversions between domain values and protobuf messages (round-trip tested).

Every servicer and client converts here, one module per domain: `identity`, `licences`,
`cases`, and `requests` for JSON-text request fields.
"""

from nodes.convert.identity import (
    claims_from_proto,
    claims_to_proto,
    revocation_from_proto,
    revocation_to_proto,
)
from nodes.convert.licences import (
    document_to_proto,
    summary_from_proto,
    summary_to_proto,
    verdict_from_proto,
    verdict_to_proto,
)
from nodes.convert.requests import json_object

__all__ = [
    "claims_from_proto",
    "claims_to_proto",
    "document_to_proto",
    "json_object",
    "revocation_from_proto",
    "revocation_to_proto",
    "summary_from_proto",
    "summary_to_proto",
    "verdict_from_proto",
    "verdict_to_proto",
]
