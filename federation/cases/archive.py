"""Sealed archive of a closed case: canonical content, owner-region seal, offline verification."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from federation.crypto.jose import canonical_json, sign_compact
from federation.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unauthenticated
from federation.licences.seal import DEFAULT_SKEW_S, SEAL_CERT_HEADER, ElectronicSeal
from federation.licences.sealcert import (
    RegionKeyResolver,
    SealCertificate,
    parse_jws,
    verify_sealed_jws,
)
from federation.storage.base import CaseEvent, CaseRating, CaseRecord, Store

ARCHIVE_FILE_FORMAT = "yrd-case-archive/1"
ARCHIVE_TYP = "case-archive+jwt"
ARCHIVE_VERSION = 1
CLOSED_STATE = "closed"
DIGEST_PREFIX = "sha-256:"


def _json_ready(value: Any, what: str) -> Any:
    # A JSON round trip fixes the content to what a verifier will see (tuples become lists).
    try:
        return json.loads(json.dumps(value, allow_nan=False, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{what} is not plain JSON: {exc}") from None


def content_digest(archive: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical JSON of everything but the digest itself."""
    content = {name: value for name, value in archive.items() if name != "content_digest"}
    return DIGEST_PREFIX + hashlib.sha256(canonical_json(content)).hexdigest()


def _case_dict(case: CaseRecord) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "request_id": case.request_id,
        "request_hash": case.request_hash,
        "item_code": case.item_code,
        "owner_region": case.owner_region,
        "window_region": case.window_region,
        "window_id": case.window_id,
        "applicant_id": case.applicant_id,
        "state": case.state,
        "data": dict(case.data),
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "deadline_at": case.deadline_at,
        "version": case.version,
    }


def _event_dicts(case: CaseRecord, events: Sequence[CaseEvent]) -> list[dict[str, Any]]:
    ordered = sorted(events, key=lambda e: e.seq)
    for expected, event in enumerate(ordered, start=1):
        if event.case_id != case.case_id:
            raise InvalidArgument(f"event {event.seq} belongs to case {event.case_id}")
        if event.seq != expected:
            raise InvalidArgument(
                f"events of case {case.case_id} must be numbered 1..{len(ordered)} without gaps; "
                f"expected {expected}, got {event.seq}"
            )
    if not ordered or ordered[-1].to_state != case.state:
        raise InvalidArgument(
            f"the last event of case {case.case_id} must lead to its state {case.state!r}"
        )
    return [
        {
            "seq": e.seq,
            "time": e.time,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "actor": e.actor,
            "detail": dict(e.detail),
        }
        for e in ordered
    ]


def _decisions(events: Sequence[CaseEvent]) -> list[dict[str, Any]]:
    """Each reviewer decision with the operator who made it."""
    return [
        {
            "seq": e.seq,
            "time": e.time,
            "action": e.detail.get("action", ""),
            "reviewer": e.detail["reviewer"],
            "reason": e.detail.get("reason", ""),
        }
        for e in sorted(events, key=lambda e: e.seq)
        if "reviewer" in e.detail
    ]


