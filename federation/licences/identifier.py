"""GB/T 36904 licence identifiers `1.2.156.3005.2.<type>.<authority>.<serial>.<version>.<check>`."""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass

from federation.codes import (
    iso7064_mod37_36_check_char,
    mod37_36_check_of_product,
    mod37_36_product,
    validate_credit_code,
)
from federation.errors import InvalidArgument

IDENTIFIER_PREFIX = "1.2.156.3005.2."
"""The OID arc of electronic licences (GB/T 36904) under which every identifier sits."""

SERIAL_MAX_LENGTH = 20
VERSION_MAX_LENGTH = 4
MAX_IDENTIFIER_LENGTH = len(IDENTIFIER_PREFIX) + 21 + 18 + SERIAL_MAX_LENGTH + 4 + 1 + 4

_SERIAL = re.compile(r"[0-9A-Z]{1,20}")
_VERSION = re.compile(r"[0-9]{1,4}")
_SERIAL_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I/O/S/V/Z: easy to read aloud


# The two credit-code checks are pure functions of their text, and every licence of one type
# (of one authority) repeats the same one: each is computed once per text (a refusal raises,
# which functools.lru_cache never keeps). Bounded, since the text may come from anyone.
@functools.lru_cache(maxsize=1024)
def _check_type_code(type_code: str) -> None:
    if len(type_code) != 21:
        raise InvalidArgument(
            "identifier type code must be 21 characters (the defining department's 18-character "
            f"credit code and a 3-digit sequence), got {len(type_code)}: {type_code!r}"
        )
    try:
        validate_credit_code(type_code[:18])
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"identifier type code {type_code!r}: its department credit code is invalid: "
            f"{exc.message}"
        ) from None
    if not type_code[18:].isascii() or not type_code[18:].isdigit():
        raise InvalidArgument(
            f"identifier type code {type_code!r} must end in a 3-digit sequence, "
            f"got {type_code[18:]!r}"
        )


@functools.lru_cache(maxsize=1024)
def _check_authority_code(authority_code: str) -> None:
    try:
        validate_credit_code(authority_code)
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"identifier issuing authority code {authority_code!r} is invalid: {exc.message}"
        ) from None


def _check_serial(serial: str) -> None:
    if not _SERIAL.fullmatch(serial):
        raise InvalidArgument(
            f"identifier serial must be 1-{SERIAL_MAX_LENGTH} characters 0-9 or A-Z, got {serial!r}"
        )


def _check_version(version: str) -> None:
    if not _VERSION.fullmatch(version):
        raise InvalidArgument(
            f"identifier version must be 1-{VERSION_MAX_LENGTH} digits, got {version!r}"
        )


# Every licence of one type and authority starts its check-char data with the same 39
# characters: the MOD 37,36 product after them is kept per exact prefix text (bounded; a
# character outside 0-9A-Z raises KeyError, which lru_cache does not keep).
@functools.lru_cache(maxsize=1024)
def _prefix_product(prefix: str) -> int:
    return mod37_36_product(prefix)


def identifier_check_char(type_code: str, authority_code: str, serial: str, version: str) -> str:
    """The ISO 7064 MOD 37,36 check char over type code + authority code + serial + version."""
    data = type_code + authority_code + serial + version
    if data:
        try:
            product = _prefix_product(type_code + authority_code)
            return mod37_36_check_of_product(mod37_36_product(serial + version, product))
        except KeyError:  # not upper-case 0-9A-Z: the general function normalises or refuses
            pass
    return iso7064_mod37_36_check_char(data)


def _check_parts(
    type_code: str, authority_code: str, serial: str, version: str, check: str
) -> None:
    _check_type_code(type_code)
    _check_authority_code(authority_code)
    _check_serial(serial)
    _check_version(version)
    expected = identifier_check_char(type_code, authority_code, serial, version)
    if check != expected:
        raise InvalidArgument(f"identifier check char is wrong: expected {expected} got {check}")


