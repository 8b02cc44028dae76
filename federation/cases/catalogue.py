"""The cross-province service catalogue (跨省通办事项): items, versions, signing, policy."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from federation.crypto.jose import Jwk, SigningKey, sign_compact, verify_compact
from federation.errors import (
    FederationError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from federation.identity.assurance import Assurance
from federation.licences.model import PERSONAL_CLAIMS
from federation.licences.policy import ANY_REGION, ExchangePolicy
from federation.licences.sealcert import parse_jws
from federation.licences.types import HolderKind, LicenceType, licence_type_by_key
from federation.regions import PROVINCES, Region, parse_region

CATALOGUE_TYP = "catalogue+jwt"
DELIVERY_METHODS = ("electronic", "express", "collect_at_window")
HOLDERS = ("applicant", "enterprise")
MAX_TIME_LIMIT_DAYS = 365
CLOCK_SKEW_S = 300
STARTER_RESOURCE = "catalogue_starter.toml"

# The same shape the exchange policy accepts, so every catalogue item can be a policy item.
_ITEM_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PROVINCE_CODES = tuple(r.code for r in PROVINCES)
_HOLDER_OF_KIND = {HolderKind.NATURAL: "applicant", HolderKind.LEGAL: "enterprise"}


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{where} must be a non-empty string, got {value!r}")
    return value


def _known_type(key: object, where: str) -> LicenceType:
    try:
        return licence_type_by_key(_text(key, where))
    except FederationError as exc:
        raise InvalidArgument(f"{where}: {exc.message}") from None


def _any(data: Mapping[str, Any], name: str, default: Any = None) -> Any:
    # Untyped input goes straight to the constructors, whose __post_init__ validates it.
    return data.get(name, default)


@dataclass(frozen=True)
class RequiredLicence:
    """A licence an item needs as material: its type key, the fields read, and whose it is."""

    licence_type: str
    fields: tuple[str, ...]
    holder: str

    def validate(self, where: str) -> LicenceType:
        """Check against the licence-type catalogue; raise InvalidArgument naming `where`."""
        kind = _known_type(self.licence_type, f"{where}: licence_type")
        if not isinstance(self.fields, tuple) or not self.fields:
            raise InvalidArgument(f"{where}: {kind.key} needs a non-empty tuple of fields")
        known = (*PERSONAL_CLAIMS, *kind.field_names)
        unknown = sorted(f for f in self.fields if f not in known)
        if unknown:
            raise InvalidArgument(
                f"{where}: {kind.key} has no field(s) {unknown}; its fields: {', '.join(known)}"
            )
        if len(set(self.fields)) != len(self.fields):
            raise InvalidArgument(f"{where}: {kind.key} lists a field twice")
        expected = _HOLDER_OF_KIND[kind.holder_kind]
        if self.holder != expected:
            raise InvalidArgument(
                f"{where}: holder of {kind.key} must be {expected!r} "
                f"(one of {', '.join(HOLDERS)}), got {self.holder!r}"
            )
        return kind

    @property
    def sensitive(self) -> bool:
        """Whether any listed field is sensitive (the policy rule must allow it)."""
        return bool(set(self.fields) & licence_type_by_key(self.licence_type).sensitive_fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "licence_type": self.licence_type,
            "fields": list(self.fields),
            "holder": self.holder,
        }

    @classmethod
    def from_dict(cls, data: object, where: str) -> RequiredLicence:
        if not isinstance(data, Mapping):
            raise InvalidArgument(f"{where}: each required licence must be a table")
        fields = data.get("fields")
        if not isinstance(fields, list | tuple) or not all(isinstance(f, str) for f in fields):
            raise InvalidArgument(f"{where}: 'fields' must be a list of field names")
        return cls(str(data.get("licence_type", "")), tuple(fields), str(data.get("holder", "")))


@dataclass(frozen=True)
class CatalogueItem:
    """One cross-province service item, owned by one province's department."""

    code: str
    name: str
    owner_region: str
    department: str
    required_acr: Assurance
    required_licences: tuple[RequiredLicence, ...]
    time_limit_days: int
    face_required: bool
    result_licence_type: str | None
    delivery_methods: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _ITEM_CODE.fullmatch(self.code):
            raise InvalidArgument(f"service item code {self.code!r} is not a valid item code")
        where = f"service item {self.code}"
        _text(self.name, f"{where}: name")
        _text(self.department, f"{where}: department")
        if self.owner_region not in _PROVINCE_CODES:
            raise InvalidArgument(
                f"{where}: owner_region must be a province code "
                f"({', '.join(_PROVINCE_CODES)}), got {self.owner_region!r}"
            )
        if not isinstance(self.required_acr, Assurance):
            raise InvalidArgument(f"{where}: required_acr must be an Assurance level")
        if not isinstance(self.required_licences, tuple):
            raise InvalidArgument(f"{where}: required_licences must be a tuple")
        seen: set[tuple[str, str]] = set()
        for index, required in enumerate(self.required_licences):
            if not isinstance(required, RequiredLicence):
                raise InvalidArgument(f"{where}: required_licences[{index}] is not a licence")
            required.validate(f"{where}: required_licences[{index}]")
            pair = (required.licence_type, required.holder)
            if pair in seen:
                raise InvalidArgument(f"{where}: {pair[0]} of the {pair[1]} is required twice")
            seen.add(pair)
        limit = self.time_limit_days
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidArgument(f"{where}: time_limit_days must be an integer, got {limit!r}")
        if not 0 < limit <= MAX_TIME_LIMIT_DAYS:
            raise InvalidArgument(
                f"{where}: time_limit_days must be 1..{MAX_TIME_LIMIT_DAYS} working days, "
                f"got {limit}"
            )
        if not isinstance(self.face_required, bool):
            raise InvalidArgument(f"{where}: face_required must be true or false")
        if self.result_licence_type is not None:
            _known_type(self.result_licence_type, f"{where}: result_licence_type")
        self._check_delivery(where)
        if not isinstance(self.description, str):
            raise InvalidArgument(f"{where}: description must be a string")

    def _check_delivery(self, where: str) -> None:
        methods = self.delivery_methods
        if not isinstance(methods, tuple) or not methods:
            raise InvalidArgument(f"{where}: delivery_methods must be a non-empty tuple")
        unknown = [m for m in methods if m not in DELIVERY_METHODS]
        if unknown:
            raise InvalidArgument(
                f"{where}: unknown delivery method(s) {unknown}; use {', '.join(DELIVERY_METHODS)}"
            )
        if len(set(methods)) != len(methods):
            raise InvalidArgument(f"{where}: a delivery method is listed twice")

    @property
    def region(self) -> Region:
        return Region(self.owner_region)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "owner_region": self.owner_region,
            "department": self.department,
            "required_acr": self.required_acr.acr,
            "required_licences": [r.to_dict() for r in self.required_licences],
            "time_limit_days": self.time_limit_days,
            "face_required": self.face_required,
            "result_licence_type": self.result_licence_type,
            "delivery_methods": list(self.delivery_methods),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: object) -> CatalogueItem:
        if not isinstance(data, Mapping):
            raise InvalidArgument("each catalogue item must be a table")
        where = f"service item {data.get('code')!r}"
        acr = data.get("required_acr")
        required = data.get("required_licences", [])
        methods = data.get("delivery_methods")
        if not isinstance(required, list | tuple):
            raise InvalidArgument(f"{where}: required_licences must be a list")
        if not isinstance(methods, list | tuple):
            raise InvalidArgument(f"{where}: delivery_methods must be a list")
        try:
            level = Assurance.parse(_text(acr, f"{where}: required_acr"))
        except InvalidArgument as exc:
            raise InvalidArgument(f"{where}: {exc.message}") from None
        return cls(
            code=_any(data, "code"),  # validated in __post_init__
            name=_any(data, "name"),
            owner_region=_any(data, "owner_region"),
            department=_any(data, "department"),
            required_acr=level,
            required_licences=tuple(
                RequiredLicence.from_dict(r, f"{where}: required_licences[{i}]")
                for i, r in enumerate(required)
            ),
            time_limit_days=_any(data, "time_limit_days"),
            face_required=_any(data, "face_required", False),
            result_licence_type=_any(data, "result_licence_type"),
            delivery_methods=tuple(methods),
            description=_any(data, "description", ""),
        )


