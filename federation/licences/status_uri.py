"""Status list uris: the issuing region's public https address, and the legacy `yrd:` form."""

# A licence's `status.status_list.uri` is `https://<host>:<port>/status/<region>/<n>`, the
# issuing region's public endpoint, so any verifier can fetch it. Inside the federation the uri is
# only a name: a verifier maps it to its region through the trust list (the region's listed
# `public_url` must be the uri's base) and gets the list from its cache or over mTLS, never over
# HTTPS on its hot path. Licences sealed before this carry `yrd:status:<region>:<n>`; those are
# still read and their lists still served.

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from federation.errors import InvalidArgument, Unauthenticated
from federation.regions import Region

LEGACY_STATUS_PREFIX = "yrd:status:"
_PATH = re.compile(r"/status/([0-9]{6})/([1-9][0-9]{0,5})")
_LEGACY = re.compile(r"yrd:status:([0-9]{6}):([1-9][0-9]{0,5})")

PublicUrlOf = Callable[[str], str]
"""region code -> the region's listed public base URL ("" when it lists none)."""


@dataclass(frozen=True)
class StatusListAddress:
    """What a status list uri names: the issuing region, the list number, the public base."""

    region: Region
    number: int
    base_url: str  # "" for a legacy `yrd:status:` uri

    @property
    def path(self) -> str:
        return status_list_path(self.region, self.number)


def _province(code: str, uri: str) -> Region:
    for region in Region:
        if region.code == code and region.is_province:
            return region
    raise InvalidArgument(f"status list uri names no province: {uri!r}")


def status_list_path(region: Region, number: int = 1) -> str:
    """The HTTP path of a region's list on its public endpoint."""
    return f"/status/{region.code}/{number}"


def status_list_uri(region: Region, public_url: str = "", number: int = 1) -> str:
    """The uri a licence names: on `public_url` when the region has one, else the legacy form."""
    if not public_url:
        return f"{LEGACY_STATUS_PREFIX}{region.code}:{number}"
    return public_url.rstrip("/") + status_list_path(region, number)


def parse_status_uri(uri: str) -> StatusListAddress:
    """Split a status list uri; anything but the two forms above is refused."""
    if not isinstance(uri, str):
        raise InvalidArgument("status list uri must be a string")
    legacy = _LEGACY.fullmatch(uri)
    if legacy is not None:
        return StatusListAddress(_province(legacy[1], uri), int(legacy[2]), "")
    parts = urlsplit(uri)
    path = _PATH.fullmatch(parts.path)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or path is None
    ):
        raise InvalidArgument(
            f"not a federation status list uri (https://host:port/status/<region>/<n>): {uri!r}"
        )
    return StatusListAddress(_province(path[1], uri), int(path[2]), f"https://{parts.netloc}")


def region_of_status_uri(uri: str, public_url_of: PublicUrlOf | None = None) -> Region:
    """The region whose list `uri` names; an https uri must be on that region's listed URL.

    Without `public_url_of` (no trust list at hand) only legacy uris can be mapped.
    """
    address = parse_status_uri(uri)
    if not address.base_url:
        return address.region
    listed = public_url_of(address.region.code).rstrip("/") if public_url_of else ""
    if not listed or listed != address.base_url:
        raise Unauthenticated(
            f"status list uri {uri!r} is not on region {address.region.short}'s listed public "
            f"url {listed or '(none listed)'!r}"
        )
    return address.region


__all__ = [
    "LEGACY_STATUS_PREFIX",
    "PublicUrlOf",
    "StatusListAddress",
    "parse_status_uri",
    "region_of_status_uri",
    "status_list_path",
    "status_list_uri",
]
