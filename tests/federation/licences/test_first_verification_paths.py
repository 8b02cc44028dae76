"""The first-verification fast paths agree with the code they replaced, on any input.

Each reference below is the implementation as it was before: the table-driven ISO 7064
recursion, the identifier check char resumed from a kept prefix product, parse_identifier
without its second round of checks, and the disclosure JSON decoded by the scanner directly.
"""

from __future__ import annotations

import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from federation.codes import (
    _ALNUM36,
    _mod37_36_normalise,
    _mod_hybrid_state,
    iso7064_mod37_36_check_char,
    make_credit_code,
)
from federation.crypto.jose import b64url_encode
from federation.errors import InvalidArgument
from federation.licences.identifier import (
    IDENTIFIER_PREFIX,
    MAX_IDENTIFIER_LENGTH,
    LicenceIdentifier,
    _check_authority_code,
    _check_serial,
    _check_type_code,
    _check_version,
    _upper,
    identifier_check_char,
    make_identifier,
    parse_identifier,
)
from federation.licences.sdjwt import Disclosure, _decode_disclosure_json


def _check_char_before(data: str) -> str:
    value = _mod37_36_normalise(data, "MOD 37,36 data")
    modulus = len(_ALNUM36)
    remainder = _mod_hybrid_state(value, _ALNUM36)
    product = ((remainder or modulus) * 2) % (modulus + 1)
    return _ALNUM36[(1 - product) % modulus]


def _outcome(call: object, *args: object) -> tuple[str, object]:
    try:
        return "ok", call(*args)  # type: ignore[operator]
    except InvalidArgument as exc:
        return "refused", exc.message


_MOSTLY_ALNUM = st.text(alphabet=_ALNUM36 + "az -.\t\u00e9", max_size=60)
_TYPE = make_credit_code("1", "1", "320000", "01400123") + "001"
_AUTHORITY = make_credit_code("1", "1", "320500", "01401186")


@settings(deadline=None)
@given(_MOSTLY_ALNUM)
def test_the_table_driven_check_char_is_the_recursion(data: str) -> None:
    assert _outcome(iso7064_mod37_36_check_char, data) == _outcome(_check_char_before, data)


@settings(deadline=None)
@given(
    st.sampled_from([_TYPE, _AUTHORITY, "", "x", " A"]),
    st.sampled_from([_AUTHORITY, _TYPE, "", "b ", "\u00e9"]),
    _MOSTLY_ALNUM,
    st.text(alphabet="0123456789a ", max_size=5),
)
def test_the_identifier_check_char_resumed_from_a_prefix_is_the_whole_computation(
    type_code: str, authority: str, serial: str, version: str
) -> None:
    for _ in range(2):  # the second time from the kept prefix product
        assert _outcome(identifier_check_char, type_code, authority, serial, version) == (
            _outcome(_check_char_before, type_code + authority + serial + version)
        )


def _parse_before(text: str) -> LicenceIdentifier:
    """parse_identifier as it was: its own checks, then every check again in __post_init__."""
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
    return LicenceIdentifier(type_code, authority_code, serial, version, check)


def _identifier_texts() -> st.SearchStrategy[str]:
    valid = st.builds(
        lambda serial, version: make_identifier(_TYPE, _AUTHORITY, serial, version).format(),
        st.text(alphabet=string.digits + string.ascii_uppercase, min_size=1, max_size=20),
        st.integers(min_value=0, max_value=9999),
    )
    mutated = st.builds(
        lambda text, at, char: text[:at] + char + text[at + 1 :],
        valid,
        st.integers(min_value=0, max_value=80),
        st.sampled_from(list("0AZ9. a\t\u00e9")),
    )
    return st.one_of(valid, mutated, st.text(max_size=90))


@settings(max_examples=300, deadline=None)
@given(_identifier_texts())
def test_parse_identifier_accepts_and_refuses_what_the_full_constructor_does(text: str) -> None:
    outcome = _outcome(parse_identifier, text)
    assert outcome == _outcome(_parse_before, text)
    if outcome[0] == "ok":
        assert hash(outcome[1]) == hash(_parse_before(text))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.sampled_from(["", " ", "\n", "x", "]", " 1"]))
def test_the_disclosure_json_decoder_is_json_loads(text: str, tail: str) -> None:
    for candidate in (text, json.dumps(text), json.dumps([text, "n", 1]) + tail, tail + text):
        try:
            expected: tuple[str, object] = ("ok", json.loads(candidate))
        except json.JSONDecodeError as exc:
            expected = ("error", (exc.msg, exc.pos))
        try:
            got: tuple[str, object] = ("ok", _decode_disclosure_json(candidate))
        except json.JSONDecodeError as exc:
            got = ("error", (exc.msg, exc.pos))
        assert got == expected


@settings(deadline=None)
@given(
    st.text(min_size=16, max_size=30),
    st.text(min_size=1, max_size=20),
    st.one_of(st.text(max_size=20), st.integers(), st.booleans()),
)
def test_a_disclosure_parses_back_to_what_was_created(salt: str, name: str, value: object) -> None:
    created = Disclosure.create(name, value, salt)  # type: ignore[arg-type]
    for encoded in (
        created.encoded,
        b64url_encode((" " + json.dumps([salt, name, value]) + " ").encode()),
    ):
        try:
            parsed = Disclosure.parse(encoded)
        except InvalidArgument:
            assert name in ("_sd", "...", "_sd_alg")
            continue
        assert (parsed.salt, parsed.name, parsed.value) == (salt, name, value)
        built = Disclosure(salt, name, value, encoded)  # type: ignore[arg-type]
        assert parsed == built and hash(parsed) == hash(built) and repr(parsed) == repr(built)
        assert vars(parsed) == vars(built)


def test_a_licence_json_text_is_its_dict_as_json_built_once() -> None:
    from tests._support.licences import make_world

    world = make_world()
    for licence in (world.driving_licence(), world.business_licence()):
        text = licence.json_text
        assert text == json.dumps(licence.to_dict(), ensure_ascii=False, separators=(",", ":"))
        assert licence.json_text is text  # kept on the (immutable) licence
        assert type(licence).from_dict(json.loads(text)) == licence


def test_a_licence_json_text_holds_what_orjson_cannot_write() -> None:
    from tests._support.licences import BUSINESS_FIELDS, make_world

    world = make_world()
    big = world.business_licence(fields={**BUSINESS_FIELDS, "registered_capital": 2**70})
    text = big.json_text  # orjson refuses an integer beyond 64 bits: the json module writes it
    assert text == json.dumps(big.to_dict(), ensure_ascii=False, separators=(",", ":"))
    assert json.loads(text)["fields"]["registered_capital"] == 2**70
    assert type(big).from_dict(json.loads(text)) == big
