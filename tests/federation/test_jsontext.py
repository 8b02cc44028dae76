"""Untrusted JSON: bounded depth, no NaN constants, InvalidArgument instead of a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.errors import InvalidArgument
from federation.jsontext import MAX_DEPTH, depth_of, loads_untrusted

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(values)
def test_shallow_json_round_trips(value: object) -> None:
    text = json.dumps(value)
    if depth_of(value) <= MAX_DEPTH:
        assert loads_untrusted(text, "x") == value


@given(st.integers(min_value=MAX_DEPTH + 1, max_value=200))
def test_json_deeper_than_the_limit_is_refused(depth: int) -> None:
    with pytest.raises(InvalidArgument, match="nested too deeply"):
        loads_untrusted("[" * depth + "]" * depth, "fields_json")


def test_json_past_the_recursion_limit_is_refused_not_crashed() -> None:
    with pytest.raises(InvalidArgument, match="fields_json"):
        loads_untrusted("[" * 200_000, "fields_json")


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', "[-Infinity]", "{", "\ud800"])
def test_constants_and_garbage_are_invalid_argument(text: str) -> None:
    with pytest.raises(InvalidArgument):
        loads_untrusted(text, "x")


def test_depth_counts_objects_and_arrays() -> None:
    assert depth_of(1) == 0
    assert depth_of([]) == 1
    assert depth_of({"a": [1, {"b": []}]}) == 4
