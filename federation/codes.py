"""Identity codes: GB 11643 citizen ids, GB 32100 credit codes, GB 11714 and ISO 7064 checks."""

from __future__ import annotations

import datetime
import operator
from typing import Literal

from federation.errors import InvalidArgument

# Inputs are normalised the same way everywhere: surrounding whitespace is stripped and letters
# are upper-cased; anything else (inner spaces, hyphens, full-width digits) is refused, because a
# silently "repaired" identifier is a different identifier.

_DIGITS = "0123456789"
_ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM36_SET = frozenset(_ALNUM36)
_ALNUM36_VALUE = {char: value for value, char in enumerate(_ALNUM36)}

# --- GB 11643-1999 citizen identity number (ISO 7064 MOD 11-2) --------------------------------

_CITIZEN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CITIZEN_CHECK = "10X98765432"  # index: weighted sum mod 11


def _normalise(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise InvalidArgument(f"{what} must be a string, got {type(text).__name__}")
    return text.strip().upper()


def _require_ascii_digits(text: str, what: str) -> None:
    if text.isascii() and text.isdigit():  # the common case at C speed; else say which char
        return
    for index, char in enumerate(text):
        if char not in _DIGITS:
            raise InvalidArgument(
                f"{what} must contain only the digits 0-9; character {index + 1} is {char!r}"
            )


def citizen_id_check_char(first17: str) -> str:
    """Return the GB 11643 check character (0-9 or X) for the first 17 digits of a citizen id."""
    if not isinstance(first17, str) or len(first17) != 17:
        raise InvalidArgument(
            "a citizen id check char is computed over exactly 17 digits, "
            f"got {len(first17) if isinstance(first17, str) else type(first17).__name__}"
        )
    _require_ascii_digits(first17, "the first 17 characters of a citizen id")
    total = sum(map(operator.mul, map(int, first17), _CITIZEN_WEIGHTS))  # 17 of each
    return _CITIZEN_CHECK[total % 11]


def _parse_birth(yyyymmdd: str) -> datetime.date:
    try:
        return datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        raise InvalidArgument(
            f"citizen id birth date {yyyymmdd} (characters 7-14, YYYYMMDD) is not a real date"
        ) from None


def validate_citizen_id(text: str, *, today: datetime.date | None = None) -> str:
    """Return the normalised (upper-case) 18-character citizen id, or raise InvalidArgument.

    ``today`` bounds the birth date (default: the local date); pass it for reproducible checks.
    """
    value = _normalise(text, "a citizen id")
    if len(value) != 18:
        raise InvalidArgument(
            f"a citizen id has 18 characters (17 digits and a check char 0-9 or X), "
            f"got {len(value)}"
        )
    _require_ascii_digits(value[:17], "the first 17 characters of a citizen id")
    if value[17] not in _CITIZEN_CHECK:
        raise InvalidArgument(
            f"the last character of a citizen id is a check char 0-9 or X, got {value[17]!r}"
        )
    if value[0] == "0":
        raise InvalidArgument(
            f"citizen id division code {value[:6]} (characters 1-6) cannot start with 0"
        )
    birth = _parse_birth(value[6:14])
    limit = today if today is not None else datetime.date.today()
    if birth > limit:
        raise InvalidArgument(
            f"citizen id birth date {birth.isoformat()} (characters 7-14) is in the future"
        )
    expected = citizen_id_check_char(value[:17])
    if value[17] != expected:
        raise InvalidArgument(
            f"citizen id check char is wrong: expected {expected} got {value[17]}; "
            "re-type the number, one digit is probably mistyped"
        )
    return value


def is_valid_citizen_id(text: str, *, today: datetime.date | None = None) -> bool:
    """Tell whether ``text`` is a valid citizen id; never raises."""
    try:
        validate_citizen_id(text, today=today)
    except InvalidArgument:
        return False
    return True


def make_citizen_id(division: str, birth: datetime.date, sequence: int) -> str:
    """Build a valid citizen id (for tests and demos); an odd ``sequence`` is male, even female."""
    if not isinstance(division, str) or len(division) != 6:
        raise InvalidArgument(f"division code must be 6 digits, got {division!r}")
    _require_ascii_digits(division, "division code")
    if division[0] == "0":
        raise InvalidArgument(f"division code {division} cannot start with 0")
    if not 0 <= sequence <= 999:
        raise InvalidArgument(f"sequence must be in 0..999, got {sequence}")
    first17 = f"{division}{birth:%Y%m%d}{sequence:03d}"
    if len(first17) != 17:
        raise InvalidArgument(f"birth year must have 4 digits, got {birth.year}")
    return first17 + citizen_id_check_char(first17)


def citizen_id_birth_date(text: str) -> datetime.date:
    """Return the birth date encoded in a valid citizen id."""
    return _parse_birth(validate_citizen_id(text)[6:14])


def citizen_id_sex(text: str) -> Literal["female", "male"]:
    """Return the sex encoded in a valid citizen id (odd sequence digit: male)."""
    return "male" if int(validate_citizen_id(text)[16]) % 2 else "female"


# --- GB 11714-1997 organisation code -----------------------------------------------------------

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code_check_char(body8: str) -> str:
    """Return the GB 11714 check char (0-9 or X) for an 8-character organisation code body."""
    body = _normalise(body8, "an organisation code body")
    if len(body) != 8:
        raise InvalidArgument(
            f"an organisation code body has 8 characters (digits or letters), got {len(body)}"
        )
    if not _ALNUM36_SET.issuperset(body):
        for index, char in enumerate(body):
            if char not in _ALNUM36:
                raise InvalidArgument(
                    "an organisation code body holds only digits 0-9 and letters A-Z; "
                    f"character {index + 1} is {char!r}"
                )
    total = sum(map(operator.mul, map(_ALNUM36_VALUE.__getitem__, body), _ORG_WEIGHTS))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


# --- GB 32100-2015 unified social credit code --------------------------------------------------

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


_CREDIT_VALUE = {char: value for value, char in enumerate(CREDIT_CODE_ALPHABET)}


def _require_credit_chars(text: str, what: str, offset: int = 0) -> None:
    if _CREDIT_VALUE.keys() >= set(text):  # the common case at C speed; else say which char
        return
    for index, char in enumerate(text):
        if char not in CREDIT_CODE_ALPHABET:
            raise InvalidArgument(
                f"{what} uses only 0-9 and upper-case letters except I, O, S, V, Z; "
                f"character {index + 1 + offset} is {char!r}"
            )


def credit_code_check_char(first17: str) -> str:
    """Return the GB 32100 check char for the first 17 characters of a credit code."""
    if not isinstance(first17, str) or len(first17) != 17:
        raise InvalidArgument(
            "a credit code check char is computed over exactly 17 characters, "
            f"got {len(first17) if isinstance(first17, str) else type(first17).__name__}"
        )
    _require_credit_chars(first17, "a credit code")
    total = sum(map(operator.mul, map(_CREDIT_VALUE.__getitem__, first17), _CREDIT_WEIGHTS))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(text: str, *, check_org_code: bool = True) -> str:
    """Return the normalised 18-character unified social credit code, or raise InvalidArgument.

    The embedded GB 11714 organisation code (characters 9-17) is checked too unless
    ``check_org_code`` is false (some legacy registrations carry organisation codes that
    predate the check).
    """
    value = _normalise(text, "a credit code")
    if len(value) != 18:
        raise InvalidArgument(f"a unified social credit code has 18 characters, got {len(value)}")
    _require_credit_chars(value, "a unified social credit code")
    _require_ascii_digits(value[2:8], "the division code of a credit code (characters 3-8)")
    if check_org_code:
        expected_org = org_code_check_char(value[8:16])
        if value[16] != expected_org:
            raise InvalidArgument(
                f"credit code organisation-code check char (character 17) is wrong: "
                f"expected {expected_org} got {value[16]}"
            )
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        raise InvalidArgument(
            f"credit code check char is wrong: expected {expected} got {value[17]}; "
            "re-type the code, one character is probably mistyped"
        )
    return value


def is_valid_credit_code(text: str, *, check_org_code: bool = True) -> bool:
    """Tell whether ``text`` is a valid unified social credit code; never raises."""
    try:
        validate_credit_code(text, check_org_code=check_org_code)
    except InvalidArgument:
        return False
    return True


def make_credit_code(registration: str, org_type: str, division: str, org_code_body8: str) -> str:
    """Build a valid credit code, computing the organisation-code and final check chars."""
    registration = _normalise(registration, "registration authority code")
    org_type = _normalise(org_type, "organisation type code")
    if len(registration) != 1 or len(org_type) != 1:
        raise InvalidArgument(
            "registration authority and organisation type are one character each, "
            f"got {registration!r} and {org_type!r}"
        )
    if not isinstance(division, str) or len(division) != 6:
        raise InvalidArgument(f"division code must be 6 digits, got {division!r}")
    _require_ascii_digits(division, "division code")
    body = _normalise(org_code_body8, "an organisation code body")
    first16 = registration + org_type + division + body
    _require_credit_chars(first16, "a credit code")
    first17 = first16 + org_code_check_char(body)
    return first17 + credit_code_check_char(first17)


# --- ISO/IEC 7064 MOD 37,36 (hybrid system) -----------------------------------------------------


def _mod_hybrid_state(data: str, alphabet: str) -> int:
    """Run the ISO 7064 hybrid recursion; return S_n mod M (a valid string ends at 1)."""
    modulus = len(alphabet)
    product = modulus  # P_1 = M
    remainder = 0
    for char in data:
        remainder = (product + alphabet.index(char)) % modulus
        product = ((remainder or modulus) * 2) % (modulus + 1)
    return remainder


def _mod37_36_normalise(text: str, what: str) -> str:
    value = _normalise(text, what)
    if not value:
        raise InvalidArgument(f"{what} must not be empty")
    for index, char in enumerate(value):
        if char not in _ALNUM36:
            raise InvalidArgument(
                f"{what} holds only digits 0-9 and letters A-Z (case-insensitive); "
                f"character {index + 1} is {char!r}"
            )
    return value


def _hybrid_steps(alphabet: str) -> tuple[dict[str, int], ...]:
    """The hybrid recursion as a table: steps[P_j][char] is P_(j+1) (the product after char)."""
    modulus = len(alphabet)
    return tuple(
        {
            char: (((product + value) % modulus or modulus) * 2) % (modulus + 1)
            for value, char in enumerate(alphabet)
        }
        for product in range(modulus + 1)
    )


_MOD37_36_STEPS = _hybrid_steps(_ALNUM36)
MOD37_36_START = len(_ALNUM36)
"""P_1 of MOD 37,36: the product before any character."""


def mod37_36_product(data: str, product: int = MOD37_36_START) -> int:
    """The MOD 37,36 product after `data` (upper-case 0-9A-Z only), from `product` (P_1 by
    default), so a product over a repeated prefix can be kept and resumed; KeyError on any
    other character (the caller validates, or falls back to iso7064_mod37_36_check_char)."""
    steps = _MOD37_36_STEPS
    for char in data:
        product = steps[product][char]
    return product


def mod37_36_check_of_product(product: int) -> str:
    """The check char that closes data whose MOD 37,36 product is `product`."""
    return _ALNUM36[(1 - product) % len(_ALNUM36)]


def iso7064_mod37_36_check_char(data: str) -> str:
    """Return the ISO 7064 MOD 37,36 check char (0-9A-Z) for ``data`` (case-insensitive)."""
    value = _mod37_36_normalise(data, "MOD 37,36 data")
    # the table-driven recursion: what _mod_hybrid_state computes, one dict lookup per char
    return mod37_36_check_of_product(mod37_36_product(value))


def validate_iso7064_mod37_36(data_with_check: str) -> str:
    """Return the upper-cased string if its last char is its MOD 37,36 check, else raise."""
    value = _mod37_36_normalise(data_with_check, "MOD 37,36 data with check char")
    if len(value) < 2:
        raise InvalidArgument("MOD 37,36 data with check char needs at least 2 characters")
    expected = iso7064_mod37_36_check_char(value[:-1])
    if value[-1] != expected:
        raise InvalidArgument(
            f"ISO 7064 MOD 37,36 check char is wrong: expected {expected} got {value[-1]}"
        )
    return value


def iso7064_mod37_36_is_valid(data_with_check: str) -> bool:
    """Tell whether the last char is the MOD 37,36 check of the rest; never raises."""
    try:
        validate_iso7064_mod37_36(data_with_check)
    except InvalidArgument:
        return False
    return True


__all__ = [
    "CREDIT_CODE_ALPHABET",
    "MOD37_36_START",
    "citizen_id_birth_date",
    "citizen_id_check_char",
    "citizen_id_sex",
    "credit_code_check_char",
    "is_valid_citizen_id",
    "is_valid_credit_code",
    "iso7064_mod37_36_check_char",
    "iso7064_mod37_36_is_valid",
    "make_citizen_id",
    "make_credit_code",
    "mod37_36_check_of_product",
    "mod37_36_product",
    "org_code_check_char",
    "validate_citizen_id",
    "validate_credit_code",
    "validate_iso7064_mod37_36",
]
