"""Pure conversions between case values and CaseService messages (round-trip tested)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from federation.cases.desk import Material, Submission
from federation.cases.states import DECIDED
from federation.cases.workdays import is_overdue
from federation.storage.base import CaseEvent, CaseRating, CaseRecord
from nodes.convert.requests import json_object
from nodes.pb.v1 import case_pb2

DECIDED_STATES = frozenset(state.value for state in DECIDED)


def case_view(case: CaseRecord, now: float, created: bool = False) -> case_pb2.CaseView:
    """A case as the client sees it, with whether it is overdue at `now`."""
    decided = case.updated_at if case.state in DECIDED_STATES else None
    return case_pb2.CaseView(
        case_id=case.case_id,
        item_code=case.item_code,
        owner_region=case.owner_region,
        window_region=case.window_region,
        window_id=case.window_id,
        applicant_id=case.applicant_id,
        state=case.state,
        data_json=json.dumps(dict(case.data), ensure_ascii=False),
        created_at=case.created_at,
        updated_at=case.updated_at,
        deadline_at=case.deadline_at,
        overdue=is_overdue(case.deadline_at, now, decided),
        version=case.version,
        created=created,
        reviewer=str(case.data.get("reviewer", "")),
    )


def event_message(event: CaseEvent) -> case_pb2.CaseEventMessage:
    return case_pb2.CaseEventMessage(
        case_id=event.case_id,
        seq=event.seq,
        time=event.time,
        from_state=event.from_state,
        to_state=event.to_state,
        actor=event.actor,
        detail_json=json.dumps(dict(event.detail), ensure_ascii=False),
    )


def event_from_message(msg: case_pb2.CaseEventMessage) -> CaseEvent:
    """The event a watcher received (detail_json must be a JSON object)."""
    return CaseEvent(
        msg.case_id,
        msg.seq,
        msg.time,
        msg.from_state,
        msg.to_state,
        msg.actor,
        json_object(msg.detail_json, "detail_json") or {},
    )


def material_to_proto(material: Material) -> case_pb2.Material:
    return case_pb2.Material(
        licence_type=material.licence_type,
        identifier=material.identifier,
        owner_region=material.owner_region,
        consent_token=material.consent_token,
        presentation=material.presentation,
    )


def material_from_proto(msg: case_pb2.Material) -> Material:
    return Material(
        msg.licence_type, msg.identifier, msg.owner_region, msg.consent_token, msg.presentation
    )


def submission_from(req: case_pb2.SubmitCaseRequest, window_region: str) -> Submission:
    """The submission the owner's desk checks; the window region comes from the caller."""
    return Submission(
        request_id=req.request_id,
        item_code=req.item_code,
        window_region=window_region,
        window_id=req.window_id,
        applicant_token=req.applicant_token,
        face_assertion=req.face_assertion,
        materials=tuple(material_from_proto(m) for m in req.materials),
        on_behalf_of=req.on_behalf_of,
        requested=(json_object(req.requested_json, "requested_json") or {}),
        delivery_method=req.delivery_method or "electronic",
        note=req.note,
    )


def submission_to_proto(sub: Submission, owner_region: str = "") -> case_pb2.SubmitCaseRequest:
    """The request a window sends (its own region is never in it: the callee knows the caller)."""
    requested: Mapping[str, Any] = sub.requested
    return case_pb2.SubmitCaseRequest(
        request_id=sub.request_id,
        item_code=sub.item_code,
        owner_region=owner_region,
        window_id=sub.window_id,
        applicant_token=sub.applicant_token,
        face_assertion=sub.face_assertion,
        materials=[material_to_proto(m) for m in sub.materials],
        on_behalf_of=sub.on_behalf_of,
        requested_json=json.dumps(dict(requested), ensure_ascii=False) if requested else "",
        delivery_method=sub.delivery_method,
        note=sub.note,
    )


__all__ = [
    "DECIDED_STATES",
    "case_view",
    "event_from_message",
    "event_message",
    "material_from_proto",
    "material_to_proto",
    "submission_from",
    "submission_to_proto",
]


def rating_to_proto(rating: CaseRating) -> case_pb2.RateCaseResponse:
    """What the applicant is told of a stored rating (its reasons and comment stay stored)."""
    return case_pb2.RateCaseResponse(
        case_id=rating.case_id, score=rating.score, rated_at=rating.rated_at
    )
