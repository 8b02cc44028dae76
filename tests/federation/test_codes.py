"""Tests for GB 11643 citizen ids, GB 32100 credit codes and ISO 7064 MOD 37,36."""

from __future__ import annotations

import contextlib
import datetime
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation import codes
from federation.codes import (
    CREDIT_CODE_ALPHABET,
    citizen_id_birth_date,
    citizen_id_check_char,
    citizen_id_sex,
    credit_code_check_char,
    is_valid_citizen_id,
    is_valid_credit_code,
    iso7064_mod37_36_check_char,
    iso7064_mod37_36_is_valid,
    make_citizen_id,
    make_credit_code,
    org_code_check_char,
    validate_citizen_id,
    validate_credit_code,
    validate_iso7064_mod37_36,
)
from federation.errors import InvalidArgument

TODAY = datetime.date(2025, 6, 1)
ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Published examples (GB 11643 annex, python-stdnum's test data).
KNOWN_CITIZEN_IDS = [
    "11010519491231002X",
    "360426199101010071",
    "44011320141005001X",
    "412723199010050012",
    "110102199101010078",
    "440524188001010014",
]

# Published example credit codes (GB 32100 text and python-stdnum's test data).
KNOWN_CREDIT_CODES = [
    "91350100M000100Y43",
    "121200004013590816",
    "91110000600037341L",
    "91110000710926094P",
    "91120224064012553U",
    "911522010783710635",
    "91152201078371135X",
    "91310000631696382C",
    "91310115MA1K3BTP2B",
    "9131012056010553X5",
    "91340600MA2PBM9HXD",
    "91340603MA2UJXXCXF",
    "91620105L015101280",
    "91620105MA71T4YW8Q",
    "9144030071526726XG",
    "92340621MA2PBN0KXX",
    "92340621MA2UK3PJXE",
]


# --- citizen ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("citizen_id", KNOWN_CITIZEN_IDS)
def test_known_citizen_ids_validate(citizen_id: str) -> None:
    assert validate_citizen_id(citizen_id, today=TODAY) == citizen_id
    assert citizen_id_check_char(citizen_id[:17]) == citizen_id[17]


def test_citizen_id_is_normalised() -> None:
    assert validate_citizen_id("  44011320141005001x ") == "44011320141005001X"


def test_citizen_id_fields() -> None:
    assert citizen_id_birth_date("11010519491231002X") == datetime.date(1949, 12, 31)
    assert citizen_id_sex("11010519491231002X") == "female"
    assert citizen_id_sex("360426199101010071") == "male"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1101051949123100", "18 characters"),
        ("1101051949123100X2", "only the digits"),
        ("11010519491231002Z", "check char 0-9 or X"),
        ("360426199113010079", "not a real date"),
        ("360426199102300071", "not a real date"),
        ("36042619910102009X", "expected"),
        ("010105194912310028", "cannot start with 0"),
        ("１１0105194912310028", "only the digits"),
    ],
)
def test_citizen_id_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        validate_citizen_id(text, today=TODAY)


def test_citizen_id_wrong_check_char_message() -> None:
    with pytest.raises(InvalidArgument, match="expected 1 got 9"):
        validate_citizen_id("360426199101010079", today=TODAY)


def test_citizen_id_birth_in_future_is_refused() -> None:
    future = make_citizen_id("330106", datetime.date(2030, 1, 1), 17)
    with pytest.raises(InvalidArgument, match="in the future"):
        validate_citizen_id(future, today=TODAY)
    assert is_valid_citizen_id(future, today=datetime.date(2030, 1, 1))


def test_make_citizen_id_rejects_bad_parts() -> None:
    with pytest.raises(InvalidArgument):
        make_citizen_id("33010", datetime.date(1990, 1, 1), 1)
    with pytest.raises(InvalidArgument):
        make_citizen_id("330106", datetime.date(1990, 1, 1), 1000)
    with pytest.raises(InvalidArgument):
        make_citizen_id("33O106", datetime.date(1990, 1, 1), 1)


divisions = st.from_regex(r"\A[1-8][0-9]{5}\Z", fullmatch=True)
births = st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


