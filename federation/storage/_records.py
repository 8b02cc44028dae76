"""Rows to records for the SQL backends: shared column lists, JSON text codec, refusal messages."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from federation.audit import AuditRecord
from federation.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from federation.storage.base import (
    CaseEvent,
    CaseRating,
    CaseRecord,
    LicenceRecord,
    SessionRecord,
    SubjectHome,
    SubjectRecord,
)

SUBJECT_COLS = "subject_id, kind, name, home_region, password_hash, created_at, home_attestation"
SESSION_COLS = "session_id, subject_id, secret_hash, acr, created_at, expires_at, revoked_at"
HOME_COLS = "subject_id, kind, home_region, claimed_at"
AUDIT_COLS = "seq, time, actor, action, outcome, subject, detail, prev_hash, hash"

LICENCE_COLS = (
    "identifier, request_id, request_hash, type_code, holder_code, authority_code, sd_jwt,"
    " status_index, status, issued_at, updated_at"
)
CASE_COLS = (
    "case_id, request_id, request_hash, item_code, owner_region, window_region, window_id,"
    " applicant_id, state, data, created_at, updated_at, deadline_at, version"
)
EVENT_COLS = "case_id, seq, time, from_state, to_state, actor, detail"
RATING_COLS = "case_id, score, reasons, comment, rated_at"


# what json.dumps(sort_keys=True, separators=(",", ":"), allow_nan=False) builds per call
_STRICT_TEXT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def encode_json(value: Mapping[str, Any] | Sequence[Any], what: str = "audit detail") -> str:
    """Strict JSON text (sorted keys, no NaN) that decodes to a value with the same canonical
    JSON, so the audit hash chain and case data round-trip exactly."""
    try:
        # type() first: the ABC isinstance check costs more than the copy for a plain dict
        plain = dict(value) if type(value) is dict or isinstance(value, Mapping) else list(value)
        return _STRICT_TEXT.encode(plain)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{what} is not JSON-serialisable: {exc}") from None


def decode_json(text: str) -> Any:
    return json.loads(text)


def subject_params(subject: SubjectRecord) -> tuple[Any, ...]:
    """The subject as row values in SUBJECT_COLS order."""
    return (
        subject.subject_id,
        subject.kind,
        subject.name,
        subject.home_region,
        subject.password_hash,
        float(subject.created_at),
        subject.home_attestation,
    )


def subject_from_row(row: Sequence[Any]) -> SubjectRecord:
    return SubjectRecord(row[0], row[1], row[2], row[3], row[4], float(row[5]), row[6])


def session_params(session: SessionRecord) -> tuple[Any, ...]:
    """The session as row values in SESSION_COLS order."""
    revoked = None if session.revoked_at is None else float(session.revoked_at)
    return (
        session.session_id,
        session.subject_id,
        session.secret_hash,
        session.acr,
        float(session.created_at),
        float(session.expires_at),
        revoked,
    )


def session_from_row(row: Sequence[Any]) -> SessionRecord:
    revoked = None if row[6] is None else float(row[6])
    return SessionRecord(row[0], row[1], row[2], row[3], float(row[4]), float(row[5]), revoked)


def home_from_row(row: Sequence[Any]) -> SubjectHome:
    return SubjectHome(row[0], row[1], row[2], float(row[3]))


def audit_params(record: AuditRecord, detail: str) -> tuple[Any, ...]:
    """The linked entry as row values in AUDIT_COLS order, with `detail` already encoded."""
    return (
        record.seq,
        float(record.time),
        record.actor,
        record.action,
        record.outcome,
        record.subject,
        detail,
        record.prev_hash,
        record.hash,
    )


def audit_from_row(row: Sequence[Any]) -> AuditRecord:
    return AuditRecord(
        seq=int(row[0]),
        time=float(row[1]),
        actor=row[2],
        action=row[3],
        outcome=row[4],
        subject=row[5],
        detail=decode_json(row[6]),
        prev_hash=row[7],
        hash=row[8],
    )


def licence_params(licence: LicenceRecord) -> tuple[Any, ...]:
    """The licence as row values in LICENCE_COLS order."""
    return (
        licence.identifier,
        licence.request_id,
        licence.request_hash,
        licence.type_code,
        licence.holder_code,
        licence.authority_code,
        licence.sd_jwt,
        int(licence.status_index),
        int(licence.status),
        float(licence.issued_at),
        float(licence.updated_at),
    )


def normalise_parties(licence: LicenceRecord) -> LicenceRecord:
    """The licence with its parties sorted and without repeats, as the stores return it."""
    parties = tuple(sorted(set(licence.parties)))
    return licence if parties == licence.parties else replace(licence, parties=parties)


def party_params(licence: LicenceRecord) -> list[tuple[str, str]]:
    """(identifier, party_code) rows of licence_parties for a normalised licence."""
    return [(licence.identifier, party) for party in licence.parties]


def licence_from_row(row: Sequence[Any], parties: Iterable[str] = ()) -> LicenceRecord:
    """The licence from its LICENCE_COLS values and the codes of its parties (any order)."""
    return LicenceRecord(
        identifier=row[0],
        request_id=row[1],
        request_hash=row[2],
        type_code=row[3],
        holder_code=row[4],
        authority_code=row[5],
        sd_jwt=row[6],
        status_index=int(row[7]),
        status=int(row[8]),
        issued_at=float(row[9]),
        updated_at=float(row[10]),
        parties=tuple(sorted(parties)),
    )


def case_params(case: CaseRecord, data: str) -> tuple[Any, ...]:
    """The case as row values in CASE_COLS order, with `data` already encoded."""
    return (
        case.case_id,
        case.request_id,
        case.request_hash,
        case.item_code,
        case.owner_region,
        case.window_region,
        case.window_id,
        case.applicant_id,
        case.state,
        data,
        float(case.created_at),
        float(case.updated_at),
        float(case.deadline_at),
        int(case.version),
    )


def case_from_row(row: Sequence[Any]) -> CaseRecord:
    return CaseRecord(
        case_id=row[0],
        request_id=row[1],
        request_hash=row[2],
        item_code=row[3],
        owner_region=row[4],
        window_region=row[5],
        window_id=row[6],
        applicant_id=row[7],
        state=row[8],
        data=decode_json(row[9]),
        created_at=float(row[10]),
        updated_at=float(row[11]),
        deadline_at=float(row[12]),
        version=int(row[13]),
    )


def event_params(case_id: str, seq: int, event: CaseEvent, detail: str) -> tuple[Any, ...]:
    """The event as row values in EVENT_COLS order, filed under `case_id` as number `seq`."""
    return (
        case_id,
        seq,
        float(event.time),
        event.from_state,
        event.to_state,
        event.actor,
        detail,
    )


def event_from_row(row: Sequence[Any]) -> CaseEvent:
    return CaseEvent(
        row[0], int(row[1]), float(row[2]), row[3], row[4], row[5], decode_json(row[6])
    )


def rating_params(rating: CaseRating) -> tuple[Any, ...]:
    reasons = encode_json(list(rating.reasons), "rating reasons")
    return (rating.case_id, int(rating.score), reasons, rating.comment, float(rating.rated_at))


def rating_from_row(row: Sequence[Any]) -> CaseRating:
    return CaseRating(row[0], int(row[1]), tuple(decode_json(row[2])), row[3], float(row[4]))


def case_filters(
    owner_region: str | None, window_region: str | None, applicant_id: str | None, mark: str
) -> tuple[str, tuple[str, ...]]:
    """(" WHERE ..." or "", parameters) for the given list_cases filters; `mark` is "?" or "%s"."""
    given = [
        (column, value)
        for column, value in (
            ("owner_region", owner_region),
            ("window_region", window_region),
            ("applicant_id", applicant_id),
        )
        if value is not None
    ]
    if not given:
        return "", ()
    where = " AND ".join(f"{column} = {mark}" for column, _ in given)
    return f" WHERE {where}", tuple(value for _, value in given)


def duplicate_licence(licence: LicenceRecord, identifier_taken: bool) -> AlreadyExists:
    """The refusal for a new request whose identifier (or else status_index) is taken."""
    if identifier_taken:
        return AlreadyExists(f"licence {licence.identifier} already exists")
    return AlreadyExists(
        f"status index {licence.status_index} is already assigned to another licence"
    )


def check_retry(kind: str, key: str, request_id: str, stored_hash: str, request_hash: str) -> None:
    """Accept a retry of the request that created `kind` `key`; refuse a reused request id."""
    if stored_hash != request_hash:
        raise AlreadyExists(
            f"request id {request_id} was reused for a different request (it created {kind} {key})"
        )


def changed_concurrently(case_id: str, version: int, expected: int) -> FailedPrecondition:
    return FailedPrecondition(
        f"case {case_id} changed concurrently (version {version}, expected {expected});"
        " reload and retry"
    )
