"""Tests for the licence model: holder codes, authorities, dates and type-specific fields."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from federation.codes import make_credit_code
from federation.errors import InvalidArgument
from federation.licences import HolderCodeType, IssuingAuthority, Licence, StatusReference
from federation.licences.model import parse_day, parse_holder_code_type, region_of_division
from federation.regions import Region
from tests._support.licences import (
    BUSINESS_FIELDS,
    DRIVING_FIELDS,
    ENTERPRISE_CODE,
    PERSON_ID,
    World,
)


def test_driving_licence_is_built_consistently(world: World) -> None:
    licence = world.driving_licence()
    assert licence.name == "机动车驾驶证"
    assert licence.holder_code_type is HolderCodeType.CITIZEN_ID
    assert licence.identifier.authority_code == world.police.credit_code
    assert licence.region_code == "320000"
    assert licence.licence_type.key == "driving_licence"
    assert dict(licence.fields) == DRIVING_FIELDS
    claims = licence.personal_claims()
    assert claims["holder_name"] == "张三"
    assert claims["number"] == PERSON_ID
    assert licence == world.driving_licence()


def test_business_licence_is_long_term_and_legal(world: World) -> None:
    licence = world.business_licence()
    assert licence.valid_until is None
    assert licence.holder_code_type is HolderCodeType.CREDIT_CODE
    assert licence.holder_code == ENTERPRISE_CODE
    assert licence.fields["registered_capital"] == BUSINESS_FIELDS["registered_capital"]
    assert licence.authority.region is Region.JS


def test_holder_code_is_normalised(world: World) -> None:
    lower = PERSON_ID[:-1] + PERSON_ID[-1].lower()
    assert world.driving_licence(holder_code=f" {lower} ").holder_code == PERSON_ID


def test_fields_are_read_only(world: World) -> None:
    licence = world.driving_licence()
    with pytest.raises(TypeError):
        licence.fields["sex"] = "女"  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"holder_code": PERSON_ID[:-1] + ("0" if PERSON_ID[-1] != "0" else "1")},
         "citizen id check char is wrong"),
        ({"holder_code": ENTERPRISE_CODE}, "citizen id"),
        ({"fields": {**DRIVING_FIELDS, "colour": "red"}}, "no field"),
        ({"fields": {k: v for k, v in DRIVING_FIELDS.items() if k != "vehicle_class"}},
         "requires field"),
        ({"fields": {**DRIVING_FIELDS, "first_issue_date": "2010/03/01"}}, "date YYYY-MM-DD"),
        ({"valid_until": dt.date(2024, 1, 1)}, "before valid from"),
        ({"holder_name": "  "}, "holder name"),
        ({"number": ""}, "licence number"),
        ({"serial": "js-1"}, "serial"),
    ],
)
def test_invalid_driving_licences_are_refused(
    world: World, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        world.driving_licence(**changes)


def test_integer_field_refuses_text(world: World) -> None:
    with pytest.raises(InvalidArgument, match="integer"):
        world.business_licence(fields={**BUSINESS_FIELDS, "registered_capital": "5百万"})


def test_holder_code_type_must_match_holder_kind(world: World) -> None:
    licence = world.business_licence()
    with pytest.raises(InvalidArgument, match="identified by credit_code"):
        dataclasses.replace(licence, holder_code_type=HolderCodeType.CITIZEN_ID)


def test_identifier_must_agree_with_type_and_authority(world: World) -> None:
    driving, business = world.driving_licence(), world.business_licence()
    with pytest.raises(InvalidArgument, match="identifier type code"):
        dataclasses.replace(driving, identifier=business.identifier)
    other = IssuingAuthority(make_credit_code("1", "1", "320100", "01409999"), "南京", "320100")
    with pytest.raises(InvalidArgument, match="identifier authority code"):
        dataclasses.replace(driving, authority=other)


def test_unknown_type_code_is_refused(world: World) -> None:
    with pytest.raises(InvalidArgument, match="no licence type"):
        dataclasses.replace(world.driving_licence(), type_code="111000000000143498999")


def test_issuing_authority_validation() -> None:
    code = make_credit_code("1", "1", "330100", "00000001")
    assert IssuingAuthority(code, "杭州市市场监督管理局", "330100").region is Region.ZJ
    with pytest.raises(InvalidArgument, match="check char"):
        IssuingAuthority(code[:-1] + ("0" if code[-1] != "0" else "1"), "x", "330100")
    with pytest.raises(InvalidArgument, match="upper-case"):
        IssuingAuthority(code.lower(), "x", "330100")
    with pytest.raises(InvalidArgument, match="not in a federation region"):
        IssuingAuthority(code, "x", "440100")
    with pytest.raises(InvalidArgument, match="name"):
        IssuingAuthority(code, " ", "330100")


def test_region_of_division() -> None:
    assert region_of_division("310115") is Region.SH
    assert region_of_division("340100") is Region.AH
    assert region_of_division("100000") is Region.HUB
    for bad in ("31011", "031011", "abcdef"):
        with pytest.raises(InvalidArgument, match="6-digit"):
            region_of_division(bad)


def test_status_reference() -> None:
    ref = StatusReference("https://x/1", 0)
    assert StatusReference.from_claim(ref.to_claim()) == ref
    with pytest.raises(InvalidArgument, match="index"):
        StatusReference("https://x/1", -1)
    with pytest.raises(InvalidArgument, match="index"):
        StatusReference("https://x/1", True)
    with pytest.raises(InvalidArgument, match="uri"):
        StatusReference("", 1)
    with pytest.raises(InvalidArgument, match="status_list"):
        StatusReference.from_claim({"idx": 1})


def test_parse_holder_code_type() -> None:
    assert parse_holder_code_type("credit_code") is HolderCodeType.CREDIT_CODE
    with pytest.raises(InvalidArgument, match="holder code type"):
        parse_holder_code_type("passport")


def test_dict_round_trip(world: World) -> None:
    for licence in (world.driving_licence(), world.business_licence()):
        data = licence.to_dict()
        assert Licence.from_dict(data) == licence
        assert Licence.from_dict(json.loads(json.dumps(data))) == licence


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"identifier": "1.2.3"}, "starts with"),
        ({"issue_date": "20250102"}, "issue_date must be a date"),
        ({"valid_until": "2031-02-30"}, "valid_until must be a date"),
        ({"holder_code_type": "passport"}, "holder code type"),
        ({"authority": None}, "malformed licence record"),
    ],
)
def test_from_dict_refuses_bad_records(world: World, change: dict[str, object],
                                       message: str) -> None:
    data = {**world.driving_licence().to_dict(), **change}
    with pytest.raises(InvalidArgument, match=message):
        Licence.from_dict(data)
    del data["name"]
    with pytest.raises(InvalidArgument):
        Licence.from_dict(data)


def test_dates_must_be_dates(world: World) -> None:
    with pytest.raises(InvalidArgument, match="valid until must be a date"):
        world.driving_licence(valid_until="2031-01-02")
    assert parse_day("2025-01-02", "d") == dt.date(2025, 1, 2)
