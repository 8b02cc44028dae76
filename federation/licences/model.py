"""The licence record (GB/T 36903 metadata plus type-specific fields) and its issuing authority."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from federation.codes import validate_citizen_id, validate_credit_code
from federation.errors import InvalidArgument, NotFound
from federation.licences.identifier import LicenceIdentifier, make_identifier, parse_identifier
from federation.licences.types import FieldValue, HolderKind, LicenceType, licence_type_by_code
from federation.regions import PROVINCES, Region

_DIVISION = re.compile(r"[1-9][0-9]{5}")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class HolderCodeType(enum.Enum):
    """How a holder is identified: citizen id (GB 11643) or credit code (GB 32100)."""

    CITIZEN_ID = "citizen_id"
    CREDIT_CODE = "credit_code"

    @classmethod
    def for_kind(cls, kind: HolderKind) -> HolderCodeType:
        return cls.CITIZEN_ID if kind is HolderKind.NATURAL else cls.CREDIT_CODE

    def validate(self, code: str) -> str:
        """Return the normalised holder code, or raise InvalidArgument."""
        if self is HolderCodeType.CITIZEN_ID:
            return validate_citizen_id(code)
        return validate_credit_code(code)


_HOLDER_CODE_TYPES = {kind.value: kind for kind in HolderCodeType}


def parse_holder_code_type(text: str) -> HolderCodeType:
    # HolderCodeType(text) without the enum's Python-level call (every first verification);
    # anything unhashable is no value of it either
    try:
        return _HOLDER_CODE_TYPES[text]
    except (KeyError, TypeError):
        raise InvalidArgument(
            f"holder code type must be 'citizen_id' or 'credit_code', got {text!r}"
        ) from None


def region_of_division(division: str) -> Region:
    """The federation member that a 6-digit division code belongs to (by its province digits)."""
    if not isinstance(division, str):
        raise InvalidArgument(f"region code must be a 6-digit division code, got {division!r}")
    return _region_of_division(division)


@functools.lru_cache(maxsize=256)  # pure; every licence of an authority asks for its region
def _region_of_division(division: str) -> Region:
    if not _DIVISION.fullmatch(division):
        raise InvalidArgument(f"region code must be a 6-digit division code, got {division!r}")
    if division == Region.HUB.code:
        return Region.HUB
    for region in PROVINCES:
        if division[:2] == region.code[:2]:
            return region
    raise InvalidArgument(f"division {division} is not in a federation region")


@dataclass(frozen=True)
class IssuingAuthority:
    """An authority that issues and seals licences, inside one region of the federation."""

    credit_code: str
    name: str
    region_code: str

    def __post_init__(self) -> None:
        if self.credit_code != validate_credit_code(self.credit_code):
            raise InvalidArgument(
                f"authority credit code must be upper-case without spaces: {self.credit_code!r}"
            )
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidArgument("issuing authority name must not be empty")
        region_of_division(self.region_code)

    @property
    def region(self) -> Region:
        """The federation member whose node certifies this authority's seal."""
        return region_of_division(self.region_code)


@functools.lru_cache(maxsize=1024)
def sealed_authority(credit_code: str, name: str, region_code: str) -> IssuingAuthority:
    """The IssuingAuthority a sealed licence names, built and checked once per exact triple:
    it is immutable and its checks pure, and every licence of an authority names the same one.
    A refusal raises, which the cache never keeps."""
    return IssuingAuthority(credit_code, name, region_code)


@dataclass(frozen=True)
class StatusReference:
    """Where a licence's status lives: a status list uri and the licence's index in it."""

    uri: str
    index: int

    def __post_init__(self) -> None:
        if not isinstance(self.uri, str) or not self.uri or len(self.uri) > 512:
            raise InvalidArgument("status list uri must be a non-empty string of <= 512 chars")
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise InvalidArgument(f"status list index must be an integer >= 0, got {self.index!r}")

    def to_claim(self) -> dict[str, Any]:
        return {"status_list": {"idx": self.index, "uri": self.uri}}

    @classmethod
    def from_claim(cls, claim: object) -> StatusReference:
        inner = claim.get("status_list") if isinstance(claim, dict) else None
        if not isinstance(inner, dict):
            raise InvalidArgument("status claim must be {'status_list': {'idx': n, 'uri': ...}}")
        return cls(uri=inner.get("uri"), index=inner.get("idx"))  # type: ignore[arg-type]