def build_archive(
    case: CaseRecord,
    events: Sequence[CaseEvent],
    rating: CaseRating | None,
    materials: Sequence[Mapping[str, Any]],
    audit_hashes: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The archive record of a closed case: case data, decisions, materials, audit hashes."""
    if case.state != CLOSED_STATE:
        raise FailedPrecondition(
            f"case {case.case_id} is {case.state!r}; only a closed case is archived"
        )
    if rating is not None and rating.case_id != case.case_id:
        raise InvalidArgument(f"the rating is for case {rating.case_id}, not {case.case_id}")
    for name, entries in (("materials", materials), ("audit_hashes", audit_hashes)):
        if not all(isinstance(entry, Mapping) for entry in entries):
            raise InvalidArgument(f"each of the {name} must be a JSON object")
    content = {
        "archive_version": ARCHIVE_VERSION,
        "case": _case_dict(case),
        "events": _event_dicts(case, events),
        "decisions": _decisions(events),
        "rating": None
        if rating is None
        else {
            "score": rating.score,
            "reasons": list(rating.reasons),
            "comment": rating.comment,
            "rated_at": rating.rated_at,
        },
        "materials": [dict(m) for m in materials],
        "audit_hashes": [dict(a) for a in audit_hashes],
    }
    archive: dict[str, Any] = _json_ready(content, f"archive of case {case.case_id}")
    archive["content_digest"] = content_digest(archive)
    return archive


def collect_archive(case: CaseRecord, store: Store) -> dict[str, Any]:
    """The archive record of a closed case from everything its owner region's store holds."""
    rating = next((r for r in store.case_ratings() if r.case_id == case.case_id), None)
    audit = [
        {"seq": e.seq, "hash": e.hash, "action": e.action, "outcome": e.outcome}
        for e in store.audit_entries()
        if e.detail.get("case_id") == case.case_id
    ]
    materials = [
        {k: m.get(k) for k in ("licence_type", "identifier", "owner_region", "via")}
        for m in case.data.get("materials", [])
    ]
    return build_archive(case, store.case_events(case.case_id), rating, materials, audit)


def _archived_case(archive: Mapping[str, Any]) -> Mapping[str, Any]:
    case = archive.get("case")
    if not isinstance(case, Mapping):
        raise InvalidArgument("archive has no 'case' object")
    for name in ("case_id", "item_code", "owner_region"):
        if not isinstance(case.get(name), str):
            raise InvalidArgument(f"archived case has no string {name!r}")
    return case


def seal_archive(archive: Mapping[str, Any], seal: ElectronicSeal, now: float) -> str:
    """Seal with the owner region's authority key; the certificate travels in the header."""
    plain: dict[str, Any] = _json_ready(archive, "archive")
    if plain.get("content_digest") != content_digest(plain):
        raise InvalidArgument("archive content does not match its digest (altered after build)")
    case = _archived_case(plain)
    region = seal.authority.region
    if case["owner_region"] != region.code:
        raise PermissionDenied(
            f"{seal.authority.name} ({region.short}) cannot seal case {case['case_id']}, "
            f"owned by region {case['owner_region']}"
        )
    payload = {
        "iss": seal.authority.credit_code,
        "iss_name": seal.authority.name,
        "region": region.code,
        "iat": int(now),
        "archive": plain,
    }
    header = {SEAL_CERT_HEADER: seal.certificate}
    return sign_compact(payload, seal.key, typ=ARCHIVE_TYP, extra_header=header)


@dataclass(frozen=True)
class VerifiedArchive:
    """An archive whose seal, certificate chain, owner region and content digest verified."""

    archive: dict[str, Any]
    case_id: str
    item_code: str
    owner_region: str
    authority_code: str
    authority_name: str
    sealed_at: int
    content_digest: str
    certificate: SealCertificate

    def to_dict(self) -> dict[str, Any]:
        """A JSON summary for `yrd case verify-archive`."""
        return {
            "valid": True,
            "case_id": self.case_id,
            "item_code": self.item_code,
            "owner_region": self.owner_region,
            "sealed_by": {"credit_code": self.authority_code, "name": self.authority_name},
            "sealed_at": self.sealed_at,
            "content_digest": self.content_digest,
            "archive": self.archive,
        }


def verify_archive(
    token: str, region_key: RegionKeyResolver, now: float, skew_s: int = DEFAULT_SKEW_S
) -> VerifiedArchive:
    """Check seal certificate chain, seal signature, owner region and digest, offline."""
    sealed = verify_sealed_jws(
        token, frozenset({ARCHIVE_TYP}), "case archive", region_key, now, skew_s
    )
    payload, cert, sealed_at = sealed.payload, sealed.certificate, sealed.sealed_at
    if payload.get("region") != cert.region.code:
        raise Unauthenticated(
            f"archive names region {payload.get('region')!r}, its seal is certified by "
            f"region {cert.region.code}"
        )
    archive = payload.get("archive")
    if not isinstance(archive, dict):
        raise InvalidArgument("case archive payload has no 'archive' object")
    case = _archived_case(archive)
    if case["owner_region"] != cert.region.code:
        raise Unauthenticated(
            f"case {case['case_id']} is owned by region {case['owner_region']}, "
            f"but the archive is sealed in region {cert.region.code}"
        )
    digest = content_digest(archive)
    if archive.get("content_digest") != digest:
        raise Unauthenticated(
            f"archive content digest {archive.get('content_digest')!r} does not match the "
            f"content ({digest})"
        )
    return VerifiedArchive(
        archive=archive,
        case_id=case["case_id"],
        item_code=case["item_code"],
        owner_region=case["owner_region"],
        authority_code=cert.authority_code,
        authority_name=cert.authority_name,
        sealed_at=sealed_at,
        content_digest=digest,
        certificate=cert,
    )


def archive_file_text(token: str) -> str:
    """The archive file `yrd case export` writes: a small self-describing JSON envelope."""
    if parse_jws(token).header.get("typ") != ARCHIVE_TYP:
        raise InvalidArgument("only a sealed case archive can be written as an archive file")
    envelope = {
        "format": ARCHIVE_FILE_FORMAT,
        "typ": ARCHIVE_TYP,
        "note": "only the sealed token is authoritative; check it with `yrd case verify-archive`",
        "token": token,
    }
    return json.dumps(envelope, indent=2, ensure_ascii=False) + "\n"


def read_archive_file(text: str) -> str:
    """The sealed token from an archive file (not yet verified: see verify_archive)."""
    try:
        envelope = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(f"archive file is not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise InvalidArgument("archive file must be a JSON object")
    if envelope.get("format") != ARCHIVE_FILE_FORMAT:
        raise InvalidArgument(
            f"archive file format is {envelope.get('format')!r}, expected {ARCHIVE_FILE_FORMAT!r}"
        )
    token = envelope.get("token")
    if not isinstance(token, str) or not token:
        raise InvalidArgument("archive file has no 'token' string")
    return token


# Only constants that sort before every class name are listed, so the list is in both plain
# sorted() and ruff's isort-style order; the others live here all the same.
__all__ = [
    "ARCHIVE_FILE_FORMAT",
    "ARCHIVE_TYP",
    "VerifiedArchive",
    "archive_file_text",
    "build_archive",
    "collect_archive",
    "content_digest",
    "read_archive_file",
    "seal_archive",
    "verify_archive",
]
