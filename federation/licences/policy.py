"""Exchange authorisation policy: requesting region x licence type x service item -> fields."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from federation.errors import FederationError, InvalidArgument, PermissionDenied
from federation.licences.model import PERSONAL_CLAIMS
from federation.licences.types import FieldValue, LicenceType, get_licence_type
from federation.regions import Region, parse_region

_ITEM_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_PURPOSE_LENGTH = 500
ANY_REGION = "*"


@dataclass(frozen=True)
class PolicyRule:
    """Within one service item: which regions may read which fields of one licence type."""

    licence_type: str
    regions: frozenset[Region] | None
    fields: frozenset[str]
    allow_sensitive: bool = False

    def admits(self, region: Region) -> bool:
        return self.regions is None or region in self.regions


@dataclass(frozen=True)
class ServiceItem:
    """A catalogued service item (政务服务事项) and the licence reads it may make."""

    code: str
    name: str
    rules: tuple[PolicyRule, ...]


@dataclass(frozen=True)
class PolicyDecision:
    """A granted field subset or a refusal with its reason; every decision is audited."""

    granted: bool
    reason: str
    requesting_region: str
    licence_type: str
    service_item: str
    purpose: str
    fields: frozenset[str] = frozenset()
    withheld: frozenset[str] = frozenset()

    def require(self) -> PolicyDecision:
        """Raise PermissionDenied with the reason unless granted."""
        if not self.granted:
            raise PermissionDenied(self.reason)
        return self

    def audit_detail(self) -> dict[str, Any]:
        return {
            "granted": self.granted,
            "reason": self.reason,
            "requesting_region": self.requesting_region,
            "licence_type": self.licence_type,
            "service_item": self.service_item,
            "purpose": self.purpose,
            "fields": sorted(self.fields),
            "withheld": sorted(self.withheld),
        }


def filter_fields(
    decision: PolicyDecision, claims: Mapping[str, FieldValue]
) -> dict[str, FieldValue]:
    """Only the claims the decision grants; a refusal raises PermissionDenied."""
    decision.require()
    return {name: value for name, value in claims.items() if name in decision.fields}


def _rule_from_dict(item_code: str, data: Mapping[str, Any]) -> PolicyRule:
    where = f"service item {item_code}"
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"{where}: each rule must be a table")
    try:
        licence_type = get_licence_type(str(data["licence_type"]))
    except KeyError:
        raise InvalidArgument(f"{where}: a rule needs 'licence_type'") from None
    except FederationError as exc:
        raise InvalidArgument(f"{where}: {exc.message}") from None
    regions_data = data.get("regions", [ANY_REGION])
    if not isinstance(regions_data, list) or not regions_data:
        raise InvalidArgument(f"{where}: 'regions' must be a non-empty list")
    regions = None
    if ANY_REGION not in regions_data:
        regions = frozenset(parse_region(str(r)) for r in regions_data)
    fields = data.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise InvalidArgument(f"{where}: 'fields' must be a non-empty list of field names")
    known = set(PERSONAL_CLAIMS) | set(licence_type.field_names)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidArgument(f"{where}: {licence_type.key} has no field(s) {unknown}")
    allow_sensitive = bool(data.get("allow_sensitive", False))
    sensitive = sorted(set(fields) & licence_type.sensitive_fields)
    if sensitive and not allow_sensitive:
        raise InvalidArgument(
            f"{where}: sensitive field(s) {sensitive} of {licence_type.key} need "
            "allow_sensitive = true"
        )
    return PolicyRule(licence_type.key, regions, frozenset(fields), allow_sensitive)


class ExchangePolicy:
    """The owner region's catalogue of service items and the reads each may make."""

    def __init__(self, items: Iterable[ServiceItem]) -> None:
        self._items: dict[str, ServiceItem] = {}
        for item in items:
            if item.code in self._items:
                raise InvalidArgument(f"service item {item.code} is listed twice")
            self._items[item.code] = item

    @property
    def items(self) -> tuple[ServiceItem, ...]:
        return tuple(self._items.values())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExchangePolicy:
        raw_items = data.get("service_items")
        if not isinstance(raw_items, Mapping):
            raise InvalidArgument("policy needs a 'service_items' table keyed by item code")
        items = []
        for code, item in raw_items.items():
            if not _ITEM_CODE.fullmatch(str(code)):
                raise InvalidArgument(f"service item code {code!r} is not a valid code")
            if not isinstance(item, Mapping) or not isinstance(item.get("rules"), list):
                raise InvalidArgument(f"service item {code} needs a 'rules' list")
            rules = tuple(_rule_from_dict(str(code), rule) for rule in item["rules"])
            items.append(ServiceItem(str(code), str(item.get("name", code)), rules))
        return cls(items)

    @classmethod
    def from_toml(cls, text: str) -> ExchangePolicy:
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidArgument(f"policy is not valid TOML: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "service_items": {
                item.code: {
                    "name": item.name,
                    "rules": [
                        {
                            "licence_type": rule.licence_type,
                            "regions": [ANY_REGION]
                            if rule.regions is None
                            else sorted(r.code for r in rule.regions),
                            "fields": sorted(rule.fields),
                            "allow_sensitive": rule.allow_sensitive,
                        }
                        for rule in item.rules
                    ],
                }
                for item in self._items.values()
            }
        }

    def decide(
        self,
        requesting_region: Region | str,
        licence_type: LicenceType | str,
        service_item: str,
        purpose: str,
        requested_fields: Iterable[str] | None = None,
    ) -> PolicyDecision:
        """Grant the fields the item needs (narrowed to those requested), or refuse with why."""
        region = (
            requesting_region
            if isinstance(requesting_region, Region)
            else parse_region(requesting_region)
        )
        kind = (
            licence_type
            if isinstance(licence_type, LicenceType)
            else get_licence_type(licence_type)
        )
        purpose_text = purpose.strip() if isinstance(purpose, str) else ""

        def refuse(reason: str) -> PolicyDecision:
            return PolicyDecision(False, reason, region.code, kind.key, service_item, purpose_text)

        if not purpose_text:
            return refuse("a stated purpose (申请事由) is required for a cross-region read")
        if len(purpose_text) > MAX_PURPOSE_LENGTH:
            return refuse(f"the stated purpose exceeds {MAX_PURPOSE_LENGTH} characters")
        item = self._items.get(service_item)
        if item is None:
            return refuse(f"service item {service_item!r} is not in the catalogue")
        rules = [rule for rule in item.rules if rule.licence_type == kind.key]
        if not rules:
            return refuse(f"service item {service_item} ({item.name}) does not use {kind.key}")
        admitted = [rule for rule in rules if rule.admits(region)]
        if not admitted:
            return refuse(
                f"region {region.short} may not read {kind.key} for service item {service_item}"
            )
        allowed = frozenset().union(*(rule.fields for rule in admitted))
        requested = allowed if requested_fields is None else frozenset(requested_fields)
        granted = requested & allowed
        if not granted:
            return refuse(
                f"none of the requested fields {sorted(requested)} is needed by {service_item}"
            )
        withheld = requested - allowed
        note = f"; withheld {sorted(withheld)}" if withheld else ""
        return PolicyDecision(
            True,
            f"granted {len(granted)} field(s) of {kind.key} for {service_item} ({item.name}){note}",
            region.code,
            kind.key,
            service_item,
            purpose_text,
            granted,
            withheld,
        )


def default_policy() -> ExchangePolicy:
    """The starter catalogue shipped as `default_policy.toml` beside this module."""
    text = (
        resources.files("federation.licences")
        .joinpath("default_policy.toml")
        .read_text(encoding="utf-8")
    )
    return ExchangePolicy.from_toml(text)


__all__ = [
    "ANY_REGION",
    "MAX_PURPOSE_LENGTH",
    "ExchangePolicy",
    "PolicyDecision",
    "PolicyRule",
    "ServiceItem",
    "default_policy",
    "filter_fields",
]
