"""Region codes of the federation: the national hub and the four Yangtze River Delta provinces."""

from __future__ import annotations

import enum

from federation.errors import InvalidArgument


class Region(enum.Enum):
    """A member of the federation, keyed by its administrative division code (GB/T 2260)."""

    HUB = "100000"
    SH = "310000"
    JS = "320000"
    ZJ = "330000"
    AH = "340000"

    @property
    def code(self) -> str:
        return self.value

    @property
    def short(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def entity_id(self) -> str:
        """Stable entity identifier used as JWT issuer and TLS subject."""
        return f"yrd:{self.short.lower()}:{self.code}"

    @property
    def is_province(self) -> bool:
        return self is not Region.HUB


_LABELS = {
    Region.HUB: "National government-service platform (国家政务服务平台)",
    Region.SH: "Shanghai (上海)",
    Region.JS: "Jiangsu (江苏)",
    Region.ZJ: "Zhejiang (浙江)",
    Region.AH: "Anhui (安徽)",
}

PROVINCES: tuple[Region, ...] = (Region.SH, Region.JS, Region.ZJ, Region.AH)

_ALIASES = {
    "NATIONAL": Region.HUB,
    "SHANGHAI": Region.SH,
    "JIANGSU": Region.JS,
    "ZHEJIANG": Region.ZJ,
    "ANHUI": Region.AH,
}


def parse_region(text: str) -> Region:
    """Accept a region by code (310000), short name (SH) or English name (shanghai)."""
    key = text.strip().upper()
    for region in Region:
        if key in (region.code, region.short):
            return region
    if key in _ALIASES:
        return _ALIASES[key]
    for region in Region:
        if key == region.entity_id.upper():
            return region
    known = ", ".join(f"{r.short}={r.code}" for r in Region)
    raise InvalidArgument(f"unknown region {text!r}; use one of {known}")


def region_of_id_number(id_number: str) -> Region | None:
    """The province whose division code prefixes a citizen id number, if it is a YRD province."""
    prefix = id_number[:2]
    if len(prefix) < 2 or not prefix.isdigit():
        return None
    for region in PROVINCES:
        if region.code.startswith(prefix):
            return region
    return None