def _validate_fields(licence_type: LicenceType, fields: Mapping[str, Any]) -> dict[str, FieldValue]:
    if not isinstance(fields, Mapping):
        raise InvalidArgument("licence fields must be a mapping of field name to value")
    unknown = sorted(set(fields) - set(licence_type.field_names))
    if unknown:
        raise InvalidArgument(
            f"{licence_type.key} has no field(s) {', '.join(map(repr, unknown))}; "
            f"its fields: {', '.join(licence_type.field_names)}"
        )
    missing = [
        name
        for name in licence_type.field_names
        if name in licence_type.required_fields and name not in fields
    ]
    if missing:
        raise InvalidArgument(f"{licence_type.key} requires field(s) {', '.join(missing)}")
    return {
        spec.name: spec.type.check(spec.name, fields[spec.name])
        for spec in licence_type.fields
        if spec.name in fields
    }


def parse_day(value: object, what: str) -> dt.date:
    """An ISO date `YYYY-MM-DD`, or InvalidArgument naming `what`."""
    # fromisoformat alone would also take 20250102 or 2025-W01-1: only one spelling is sealed
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        return _not_a_day(what)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return _not_a_day(what)


def _not_a_day(what: str) -> dt.date:
    raise InvalidArgument(f"{what} must be a date YYYY-MM-DD")


