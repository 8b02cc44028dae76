"""Licence conversions: stored records as documents, verdicts and aggregation summaries."""

from __future__ import annotations

from federation.jsontext import loads_untrusted
from federation.licences import LicenceStatus, LicenceVerdict
from federation.licences.challenge import Challenge
from federation.licences.model import Licence
from federation.licences.registry import LicenceSummary
from federation.licences.verification import Verdict
from federation.storage.base import LicenceRecord
from nodes.pb.v1 import licence_pb2


def document_to_proto(
    record: LicenceRecord, uri: str, created: bool = False
) -> licence_pb2.LicenceDocument:
    """A held licence as the issuing region answers it (the record keeps more than this)."""
    return licence_pb2.LicenceDocument(
        identifier=record.identifier,
        sd_jwt=record.sd_jwt,
        type_code=record.type_code,
        holder_code=record.holder_code,
        status=LicenceStatus(record.status).name.lower(),
        status_index=record.status_index,
        status_list_uri=uri,
        created=created,
    )


def verdict_to_proto(verdict: LicenceVerdict) -> licence_pb2.LicenceVerdict:
    return licence_pb2.LicenceVerdict(
        verdict=verdict.verdict.value,
        reasons=list(verdict.reasons),
        identifier=verdict.identifier or "",
        type_code=verdict.type_code or "",
        licence_json=verdict.licence.json_text if verdict.licence else "",
        status_checked=verdict.status_checked,
    )


def verdict_from_proto(msg: licence_pb2.LicenceVerdict) -> LicenceVerdict:
    licence = None
    if msg.licence_json:
        licence = Licence.from_dict(loads_untrusted(msg.licence_json, "licence_json"))
    return LicenceVerdict(
        verdict=Verdict(msg.verdict),
        reasons=tuple(msg.reasons),
        identifier=msg.identifier or None,
        type_code=msg.type_code or None,
        licence=licence,
        status_checked=msg.status_checked,
    )


def summary_to_proto(s: LicenceSummary) -> licence_pb2.LicenceSummary:
    return licence_pb2.LicenceSummary(
        identifier=s.identifier,
        type_code=s.type_code,
        licence_name=s.licence_name,
        issuing_region=s.issuing_region,
        authority_name=s.authority_name,
        valid_until=s.valid_until,
        status=s.status,
    )


def summary_from_proto(msg: licence_pb2.LicenceSummary) -> LicenceSummary:
    return LicenceSummary(
        identifier=msg.identifier,
        type_code=msg.type_code,
        licence_name=msg.licence_name,
        issuing_region=msg.issuing_region,
        authority_name=msg.authority_name,
        valid_until=msg.valid_until,
        status=msg.status,
    )


def challenge_to_proto(c: Challenge) -> licence_pb2.IssueChallengeResponse:
    return licence_pb2.IssueChallengeResponse(
        nonce=c.nonce, audience=c.audience, expires_at=c.expires_at
    )


def challenge_from_proto(msg: licence_pb2.IssueChallengeResponse) -> Challenge:
    return Challenge(nonce=msg.nonce, audience=msg.audience, expires_at=msg.expires_at)