@dataclass(frozen=True)
class Catalogue:
    """The federation-wide catalogue the hub signs: a version, its issue time and the items."""

    version: int
    issued_at: int
    items: tuple[CatalogueItem, ...]

    def __post_init__(self) -> None:
        for name in ("version", "issued_at"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgument(f"catalogue {name} must be an integer >= 0, got {value!r}")
        if not isinstance(self.items, tuple):
            raise InvalidArgument("catalogue items must be a tuple")
        seen: set[str] = set()
        for item in self.items:
            if not isinstance(item, CatalogueItem):
                raise InvalidArgument(f"catalogue holds a non-item {item!r}")
            if item.code in seen:
                raise InvalidArgument(f"service item {item.code} is listed twice")
            seen.add(item.code)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)

    def get(self, code: str) -> CatalogueItem:
        """The item with this code, or NotFound suggesting close codes."""
        for item in self.items:
            if item.code == code:
                return item
        close = difflib.get_close_matches(str(code), self.codes, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise NotFound(
            f"service item {code!r} is not in catalogue version {self.version} "
            f"({len(self.items)} items; `yrd catalogue list` shows them){hint}"
        )

    def items_of(self, region_code: str) -> tuple[CatalogueItem, ...]:
        """The items a region owns (code, short name or English name of the region)."""
        region = parse_region(region_code)
        return tuple(item for item in self.items if item.owner_region == region.code)

    def with_region_items(
        self, region_code: str, items: Iterable[CatalogueItem], now: float
    ) -> Catalogue:
        """A region republishes its items: a new version if anything changed, else self."""
        region = parse_region(region_code)
        if not region.is_province:
            raise PermissionDenied(f"{region.short} owns no service items; provinces publish")
        new = tuple(items)
        for item in new:
            if item.owner_region != region.code:
                raise PermissionDenied(
                    f"region {region.short} cannot publish {item.code}, "
                    f"an item of region {item.owner_region}"
                )
        others = tuple(item for item in self.items if item.owner_region != region.code)
        taken = {item.code: item.owner_region for item in others}
        for item in new:
            if item.code in taken:
                raise PermissionDenied(
                    f"item code {item.code} belongs to region {taken[item.code]}; "
                    f"region {region.short} cannot take it over"
                )
        current = {item.code: item for item in self.items_of(region.code)}
        if len(new) == len(current) and all(current.get(item.code) == item for item in new):
            return self
        return Catalogue(self.version + 1, max(int(now), self.issued_at), (*others, *new))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "issued_at": self.issued_at,
            "items": [item.to_dict() for item in self.items],
        }

    @classmethod
    def from_dict(cls, data: object) -> Catalogue:
        if not isinstance(data, Mapping):
            raise InvalidArgument("a catalogue must be a JSON object / TOML table")
        items = data.get("items")
        if not isinstance(items, list | tuple):
            raise InvalidArgument("a catalogue needs an 'items' list")
        return cls(
            version=_any(data, "version"),  # validated in __post_init__
            issued_at=_any(data, "issued_at", 0),
            items=tuple(CatalogueItem.from_dict(item) for item in items),
        )

    def exchange_policy(self) -> ExchangePolicy:
        """One policy rule per required licence: any region may read the listed fields."""
        cached = self.__dict__.get("_policy")
        if cached is not None:  # a catalogue is immutable: build its policy once
            return cached  # type: ignore[no-any-return]
        policy = self._build_policy()
        object.__setattr__(self, "_policy", policy)
        return policy

    def _build_policy(self) -> ExchangePolicy:
        service_items = {
            item.code: {
                "name": item.name,
                "rules": [
                    {
                        "licence_type": required.licence_type,
                        "regions": [ANY_REGION],
                        "fields": list(required.fields),
                        "allow_sensitive": required.sensitive,
                    }
                    for required in item.required_licences
                ],
            }
            for item in self.items
        }
        return ExchangePolicy.from_dict({"service_items": service_items})


