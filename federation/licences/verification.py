"""The verdict on a licence: seal and chain, validity window, and status from a signed list."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from federation.clock import CHINA_STANDARD_TIME
from federation.errors import InvalidArgument, Unauthenticated
from federation.licences.model import Licence
from federation.licences.seal import DEFAULT_SKEW_S, SealedMetadata, verify_sealed
from federation.licences.sealcert import RegionKeyResolver, check_issuer_url
from federation.licences.status import LicenceStatus, VerifiedStatusList
from federation.licences.status_uri import PublicUrlOf

StatusListLookup = Callable[[str], VerifiedStatusList]
"""uri -> the verified (and cached) status list; raises Unavailable when it cannot be had."""


class Verdict(enum.Enum):
    """What a verifier answers about a licence."""

    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    FORGED = "forged"


# When several findings apply, the verdict is the gravest; every finding is kept as a reason.
_GRAVITY = (
    Verdict.FORGED,
    Verdict.REVOKED,
    Verdict.SUSPENDED,
    Verdict.EXPIRED,
    Verdict.NOT_YET_VALID,
    Verdict.VALID,
)


@dataclass(frozen=True)
class LicenceVerdict:
    """The outcome of verifying one licence, with every reason that led to it."""

    verdict: Verdict
    reasons: tuple[str, ...]
    identifier: str | None = None
    type_code: str | None = None
    licence: Licence | None = None
    status_checked: bool = False

    @property
    def is_valid(self) -> bool:
        return self.verdict is Verdict.VALID

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "identifier": self.identifier,
            "type_code": self.type_code,
            "status_checked": self.status_checked,
        }


def licence_day(now: float) -> dt.date:
    """Licence validity dates are calendar days in China Standard Time."""
    return dt.datetime.fromtimestamp(now, CHINA_STANDARD_TIME).date()


def forged(reason: str, identifier: str | None = None) -> LicenceVerdict:
    return LicenceVerdict(Verdict.FORGED, (reason,), identifier)


def _status_finding(
    metadata: SealedMetadata, status_list: VerifiedStatusList
) -> tuple[Verdict, str] | None:
    reference = metadata.status
    if reference is None:
        return None
    if status_list.uri != reference.uri:
        raise Unauthenticated(
            f"status list {status_list.uri!r} is not the licence's list {reference.uri!r}"
        )
    if status_list.region is not metadata.authority.region:
        raise Unauthenticated(
            f"status list signed by {status_list.region.short}, the licence is from "
            f"{metadata.authority.region.short}"
        )
    status = status_list.status_of(reference.index)
    if status is LicenceStatus.REVOKED:
        return Verdict.REVOKED, f"revoked in status list {reference.uri} (index {reference.index})"
    if status is LicenceStatus.SUSPENDED:
        return (
            Verdict.SUSPENDED,
            f"suspended in status list {reference.uri} (index {reference.index})",
        )
    return None


def check_issuer_listed(metadata: SealedMetadata, public_url_of: PublicUrlOf) -> None:
    """An https `iss` must be on the issuing region's public URL as the trust list lists it
    (the seal proves the authority chose it; this proves its region publishes there)."""
    if metadata.issuer == metadata.authority.credit_code:
        return  # sealed before authorities had an https issuer id
    base = check_issuer_url(metadata.issuer, metadata.authority.credit_code)
    listed = public_url_of(metadata.authority.region.code).rstrip("/")
    if base != listed:
        raise Unauthenticated(
            f"issuer {metadata.issuer!r} is not on region {metadata.authority.region.short}'s "
            f"listed public url {listed or '(none listed)'!r}"
        )


def judge_licence(
    metadata: SealedMetadata,
    status_list: VerifiedStatusList | None,
    now: float,
    licence: Licence | None = None,
) -> LicenceVerdict:
    """Combine a verified seal with the validity window and status; the gravest finding wins."""
    findings: list[tuple[Verdict, str]] = []
    # the sealed nbf/exp (checked to agree with the dates) bound the window, as for any JWT;
    # today's date is only said in these findings, so only computed for them
    starts, ends = metadata.window
    if ends is not None and now >= ends:
        findings.append(
            (
                Verdict.EXPIRED,
                f"expired: valid until {metadata.valid_until}, today is {licence_day(now)}",
            )
        )
    if now < starts:
        findings.append(
            (
                Verdict.NOT_YET_VALID,
                f"not yet valid: valid from {metadata.valid_from}, today is {licence_day(now)}",
            )
        )
    status_checked = False
    if metadata.status is None:
        findings.append((Verdict.VALID, "licence names no status list; status not checked"))
    elif status_list is not None:
        status_checked = True
        finding = _status_finding(metadata, status_list)
        if finding is not None:
            findings.append(finding)
    else:
        findings.append((Verdict.VALID, "status list not consulted"))
    verdict = min((v for v, _ in findings), key=_GRAVITY.index, default=Verdict.VALID)
    reasons = [reason for _, reason in sorted(findings, key=lambda f: _GRAVITY.index(f[0]))]
    if verdict is Verdict.VALID:
        reasons.insert(
            0,
            f"seal by {metadata.authority.name} ({metadata.authority.credit_code}) "
            f"certified by {metadata.certificate.region.short} verifies",
        )
    return LicenceVerdict(
        verdict,
        tuple(reasons),
        metadata.identifier.format(),
        metadata.type_code,
        licence,
        status_checked,
    )


def verify_licence(
    sd_jwt: str,
    region_key: RegionKeyResolver,
    status_lists: StatusListLookup | None,
    now: float,
    skew_s: int = DEFAULT_SKEW_S,
    public_urls: PublicUrlOf | None = None,
) -> LicenceVerdict:
    """Verify a full sealed licence anywhere: anything unverifiable in it is FORGED.

    With `public_urls` (the trust list's), an https `iss` off its region's listed public URL
    is FORGED too.

    Failures to obtain or verify the status list are not the licence's fault: they propagate
    (Unavailable, Unauthenticated) so the caller can retry rather than misreport a forgery.
    """
    try:
        verified = verify_sealed(sd_jwt, region_key, now, skew_s)
        if public_urls is not None:
            check_issuer_listed(verified.metadata, public_urls)
    except (InvalidArgument, Unauthenticated) as exc:
        return forged(exc.message)
    metadata = verified.metadata
    status_list = None
    if metadata.status is not None and status_lists is not None:
        status_list = status_lists(metadata.status.uri)
    return judge_licence(metadata, status_list, now, verified.licence)


__all__ = [
    "LicenceVerdict",
    "StatusListLookup",
    "Verdict",
    "check_issuer_listed",
    "forged",
    "judge_licence",
    "licence_day",
    "verify_licence",
]