def _require_text(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{what} must be a non-empty string")


@dataclass(frozen=True)
class Licence:
    """An electronic licence: GB/T 36903 metadata, identifier and type-specific fields.

    `valid_until` None means long-term (长期). Construction validates everything; an instance
    is always consistent with its type, identifier and authority.
    """

    name: str
    type_code: str
    number: str
    identifier: LicenceIdentifier
    holder_name: str
    holder_code: str
    holder_code_type: HolderCodeType
    authority: IssuingAuthority
    issue_date: dt.date
    valid_from: dt.date
    valid_until: dt.date | None
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    status: StatusReference | None = None

    def __post_init__(self) -> None:
        try:
            licence_type = licence_type_by_code(self.type_code)
        except NotFound as exc:
            raise InvalidArgument(exc.message) from None
        if self.type_code != licence_type.code:
            raise InvalidArgument(f"type code must be upper-case: {self.type_code!r}")
        for value, what in (
            (self.name, "licence name"),
            (self.number, "licence number"),
            (self.holder_name, "holder name"),
        ):
            _require_text(value, what)
        if self.identifier.type_code != self.type_code:
            raise InvalidArgument(
                f"identifier type code {self.identifier.type_code} differs from the licence "
                f"type code {self.type_code}"
            )
        if self.identifier.authority_code != self.authority.credit_code:
            raise InvalidArgument(
                f"identifier authority code {self.identifier.authority_code} differs from the "
                f"issuing authority's credit code {self.authority.credit_code}"
            )
        expected = HolderCodeType.for_kind(licence_type.holder_kind)
        if self.holder_code_type is not expected:
            raise InvalidArgument(
                f"a {licence_type.key} is held by a {licence_type.holder_kind.value} person, "
                f"identified by {expected.value}, not {self.holder_code_type.value}"
            )
        holder_code = self.holder_code_type.validate(self.holder_code)
        if holder_code != self.holder_code:
            object.__setattr__(self, "holder_code", holder_code)
        days: list[tuple[object, str]] = [
            (self.issue_date, "issue date"),
            (self.valid_from, "valid from"),
        ]
        if self.valid_until is not None:
            days.append((self.valid_until, "valid until"))
        for day, what in days:
            if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                raise InvalidArgument(f"{what} must be a date")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise InvalidArgument(
                f"valid until {self.valid_until} is before valid from {self.valid_from}"
            )
        fields = _validate_fields(licence_type, self.fields)
        object.__setattr__(self, "fields", MappingProxyType(fields))

    @functools.cached_property
    def json_text(self) -> str:
        """`to_dict` as compact JSON text (non-ASCII kept), built once: a Licence cannot change,
        and a kept licence is answered again and again (VerifyLicence's licence_json).

        Written by orjson (C: a fifth of the json module's instructions, paid by every first
        verification); what it cannot write (an integer field beyond 64 bits, a string with a
        lone surrogate) the json module writes in the same compact form.
        """
        data = self.to_dict()
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # orjson.JSONEncodeError
            return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @property
    def licence_type(self) -> LicenceType:
        return licence_type_by_code(self.type_code)

    @property
    def region_code(self) -> str:
        """The issuing region's division code (the authority's)."""
        return self.authority.region_code

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (for stores and wire conversions); inverse of `from_dict`."""
        return {
            "name": self.name,
            "type_code": self.type_code,
            "number": self.number,
            "identifier": self.identifier.format(),
            "holder_name": self.holder_name,
            "holder_code": self.holder_code,
            "holder_code_type": self.holder_code_type.value,
            "authority": {
                "credit_code": self.authority.credit_code,
                "name": self.authority.name,
                "region_code": self.authority.region_code,
            },
            "issue_date": self.issue_date.isoformat(),
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "fields": dict(self.fields),
            "status": {"uri": self.status.uri, "index": self.status.index} if self.status else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Licence:
        """Rebuild and fully re-validate a licence from `to_dict` output."""
        try:
            authority, status = data["authority"], data.get("status")
            return cls(
                name=data["name"],
                type_code=data["type_code"],
                number=data["number"],
                identifier=parse_identifier(data["identifier"]),
                holder_name=data["holder_name"],
                holder_code=data["holder_code"],
                holder_code_type=parse_holder_code_type(data["holder_code_type"]),
                authority=IssuingAuthority(
                    authority["credit_code"], authority["name"], authority["region_code"]
                ),
                issue_date=parse_day(data["issue_date"], "issue_date"),
                valid_from=parse_day(data["valid_from"], "valid_from"),
                valid_until=parse_day(data["valid_until"], "valid_until")
                if data.get("valid_until")
                else None,
                fields=data.get("fields") or {},
                status=StatusReference(status["uri"], status["index"]) if status else None,
            )
        except (KeyError, TypeError) as exc:
            raise InvalidArgument(f"malformed licence record: {exc!r}") from None

    def personal_claims(self) -> dict[str, FieldValue]:
        """Every selectively disclosable claim: holder, number and the type-specific fields."""
        return {
            "holder_name": self.holder_name,
            "holder_code": self.holder_code,
            "number": self.number,
            **self.fields,
        }


PERSONAL_CLAIMS = ("holder_name", "holder_code", "number")
"""Claims every licence discloses selectively, besides its type-specific fields."""


def build_licence(
    licence_type: LicenceType,
    authority: IssuingAuthority,
    *,
    serial: str,
    number: str,
    holder_name: str,
    holder_code: str,
    issue_date: dt.date,
    valid_from: dt.date,
    valid_until: dt.date | None,
    fields: Mapping[str, FieldValue],
    status: StatusReference | None = None,
    version: int | str = 1,
) -> Licence:
    """Assemble a licence of a catalogued type, minting its identifier from the serial."""
    return Licence(
        name=licence_type.name_zh,
        type_code=licence_type.code,
        number=number,
        identifier=make_identifier(licence_type.code, authority.credit_code, serial, version),
        holder_name=holder_name,
        holder_code=holder_code,
        holder_code_type=HolderCodeType.for_kind(licence_type.holder_kind),
        authority=authority,
        issue_date=issue_date,
        valid_from=valid_from,
        valid_until=valid_until,
        fields=fields,
        status=status,
    )


__all__ = [
    "PERSONAL_CLAIMS",
    "HolderCodeType",
    "IssuingAuthority",
    "Licence",
    "StatusReference",
    "build_licence",
    "parse_day",
    "parse_holder_code_type",
    "region_of_division",
    "sealed_authority",
]
