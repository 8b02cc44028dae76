"""Clocks and the one rendering of instants for people: ISO 8601 in China Standard Time."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from federation.clock import iso_cst


def test_iso_cst_is_iso_8601_at_plus_eight() -> None:
    assert iso_cst(0) == "1970-01-01T08:00:00+08:00"
    instant = dt.datetime(2026, 12, 1, 14, 50, 1, tzinfo=dt.UTC).timestamp()
    assert iso_cst(instant) == "2026-12-01T22:50:01+08:00"
    assert iso_cst(instant + 0.999) == "2026-12-01T22:50:01+08:00"  # floored, never rounded up
    assert iso_cst(1790000000) == "2026-09-21T22:13:20+08:00"


@given(st.floats(min_value=0, max_value=4102444800))
def test_iso_cst_parses_back_to_the_second(epoch: float) -> None:
    parsed = dt.datetime.fromisoformat(iso_cst(epoch))
    assert parsed.utcoffset() == dt.timedelta(hours=8)
    assert 0 <= epoch - parsed.timestamp() < 1
