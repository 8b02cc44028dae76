"""Pure conversions between domain values and protobuf messages (round-trip tested).

Every servicer and client converts here, one module per domain: `identity`, `licences`,
`cases`, and `requests` for JSON-text request fields.
"""

from nodes.convert.cases import (
    case_view,
    event_from_message,
    event_message,
    material_from_proto,
    material_to_proto,
    rating_to_proto,
    submission_from,
    submission_to_proto,
)
from nodes.convert.identity import (
    claims_from_proto,
    claims_to_proto,
    login_from_proto,
    login_to_proto,
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
    "case_view",
    "claims_from_proto",
    "claims_to_proto",
    "document_to_proto",
    "event_from_message",
    "event_message",
    "json_object",
    "login_from_proto",
    "login_to_proto",
    "material_from_proto",
    "material_to_proto",
    "rating_to_proto",
    "revocation_from_proto",
    "revocation_to_proto",
    "submission_from",
    "submission_to_proto",
    "summary_from_proto",
    "summary_to_proto",
    "verdict_from_proto",
    "verdict_to_proto",
]