@given(divisions, births, sequences)
def test_generated_citizen_ids_validate_and_round_trip(
    division: str, birth: datetime.date, sequence: int
) -> None:
    citizen_id = make_citizen_id(division, birth, sequence)
    assert validate_citizen_id(citizen_id, today=TODAY) == citizen_id
    assert validate_citizen_id(citizen_id.lower(), today=TODAY) == citizen_id
    assert citizen_id_birth_date(citizen_id) == birth
    assert citizen_id_sex(citizen_id) == ("male" if sequence % 2 else "female")


@given(divisions, births, sequences, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_citizen_id_single_substitution_detected(
    division: str, birth: datetime.date, sequence: int, position: int, char: str
) -> None:
    citizen_id = make_citizen_id(division, birth, sequence)
    if citizen_id[position] == char:
        return
    mutated = citizen_id[:position] + char + citizen_id[position + 1 :]
    assert not is_valid_citizen_id(mutated, today=TODAY)


@given(divisions, births, sequences, st.integers(0, 16))
def test_citizen_id_adjacent_transposition_detected(
    division: str, birth: datetime.date, sequence: int, position: int
) -> None:
    citizen_id = make_citizen_id(division, birth, sequence)
    a, b = citizen_id[position], citizen_id[position + 1]
    if a == b:
        return
    mutated = citizen_id[:position] + b + a + citizen_id[position + 2 :]
    assert not is_valid_citizen_id(mutated, today=TODAY)


@given(st.text(max_size=30))
def test_citizen_id_validator_only_raises_invalid_argument(text: str) -> None:
    with contextlib.suppress(InvalidArgument):
        validate_citizen_id(text)
    assert isinstance(is_valid_citizen_id(text), bool)


# --- organisation codes and credit codes ------------------------------------------------------


def test_org_code_check_char() -> None:
    assert org_code_check_char("60003734") == "1"
    assert org_code_check_char("M000100Y") == "4"
    assert org_code_check_char("71526726") == "X"


@pytest.mark.parametrize("code", KNOWN_CREDIT_CODES)
def test_known_credit_codes_validate(code: str) -> None:
    assert validate_credit_code(code) == code
    assert credit_code_check_char(code[:17]) == code[17]


def test_credit_code_is_normalised() -> None:
    assert validate_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("12345", "18 characters"),
        ("9111000060003IOZSV", "except I, O, S, V, Z; character 14"),
        ("91A10000600037341L", "division code"),
        ("91110000600037342L", "organisation-code check char .* expected 1 got 2"),
        ("91110000600037341N", "expected L got N"),
    ],
)
def test_credit_code_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        validate_credit_code(text)


def test_credit_code_org_check_can_be_skipped() -> None:
    first17 = "91110000600037342"
    code = first17 + credit_code_check_char(first17)
    assert not is_valid_credit_code(code)
    assert is_valid_credit_code(code, check_org_code=False)


def test_make_credit_code_matches_published_example() -> None:
    assert make_credit_code("9", "1", "350100", "M000100Y") == "91350100M000100Y43"
    with pytest.raises(InvalidArgument):
        make_credit_code("9", "1", "35010A", "M000100Y")
    with pytest.raises(InvalidArgument):
        make_credit_code("9", "1", "350100", "M000100I")
    with pytest.raises(InvalidArgument):
        make_credit_code("91", "1", "350100", "M000100Y")


credit_chars = st.sampled_from(CREDIT_CODE_ALPHABET)
org_bodies = st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=8, max_size=8)


@given(credit_chars, credit_chars, divisions, org_bodies)
def test_generated_credit_codes_validate(
    registration: str, org_type: str, division: str, body: str
) -> None:
    code = make_credit_code(registration, org_type, division, body)
    assert validate_credit_code(code) == code
    assert validate_credit_code(code.lower()) == code


@given(credit_chars, credit_chars, divisions, org_bodies, st.integers(0, 17), credit_chars)
def test_credit_code_single_substitution_detected(
    registration: str, org_type: str, division: str, body: str, position: int, char: str
) -> None:
    code = make_credit_code(registration, org_type, division, body)
    if code[position] == char:
        return
    mutated = code[:position] + char + code[position + 1 :]
    assert not is_valid_credit_code(mutated)
    assert not is_valid_credit_code(mutated, check_org_code=False)


