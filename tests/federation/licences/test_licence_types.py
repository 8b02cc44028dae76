"""Tests for the licence-type catalogue."""

from __future__ import annotations

import pytest

from federation.codes import is_valid_credit_code
from federation.errors import InvalidArgument, NotFound
from federation.licences import (
    CATALOGUE,
    FieldType,
    HolderKind,
    get_licence_type,
    licence_type_by_code,
    licence_type_by_key,
)
from federation.licences.model import PERSONAL_CLAIMS
from federation.licences.types import MCA, MOHRSS, MPS, NHC, SAMR

REQUIRED_KEYS = {
    "resident_identity_card",
    "residence_permit",
    "business_licence",
    "driving_licence",
    "vehicle_licence",
    "marriage_certificate",
    "birth_medical_certificate",
    "social_security_card",
}
METADATA_CLAIMS = {"iss", "iss_name", "region", "vct", "licence_name", "id", "iat", "issue_date",
                   "valid_from", "valid_until", "holder_code_type", "status", "cnf"}


def test_catalogue_covers_the_issue_types() -> None:
    assert {t.key for t in CATALOGUE} >= REQUIRED_KEYS


@pytest.mark.parametrize("licence_type", CATALOGUE, ids=lambda t: t.key)
def test_type_code_is_department_credit_code_plus_sequence(licence_type) -> None:  # type: ignore[no-untyped-def]
    code = licence_type.code
    assert len(code) == 21
    assert code[:18] == licence_type.department.credit_code
    assert is_valid_credit_code(code[:18])
    assert code[18:].isdigit()


@pytest.mark.parametrize("licence_type", CATALOGUE, ids=lambda t: t.key)
def test_fields_are_consistent(licence_type) -> None:  # type: ignore[no-untyped-def]
    names = licence_type.field_names
    assert len(set(names)) == len(names)
    assert licence_type.sensitive_fields <= set(names)
    assert licence_type.required_fields <= set(names)
    assert not set(names) & (set(PERSONAL_CLAIMS) | METADATA_CLAIMS)
    assert licence_type.name_zh and licence_type.name_en


def test_codes_and_keys_are_unique() -> None:
    assert len({t.code for t in CATALOGUE}) == len(CATALOGUE)
    assert len({t.key for t in CATALOGUE}) == len(CATALOGUE)


def test_departments_have_valid_credit_codes() -> None:
    for department in (MPS, SAMR, MCA, NHC, MOHRSS):
        assert is_valid_credit_code(department.credit_code)
        assert department.credit_code[2:8] == "100000"


def test_lookup_by_code_key_and_either() -> None:
    driving = licence_type_by_key("driving_licence")
    assert driving.department is MPS
    assert driving.holder_kind is HolderKind.NATURAL
    assert licence_type_by_code(driving.code) is driving
    assert licence_type_by_code(driving.code.lower()) is driving
    assert get_licence_type("driving_licence") is driving
    assert get_licence_type(driving.code) is driving
    assert licence_type_by_key("business_licence").holder_kind is HolderKind.LEGAL
    assert "address" in driving.sensitive_fields


def test_unknown_lookups_raise_not_found() -> None:
    with pytest.raises(NotFound, match="no licence type"):
        licence_type_by_key("fishing_licence")
    with pytest.raises(NotFound, match="type code"):
        licence_type_by_code("111000000000143498999")


def test_field_lookup_names_the_known_fields() -> None:
    with pytest.raises(InvalidArgument, match="vehicle_class"):
        licence_type_by_key("driving_licence").field("colour")


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (FieldType.STRING, "C1", ""),
        (FieldType.STRING, "x", 3),
        (FieldType.DATE, "2025-01-02", "2025-1-2"),
        (FieldType.DATE, "2024-02-29", "2025-02-29"),
        (FieldType.INTEGER, 5, True),
        (FieldType.INTEGER, 0, "5"),
        (FieldType.BOOLEAN, False, 0),
    ],
)
def test_field_type_checks(kind: FieldType, good: object, bad: object) -> None:
    assert kind.check("f", good) == good
    with pytest.raises(InvalidArgument, match="field 'f'"):
        kind.check("f", bad)