@dataclass(frozen=True)
class LicenceIdentifier:
    """A validated GB/T 36904 identifier; constructing one with a wrong part raises."""

    type_code: str
    authority_code: str
    serial: str
    version: str
    check: str

    def __post_init__(self) -> None:
        for part in (self.type_code, self.authority_code, self.serial, self.version, self.check):
            if not isinstance(part, str) or part != _upper(part, "part"):
                raise InvalidArgument(
                    f"identifier parts are upper-case ASCII without spaces, got {part!r}"
                )
        _check_parts(self.type_code, self.authority_code, self.serial, self.version, self.check)

    @classmethod
    def _checked(
        cls, type_code: str, authority_code: str, serial: str, version: str, check: str
    ) -> LicenceIdentifier:
        """One whose parts `_check_parts` already accepted (parse_identifier's): built without
        running every check a second time in __post_init__."""
        identifier = object.__new__(cls)
        for name, value in (
            ("type_code", type_code),
            ("authority_code", authority_code),
            ("serial", serial),
            ("version", version),
            ("check", check),
        ):
            object.__setattr__(identifier, name, value)
        return identifier

    def format(self) -> str:
        return (
            f"{IDENTIFIER_PREFIX}{self.type_code}.{self.authority_code}."
            f"{self.serial}.{self.version}.{self.check}"
        )

    def __str__(self) -> str:
        return self.format()


def make_identifier(
    type_code: str, authority_code: str, serial: str, version: int | str = 1
) -> LicenceIdentifier:
    """Build an identifier, computing its check char; inputs are upper-cased."""
    type_text = _upper(type_code, "type code")
    authority_text = _upper(authority_code, "authority code")
    serial_text = _upper(serial, "serial")
    version_text = str(version) if isinstance(version, int) else _upper(version, "version")
    _check_type_code(type_text)
    _check_authority_code(authority_text)
    _check_serial(serial_text)
    _check_version(version_text)
    check = identifier_check_char(type_text, authority_text, serial_text, version_text)
    return LicenceIdentifier(type_text, authority_text, serial_text, version_text, check)


def _upper(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"identifier {what} must be a string, got {type(value).__name__}")
    if not value.isascii():
        # upper() maps some non-ASCII letters onto ASCII ones ("ſ" -> "S"): refuse, never repair.
        raise InvalidArgument(f"identifier {what} must be ASCII, got {value!r}")
    return value.strip().upper()


def parse_identifier(text: str) -> LicenceIdentifier:
    """Parse and fully validate an identifier; InvalidArgument says which part is wrong."""
    value = _upper(text, "text")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidArgument(
            f"a licence identifier has at most {MAX_IDENTIFIER_LENGTH} characters, got {len(value)}"
        )
    if not value.startswith(IDENTIFIER_PREFIX):
        raise InvalidArgument(
            f"a licence identifier starts with {IDENTIFIER_PREFIX!r} (GB/T 36904), "
            f"got {value[: len(IDENTIFIER_PREFIX)]!r}"
        )
    fields = value[len(IDENTIFIER_PREFIX) :].split(".")
    if len(fields) != 5:
        raise InvalidArgument(
            "after the prefix a licence identifier has 5 dot-separated parts "
            f"(type code, authority code, serial, version, check), got {len(fields)}"
        )
    type_code, authority_code, serial, version, check = fields
    _check_type_code(type_code)
    _check_authority_code(authority_code)
    _check_serial(serial)
    _check_version(version)
    if len(check) != 1 or check not in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        raise InvalidArgument(f"identifier check must be one character 0-9 or A-Z, got {check!r}")
    # __post_init__ would check the parts again: upper-case ASCII without spaces (`value` is
    # upper-cased ASCII, and each check above refuses a space), the four checks above (kept per
    # text or a regex), then the check char, which is all that is left to compare
    expected = identifier_check_char(type_code, authority_code, serial, version)
    if check != expected:
        raise InvalidArgument(f"identifier check char is wrong: expected {expected} got {check}")
    return LicenceIdentifier._checked(type_code, authority_code, serial, version, check)


def is_valid_identifier(text: str) -> bool:
    """Tell whether `text` is a valid licence identifier; never raises."""
    try:
        parse_identifier(text)
    except InvalidArgument:
        return False
    return True


def new_serial(length: int = 12) -> str:
    """A random serial from an unambiguous alphabet (the issuer may use its own scheme)."""
    if not 1 <= length <= SERIAL_MAX_LENGTH:
        raise InvalidArgument(f"serial length must be 1-{SERIAL_MAX_LENGTH}, got {length}")
    return "".join(secrets.choice(_SERIAL_ALPHABET) for _ in range(length))


__all__ = [
    "IDENTIFIER_PREFIX",
    "MAX_IDENTIFIER_LENGTH",
    "SERIAL_MAX_LENGTH",
    "VERSION_MAX_LENGTH",
    "LicenceIdentifier",
    "identifier_check_char",
    "is_valid_identifier",
    "make_identifier",
    "new_serial",
    "parse_identifier",
]
