"""Round trips of the case conversions: submissions, materials and events survive the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.cases.desk import Material, Submission
from federation.errors import InvalidArgument
from federation.storage.base import CaseEvent, CaseRecord
from nodes.convert.cases import (
    case_view,
    event_from_message,
    event_message,
    material_from_proto,
    material_to_proto,
    submission_from,
    submission_to_proto,
)
from nodes.pb.v1 import case_pb2

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)

materials = st.builds(Material, st.text(), st.text(), st.text(), st.text(), st.text())
submissions = st.builds(
    Submission,
    request_id=st.text(),
    item_code=st.text(),
    window_region=st.sampled_from(["310000", "320000"]),
    window_id=st.text(),
    applicant_token=st.text(),
    face_assertion=st.text(),
    materials=st.lists(materials, max_size=3).map(tuple),
    on_behalf_of=st.text(),
    requested=JSON_OBJECTS,
    delivery_method=st.sampled_from(["electronic", "express", "collect_at_window"]),
    note=st.text(),
)
events = st.builds(
    CaseEvent, st.text(), INT64, FLOATS, st.text(), st.text(), st.text(), JSON_OBJECTS
)


@settings(max_examples=150, deadline=None)
@given(submissions)
def test_a_submission_survives_the_wire(sub: Submission) -> None:
    wire = case_pb2.SubmitCaseRequest.FromString(submission_to_proto(sub).SerializeToString())
    assert submission_from(wire, sub.window_region) == sub


@given(materials)
def test_a_material_survives_the_wire(material: Material) -> None:
    assert material_from_proto(material_to_proto(material)) == material


@settings(max_examples=150, deadline=None)
@given(events)
def test_an_event_survives_the_wire(event: CaseEvent) -> None:
    wire = case_pb2.CaseEventMessage.FromString(event_message(event).SerializeToString())
    assert event_from_message(wire) == event


def test_the_window_region_comes_from_the_caller_not_the_request() -> None:
    sub = Submission("r", "item", "310000", "w", "t")
    assert submission_from(submission_to_proto(sub), "340000").window_region == "340000"


def test_an_empty_delivery_method_means_electronic() -> None:
    request = case_pb2.SubmitCaseRequest(request_id="r", delivery_method="")
    assert submission_from(request, "310000").delivery_method == "electronic"


@pytest.mark.parametrize("text", ["[1]", "not json", '"x"'])
def test_requested_json_must_be_an_object(text: str) -> None:
    with pytest.raises(InvalidArgument, match="requested_json"):
        submission_from(case_pb2.SubmitCaseRequest(requested_json=text), "310000")
    with pytest.raises(InvalidArgument, match="detail_json"):
        event_from_message(case_pb2.CaseEventMessage(detail_json=text))


def record(**changes: Any) -> CaseRecord:
    fields: dict[str, Any] = {
        "case_id": "C32-X",
        "request_id": "310000/r",
        "request_hash": "h",
        "item_code": "YRD-JS-QY-0101",
        "owner_region": "320000",
        "window_region": "310000",
        "window_id": "SH-1",
        "applicant_id": "a",
        "state": "under_review",
        "data": {"reviewer": "JS-AMR-7", "note": "迁移"},
        "created_at": 10.0,
        "updated_at": 20.0,
        "deadline_at": 30.0,
        "version": 3,
    }
    fields.update(changes)
    return CaseRecord(**fields)


def test_a_case_view_carries_the_case_and_its_reviewer() -> None:
    view = case_view(record(), now=25.0, created=True)
    assert (view.case_id, view.state, view.version, view.created) == (
        "C32-X",
        "under_review",
        3,
        True,
    )
    assert view.reviewer == "JS-AMR-7" and json.loads(view.data_json)["note"] == "迁移"
    assert view.overdue is False and case_view(record(), now=31.0).overdue is True
    assert case_view(record(data={}), now=0).reviewer == ""
