"""A reviewer's queue: validated queries, bounded pages, page tokens bound to their filters."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.cases.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CaseQuery,
    decode_page_token,
    encode_page_token,
    list_cases,
)
from federation.errors import InvalidArgument
from federation.storage import open_store
from federation.storage.base import CaseEvent, CaseRecord, Store

JS = "320000"


def record(case_id: str, created_at: float, **changes: Any) -> CaseRecord:
    fields: dict[str, Any] = {
        "request_id": f"310000/{case_id}",
        "request_hash": "h",
        "item_code": "YRD-JS-QY-0101",
        "owner_region": JS,
        "window_region": "310000",
        "window_id": "SH-1",
        "applicant_id": "a",
        "state": "accepted",
        "data": {},
        "created_at": created_at,
        "updated_at": created_at,
        "deadline_at": created_at + 86400,
    }
    fields.update(changes)
    return CaseRecord(case_id=case_id, **fields)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store("sqlite:///" + str(tmp_path / "s.sqlite3"))
    for n in range(7):
        case = record(f"C32-{n:02d}", 100.0 + n // 2, state="accepted" if n % 3 else "closed")
        opened.create_case(case, CaseEvent(case.case_id, 1, 0.0, "", case.state, "x", {}))
    try:
        yield opened
    finally:
        opened.close()


def test_a_query_validates_its_fields() -> None:
    assert CaseQuery.parse(JS).page_size == DEFAULT_PAGE_SIZE
    query = CaseQuery.parse(JS, state="under_review", item_code="I", window_id="W", page_size=5)
    assert (query.state, query.item_code, query.window_id, query.page_size) == (
        "under_review",
        "I",
        "W",
        5,
    )
    assert CaseQuery.parse(JS, state="").state is None
    for size in (-1, MAX_PAGE_SIZE + 1):
        with pytest.raises(InvalidArgument, match="page_size"):
            CaseQuery.parse(JS, page_size=size)
    with pytest.raises(InvalidArgument, match="unknown case state"):
        CaseQuery.parse(JS, state="pending")
    for bad in ("x" * 65, "tab\there"):
        with pytest.raises(InvalidArgument, match="window_id"):
            CaseQuery.parse(JS, window_id=bad)
        with pytest.raises(InvalidArgument, match="item_code"):
            CaseQuery.parse(JS, item_code=bad)


def test_pages_walk_newest_first_and_end_with_an_empty_token(store: Store) -> None:
    query = CaseQuery.parse(JS, page_size=3)
    seen, token, pages = [], "", 0
    while True:
        page, token = list_cases(store, query, token)
        pages += 1
        seen += [c.case_id for c in page]
        if not token:
            break
    assert pages == 3
    assert seen == ["C32-06", "C32-05", "C32-04", "C32-03", "C32-02", "C32-01", "C32-00"]


def test_an_exact_last_page_gives_no_token_and_filters_apply(store: Store) -> None:
    page, token = list_cases(store, CaseQuery.parse(JS, state="closed", page_size=3))
    assert [c.case_id for c in page] == ["C32-06", "C32-03", "C32-00"] and token == ""
    assert list_cases(store, CaseQuery.parse("330000")) == ([], "")
    scoped = CaseQuery.parse(JS, window_region="340000")
    assert list_cases(store, scoped) == ([], "")


def test_a_token_is_bound_to_its_filters_not_its_page_size(store: Store) -> None:
    query = CaseQuery.parse(JS, page_size=2)
    _, token = list_cases(store, query)
    resumed, _ = list_cases(store, CaseQuery.parse(JS, page_size=50), token)
    assert [c.case_id for c in resumed][:1] == ["C32-04"]
    for other in (
        CaseQuery.parse(JS, state="accepted"),
        CaseQuery.parse(JS, window_region="310000"),
        CaseQuery.parse("330000"),
    ):
        with pytest.raises(InvalidArgument, match="other filters"):
            list_cases(store, other, token)


def _token(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        "%%%",
        "x" * 600,
        "令牌",
        _token([1, 2]),
        _token({"v": 1, "q": "x", "t": 1.0}),
        _token({"v": 2, "q": CaseQuery.parse(JS).fingerprint(), "t": 1.0, "c": "C"}),
        _token({"v": 1, "q": CaseQuery.parse(JS).fingerprint(), "t": "1", "c": "C"}),
        _token({"v": 1, "q": CaseQuery.parse(JS).fingerprint(), "t": True, "c": "C"}),
        _token({"v": 1, "q": CaseQuery.parse(JS).fingerprint(), "t": 1.0, "c": ""}),
        _token({"v": 1, "q": CaseQuery.parse(JS).fingerprint(), "t": 1.0, "c": 5}),
        _token({"v": 1, "q": CaseQuery.parse(JS).fingerprint(), "t": 1.0, "c": "C", "x": 1}),
        _token({"v": 1, "q": CaseQuery.parse(JS).fingerprint(), "t": float("nan"), "c": "C"}),
    ],
)
def test_a_token_not_made_by_a_previous_page_is_refused(token: str) -> None:
    with pytest.raises(InvalidArgument, match="page_token"):
        decode_page_token(CaseQuery.parse(JS), token)


@settings(max_examples=200)
@given(
    created=st.floats(allow_nan=False, allow_infinity=False),
    case_id=st.text(min_size=1, max_size=40),
    state=st.sampled_from(["", "accepted", "closed"]),
    window_id=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=10),
)
def test_a_token_round_trips_its_cursor(
    created: float, case_id: str, state: str, window_id: str
) -> None:
    query = CaseQuery.parse(JS, state=state, window_id=window_id)
    token = encode_page_token(query, record(case_id, created))
    assert token.isascii() and "=" not in token
    assert decode_page_token(query, token) == (created, case_id)
