"""Tests for the federation's region codes and their parsing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.errors import InvalidArgument
from federation.regions import PROVINCES, Region, parse_region, region_of_id_number

EXPECTED = {
    Region.HUB: ("100000", "HUB", "national", "yrd:hub:100000"),
    Region.SH: ("310000", "SH", "shanghai", "yrd:sh:310000"),
    Region.JS: ("320000", "JS", "jiangsu", "yrd:js:320000"),
    Region.ZJ: ("330000", "ZJ", "zhejiang", "yrd:zj:330000"),
    Region.AH: ("340000", "AH", "anhui", "yrd:ah:340000"),
}


@pytest.mark.parametrize("region", list(Region))
def test_region_properties(region: Region) -> None:
    code, short, _, entity = EXPECTED[region]
    assert region.code == code
    assert region.short == short
    assert region.entity_id == entity
    assert region.label
    assert region.is_province is (region is not Region.HUB)


def test_provinces_are_the_four_yrd_members_in_order() -> None:
    assert PROVINCES == (Region.SH, Region.JS, Region.ZJ, Region.AH)


@pytest.mark.parametrize(
    ("text", "region"),
    [(text, region) for region, names in EXPECTED.items() for text in names],
)
def test_parse_by_code_short_english_name_and_entity_id(text: str, region: Region) -> None:
    assert parse_region(text) is region


@pytest.mark.parametrize(
    ("text", "region"),
    [("  sh ", Region.SH), ("ShangHai", Region.SH), ("YRD:ZJ:330000", Region.ZJ),
     ("\t340000\n", Region.AH), ("hub", Region.HUB)],
)
def test_parse_is_case_and_whitespace_insensitive(text: str, region: Region) -> None:
    assert parse_region(text) is region


@pytest.mark.parametrize(
    "text", ["", "XX", "310001", "31", "yrd:sh:320000", "beijing", "上海", "shanghai city"]
)
def test_unknown_region_names_the_valid_choices(text: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_region(text)
    message = info.value.message
    assert repr(text) in message
    for region in Region:
        assert f"{region.short}={region.code}" in message


@settings(deadline=None)
@given(st.text(max_size=30))
def test_parse_region_either_answers_a_region_or_raises_invalid_argument(text: str) -> None:
    try:
        region = parse_region(text)
    except InvalidArgument:
        return
    key = text.strip().upper()
    assert key in {n.upper() for n in EXPECTED[region]}


@pytest.mark.parametrize(
    ("id_number", "region"),
    [("310101199001011234", Region.SH), ("320102198001010000", Region.JS),
     ("330106200001010000", Region.ZJ), ("340104197001010000", Region.AH),
     ("110105194912310021", None), ("440113201410050010", None)],
)
def test_region_of_id_number(id_number: str, region: Region | None) -> None:
    assert region_of_id_number(id_number) is region


# regression: '' and '3' answered Shanghai before e0c2df2
@pytest.mark.parametrize("text", ["", "3", "3a0101", "x1"])
def test_region_of_a_too_short_id_number_is_none(text: str) -> None:
    assert region_of_id_number(text) is None
