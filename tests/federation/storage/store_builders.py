"""Record builders shared by the licence and case contract tests and the crash writer."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hypothesis import strategies as st

from federation.storage.base import CaseEvent, CaseRating, CaseRecord, LicenceRecord

AUTHORITY = "11310000002420001X"  # an issuing authority's unified social credit code


def licence(n: int = 1, **kw: Any) -> LicenceRecord:
    """Licence number `n` of a holder: unique identifier, request id and status index."""
    fields: dict[str, Any] = {
        "identifier": f"1.2.156.3005.2.{AUTHORITY}001.{AUTHORITY}.{n:06d}.001.K",
        "request_id": f"req-{n}",
        "request_hash": f"sha256-{n}",
        "type_code": f"{AUTHORITY}001",
        "holder_code": "310101199001011234",
        "authority_code": AUTHORITY,
        "sd_jwt": f"eyJhbGciOiJFZERTQSJ9.e30.sig{n}~WyJzYWx0IiwibmFtZSIsIuW8oOS4iSJd~",
        "status_index": n,
        "status": 0,
        "issued_at": 1_700_000_000.0 + n,
        "updated_at": 1_700_000_000.0 + n,
    }
    fields.update(kw)
    return LicenceRecord(**fields)


def case(case_id: str = "c1", **kw: Any) -> CaseRecord:
    """A submitted case owned by Zhejiang, applied for at a Shanghai window."""
    fields: dict[str, Any] = {
        "request_id": f"req-{case_id}",
        "request_hash": f"sha256-{case_id}",
        "item_code": "330000-ITEM-0001",
        "owner_region": "330000",
        "window_region": "310000",
        "window_id": "SH-PD-01",
        "applicant_id": "310101199001011234",
        "state": "submitted",
        "data": {"materials": ["1.2.156.x"], "purpose": "开办企业", "fee": 12.5},
        "created_at": 1_700_000_000.5,
        "updated_at": 1_700_000_000.5,
        "deadline_at": 1_700_600_000.0,
    }
    fields.update(kw)
    return CaseRecord(case_id=case_id, **fields)


def event(
    case_id: str = "c1", to_state: str = "submitted", from_state: str = "", **kw: Any
) -> CaseEvent:
    fields: dict[str, Any] = {
        "seq": 0,
        "time": 1_700_000_000.5,
        "actor": "310000/SH-PD-01",
        "detail": {"note": "受理"},
    }
    fields.update(kw)
    return CaseEvent(case_id=case_id, from_state=from_state, to_state=to_state, **fields)


def rating(case_id: str = "c1", score: int = 5, **kw: Any) -> CaseRating:
    fields: dict[str, Any] = {
        "reasons": ("办事便捷", "服务热情"),
        "comment": "fast",
        "rated_at": 1_700_100_000.0,
    }
    fields.update(kw)
    return CaseRating(case_id=case_id, score=score, **fields)


def run_threads(workers: int, fn: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, range(workers)))


def outcome(fn: Callable[[], Any]) -> Any:
    """The call's result, or the exception it raised (for racing threads)."""
    try:
        return fn()
    except Exception as exc:
        return exc


# text every backend stores as given: no NUL (PostgreSQL text) and no lone surrogates (UTF-8)
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)