@given(credit_chars, credit_chars, divisions, org_bodies, st.integers(0, 16))
def test_credit_code_adjacent_transposition_detected(
    registration: str, org_type: str, division: str, body: str, position: int
) -> None:
    code = make_credit_code(registration, org_type, division, body)
    a, b = code[position], code[position + 1]
    if a == b:
        return
    mutated = code[:position] + b + a + code[position + 2 :]
    assert not is_valid_credit_code(mutated, check_org_code=False)


@given(st.text(max_size=30))
def test_credit_code_validator_only_raises_invalid_argument(text: str) -> None:
    with contextlib.suppress(InvalidArgument):
        validate_credit_code(text)
    assert isinstance(is_valid_credit_code(text), bool)


# --- ISO 7064 MOD 37,36 -----------------------------------------------------------------------


def test_mod37_36_known_vector() -> None:
    # python-stdnum's stdnum.iso7064.mod_37_36 doctest vector.
    assert iso7064_mod37_36_check_char("A12425GABC1234002") == "M"
    assert iso7064_mod37_36_is_valid("A12425GABC1234002M")
    assert not iso7064_mod37_36_is_valid("A12425GABC1234002N")


def test_mod_hybrid_recursion_matches_mod_11_10_vector() -> None:
    # The same recursion over a 10-char alphabet is MOD 11,10: ISO 7064's example.
    assert codes._mod_hybrid_state("002006673085", "0123456789") == 1


def test_mod37_36_is_case_insensitive_and_strict_on_other_chars() -> None:
    assert iso7064_mod37_36_check_char("a12425gabc1234002") == "M"
    assert validate_iso7064_mod37_36("a12425gabc1234002m") == "A12425GABC1234002M"
    with pytest.raises(InvalidArgument, match=r"character 2 is '\.'"):
        iso7064_mod37_36_check_char("A.1")
    with pytest.raises(InvalidArgument, match="must not be empty"):
        iso7064_mod37_36_check_char("")
    with pytest.raises(InvalidArgument, match="expected M got N"):
        validate_iso7064_mod37_36("A12425GABC1234002N")
    assert not iso7064_mod37_36_is_valid("A.1")
    assert not iso7064_mod37_36_is_valid("M")


mod_data = st.text(alphabet=ALNUM36, min_size=1, max_size=40)


@given(mod_data)
def test_mod37_36_round_trip(data: str) -> None:
    check = iso7064_mod37_36_check_char(data)
    assert check in ALNUM36
    assert iso7064_mod37_36_is_valid(data + check)
    assert validate_iso7064_mod37_36((data + check).lower()) == data + check


@given(mod_data, st.data())
def test_mod37_36_single_substitution_detected(data: str, draw: st.DataObject) -> None:
    full = data + iso7064_mod37_36_check_char(data)
    position = draw.draw(st.integers(0, len(full) - 1))
    char = draw.draw(st.sampled_from(ALNUM36).filter(lambda c: c != full[position]))
    assert not iso7064_mod37_36_is_valid(full[:position] + char + full[position + 1 :])


def test_mod37_36_adjacent_transpositions_almost_all_detected() -> None:
    # A hybrid system guarantees single-substitution detection only; adjacent transpositions
    # are caught except where the doubling wraps past 37. Count the misses exhaustively over
    # every intermediate state: 72 of 45,360 (0.16 %).
    misses = 0
    total = 0
    for product in range(1, 37):
        for a, b in itertools.permutations(range(36), 2):
            total += 1

            def run(x: int, y: int, p: int = product) -> int:
                s = (p + x) % 36
                return (((s or 36) * 2) % 37 + y) % 36

            misses += run(a, b) == run(b, a)
    assert total == 45_360
    assert misses == 72


@given(st.text(max_size=30))
def test_mod37_36_only_raises_invalid_argument(text: str) -> None:
    for function in (iso7064_mod37_36_check_char, validate_iso7064_mod37_36):
        with contextlib.suppress(InvalidArgument):
            function(text)
    assert isinstance(iso7064_mod37_36_is_valid(text), bool)
