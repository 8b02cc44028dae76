"""Tests for GB/T 36904 licence identifiers, with property-based checks."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from federation.codes import CREDIT_CODE_ALPHABET, make_credit_code
from federation.errors import InvalidArgument
from federation.licences import (
    CATALOGUE,
    LicenceIdentifier,
    identifier_check_char,
    is_valid_identifier,
    make_identifier,
    new_serial,
    parse_identifier,
)
from federation.licences.identifier import IDENTIFIER_PREFIX

ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TYPE_CODE = CATALOGUE[2].code
AUTHORITY = make_credit_code("1", "1", "320000", "01400123")

credit_codes = st.builds(
    make_credit_code,
    st.sampled_from("159ANY"),
    st.sampled_from("123"),
    st.integers(110000, 829999).map(str),
    st.text(CREDIT_CODE_ALPHABET, min_size=8, max_size=8),
)
type_codes = st.one_of(
    st.sampled_from([t.code for t in CATALOGUE]),
    st.builds(lambda c, n: c + f"{n:03d}", credit_codes, st.integers(0, 999)),
)
serials = st.text(ALNUM36, min_size=1, max_size=20)
versions = st.text("0123456789", min_size=1, max_size=4)
identifiers = st.builds(make_identifier, type_codes, credit_codes, serials, versions)


def test_known_identifier_round_trip() -> None:
    ident = make_identifier(TYPE_CODE, AUTHORITY, "JS2025000001", 1)
    text = ident.format()
    assert text.startswith(IDENTIFIER_PREFIX + TYPE_CODE + "." + AUTHORITY + ".JS2025000001.1.")
    assert str(ident) == text
    assert parse_identifier(text) == ident
    assert parse_identifier(f"  {text.lower()} ") == ident
    assert is_valid_identifier(text)
    assert ident.check == identifier_check_char(TYPE_CODE, AUTHORITY, "JS2025000001", "1")


@given(identifiers)
def test_generate_parse_round_trip(ident: LicenceIdentifier) -> None:
    assert parse_identifier(ident.format()) == ident
    assert is_valid_identifier(ident.format())


@given(identifiers, st.data())
def test_single_substitution_in_middle_fields_or_check_is_detected(
    ident: LicenceIdentifier, data: st.DataObject
) -> None:
    text = ident.format()
    positions = [i for i in range(len(IDENTIFIER_PREFIX), len(text)) if text[i] != "."]
    position = data.draw(st.sampled_from(positions))
    replacement = data.draw(st.sampled_from(ALNUM36).filter(lambda c: c != text[position]))
    mutated = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(InvalidArgument):
        parse_identifier(mutated)
    assert not is_valid_identifier(mutated)


@settings(max_examples=300)
@given(st.one_of(st.text(), st.text(alphabet="0123456789ABCXYZ.", max_size=90)))
@example("1.2.156.3005.2." + "ſ" * 5)
@example(IDENTIFIER_PREFIX + "....")
def test_parser_raises_only_invalid_argument(text: str) -> None:
    with contextlib.suppress(InvalidArgument):
        parse_identifier(text)


@given(identifiers, st.text(min_size=1, max_size=3))
def test_prefix_mutations_are_refused(ident: LicenceIdentifier, junk: str) -> None:
    text = ident.format()
    with pytest.raises(InvalidArgument):
        parse_identifier(junk + text[1:] if junk != text[0] else "9" + text[1:])


def _valid_parts() -> list[str]:
    return make_identifier(TYPE_CODE, AUTHORITY, "ABC123", "2").format()[
        len(IDENTIFIER_PREFIX) :
    ].split(".")


def _with(index: int, value: str) -> str:
    parts = _valid_parts()
    parts[index] = value
    return IDENTIFIER_PREFIX + ".".join(parts)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.2.156.3005.3." + ".".join(_valid_parts()), "starts with '1.2.156.3005.2.'"),
        (IDENTIFIER_PREFIX + ".".join(_valid_parts()[:4]), "5 dot-separated parts"),
        (_with(0, TYPE_CODE[:20]), "type code must be 21 characters"),
        (_with(0, TYPE_CODE[:18] + "0A1"), "3-digit sequence"),
        (_with(0, "2" + TYPE_CODE[1:]), "department credit code is invalid"),
        (_with(1, AUTHORITY[:17] + ("0" if AUTHORITY[17] != "0" else "1")), "authority code"),
        (_with(2, "AB-12"), "serial must be 1-20 characters 0-9 or A-Z"),
        (_with(2, "A" * 21), "serial must be 1-20"),
        (_with(3, "1A"), "version must be 1-4 digits"),
        (_with(4, "##"), "check must be one character"),
        ("ｌ" + IDENTIFIER_PREFIX, "ASCII"),
        ("1" * 200, "at most"),
    ],
)
def test_error_messages_name_the_wrong_part(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_identifier(text)


def test_wrong_check_char_says_expected_and_got() -> None:
    good = make_identifier(TYPE_CODE, AUTHORITY, "ABC123", "2")
    wrong = "0" if good.check != "0" else "1"
    with pytest.raises(InvalidArgument, match=f"expected {good.check} got {wrong}"):
        parse_identifier(good.format()[:-1] + wrong)


def test_constructor_validates_every_part() -> None:
    good = make_identifier(TYPE_CODE, AUTHORITY, "ABC123", "2")
    wrong = "0" if good.check != "0" else "1"
    with pytest.raises(InvalidArgument, match="expected"):
        LicenceIdentifier(good.type_code, good.authority_code, good.serial, good.version, wrong)
    with pytest.raises(InvalidArgument, match="upper-case"):
        LicenceIdentifier(good.type_code, good.authority_code, "abc123", good.version, good.check)


def test_make_identifier_refuses_bad_input() -> None:
    with pytest.raises(InvalidArgument, match="version"):
        make_identifier(TYPE_CODE, AUTHORITY, "A", -1)
    with pytest.raises(InvalidArgument, match="must be a string"):
        make_identifier(TYPE_CODE, AUTHORITY, 5, 1)  # type: ignore[arg-type]


def test_new_serial_makes_valid_serials() -> None:
    serial = new_serial()
    assert len(serial) == 12
    assert is_valid_identifier(make_identifier(TYPE_CODE, AUTHORITY, serial).format())
    with pytest.raises(InvalidArgument):
        new_serial(21)
