"""The codes' C-speed fast paths agree with the per-character loops they replaced, on any input."""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from federation.codes import (
    CREDIT_CODE_ALPHABET,
    citizen_id_check_char,
    credit_code_check_char,
    make_citizen_id,
    make_credit_code,
    org_code_check_char,
    validate_citizen_id,
    validate_credit_code,
)
from federation.errors import InvalidArgument

_ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CITIZEN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


# --- the functions as they were -----------------------------------------------------------------
def _digits_before(text: str, what: str) -> None:
    for index, char in enumerate(text):
        if char not in "0123456789":
            raise InvalidArgument(
                f"{what} must contain only the digits 0-9; character {index + 1} is {char!r}"
            )


def _citizen_check_before(first17: str) -> str:
    if not isinstance(first17, str) or len(first17) != 17:
        raise InvalidArgument(
            "a citizen id check char is computed over exactly 17 digits, "
            f"got {len(first17) if isinstance(first17, str) else type(first17).__name__}"
        )
    _digits_before(first17, "the first 17 characters of a citizen id")
    total = sum(int(c) * w for c, w in zip(first17, _CITIZEN_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def _org_check_before(body8: str) -> str:
    body = body8.strip().upper()
    if len(body) != 8:
        raise InvalidArgument(
            f"an organisation code body has 8 characters (digits or letters), got {len(body)}"
        )
    for index, char in enumerate(body):
        if char not in _ALNUM36:
            raise InvalidArgument(
                "an organisation code body holds only digits 0-9 and letters A-Z; "
                f"character {index + 1} is {char!r}"
            )
    total = sum(_ALNUM36.index(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def _credit_check_before(first17: str) -> str:
    if not isinstance(first17, str) or len(first17) != 17:
        raise InvalidArgument(
            "a credit code check char is computed over exactly 17 characters, "
            f"got {len(first17) if isinstance(first17, str) else type(first17).__name__}"
        )
    for index, char in enumerate(first17):
        if char not in CREDIT_CODE_ALPHABET:
            raise InvalidArgument(
                "a credit code uses only 0-9 and upper-case letters except I, O, S, V, Z; "
                f"character {index + 1} is {char!r}"
            )
    total = sum(
        CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def _outcome(call: object, *args: object) -> tuple[str, object]:
    try:
        return "ok", call(*args)  # type: ignore[operator]
    except InvalidArgument as exc:
        return "refused", exc.message


_CHARS = st.text(alphabet="0123456789ABCDXYZIOSVaz \u0661\uff11-", min_size=0, max_size=19)


@settings(max_examples=400, deadline=None)
@given(_CHARS)
def test_the_check_chars_are_the_loops(text: str) -> None:
    assert _outcome(citizen_id_check_char, text) == _outcome(_citizen_check_before, text)
    assert _outcome(credit_code_check_char, text) == _outcome(_credit_check_before, text)
    assert _outcome(org_code_check_char, text) == _outcome(_org_check_before, text)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=999),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(list("0123456789XA \u0661")),
)
def test_a_citizen_id_is_refused_or_accepted_as_before(sequence: int, at: int, char: str) -> None:
    valid = make_citizen_id("320102", datetime.date(1990, 5, 17), sequence)
    for text in (valid, valid[:at] + char + valid[at + 1 :]):
        ok = _outcome(validate_citizen_id, text)
        if ok[0] == "ok":
            assert _citizen_check_before(text[:17]) == text[17]
        else:
            assert text != valid


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=8, max_size=8),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(list("0AIYZ \u0661a")),
)
def test_a_credit_code_is_refused_or_accepted_as_before(body: str, at: int, char: str) -> None:
    valid = make_credit_code("9", "1", "320505", body)
    assert _credit_check_before(valid[:17]) == valid[17]
    assert _org_check_before(valid[8:16]) == valid[16]
    changed = valid[:at] + char + valid[at + 1 :]
    outcome = _outcome(validate_credit_code, changed)
    first17_ok = _outcome(_credit_check_before, changed.upper()[:17])
    if outcome[0] == "ok":
        assert first17_ok == ("ok", changed.upper()[17])