def sign_catalogue(catalogue: Catalogue, key: SigningKey) -> str:
    """The hub's signed catalogue: a compact JWS of typ `catalogue+jwt`."""
    return sign_compact(catalogue.to_dict(), key, typ=CATALOGUE_TYP)


def verify_catalogue(token: str, hub_key: Callable[[str], Jwk], now: float) -> Catalogue:
    """Check type and hub signature (`hub_key(kid)` from the trust list) and rebuild it."""
    parsed = parse_jws(token)
    if parsed.header.get("typ") != CATALOGUE_TYP:
        raise Unauthenticated(f"not a service catalogue (typ {parsed.header.get('typ')!r})")
    payload = verify_compact(token, hub_key).payload()
    catalogue = Catalogue.from_dict(payload)
    if catalogue.issued_at > now + CLOCK_SKEW_S:
        raise Unauthenticated(
            f"catalogue version {catalogue.version} is issued in the future "
            f"({catalogue.issued_at} > {int(now)})"
        )
    return catalogue


def catalogue_from_toml(text: str, now: float = 0) -> Catalogue:
    """Parse a catalogue TOML (`version` and `[[items]]`); its issue time is `now`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"catalogue is not valid TOML: {exc}") from None
    return Catalogue.from_dict({**data, "issued_at": int(now)})


def starter_catalogue(now: float = 0) -> Catalogue:
    """The realistic starter catalogue shipped as `catalogue_starter.toml` beside this module."""
    text = (
        resources.files("federation.cases").joinpath(STARTER_RESOURCE).read_text(encoding="utf-8")
    )
    return catalogue_from_toml(text, now)


# Only constants that sort before every class name are listed, so the list is in both plain
# sorted() and ruff's isort-style order; DELIVERY_METHODS, HOLDERS etc. live here all the same.
__all__ = [
    "CATALOGUE_TYP",
    "CLOCK_SKEW_S",
    "Catalogue",
    "CatalogueItem",
    "RequiredLicence",
    "catalogue_from_toml",
    "sign_catalogue",
    "starter_catalogue",
    "verify_catalogue",
]
