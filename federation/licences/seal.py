"""Electronic seals (电子印章): region-certified seal keys, sealing as SD-JWT, verifying a seal."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from federation.clock import CHINA_STANDARD_TIME
from federation.crypto.jose import Jwk, SigningKey, sign_compact
from federation.errors import InvalidArgument, NotFound, Unauthenticated
from federation.licences.identifier import LicenceIdentifier, parse_identifier
from federation.licences.kept import KeptLicences
from federation.licences.model import (
    HolderCodeType,
    IssuingAuthority,
    Licence,
    StatusReference,
    parse_day,
    parse_holder_code_type,
    sealed_authority,
)
from federation.licences.sdjwt import (
    ACCEPTED_SD_JWT_TYPS,
    SD_ALG,
    SD_JWT_TYP,
    Disclosure,
    join_sd_jwt,
    match_disclosures,
    split_sd_jwt,
)
from federation.licences.sealcert import (
    SEAL_CERT_HEADER,
    X5C_HEADER,
    RegionKeyResolver,
    SealCertificate,
    authority_code_of,
    check_issuer_url,
    int_claim,
    minimal_jwk,
    parse_jws,
    verify_sealed_jws,
)
from federation.licences.types import FieldValue, licence_type_by_code

DEFAULT_SKEW_S = 60

_RESERVED = frozenset(
    {
        "iss",
        "authority_code",
        "iss_name",
        "region",
        "vct",
        "licence_name",
        "id",
        "iat",
        "exp",
        "nbf",
        "issue_date",
        "valid_from",
        "valid_until",
        "holder_code_type",
        "status",
        "cnf",
        "_sd",
        "_sd_alg",
    }
)


@dataclass(frozen=True)
class ElectronicSeal:
    """An authority's seal: its private key and the region's certificate for that key."""

    authority: IssuingAuthority
    key: SigningKey
    certificate: str
    # the X.509 chain [seal certificate, region seal CA] (base64 DER) to the federation root,
    # carried as the JWS `x5c` header; empty for seals provisioned before X.509 seal certificates
    x5c: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        payload = parse_jws(self.certificate).payload()
        cnf = payload.get("cnf")
        jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        if not isinstance(jwk, dict) or Jwk.from_dict(jwk).kid != self.key.kid:
            raise InvalidArgument("the seal certificate does not certify this seal key")
        if payload.get("sub") != self.authority.credit_code:
            raise InvalidArgument(
                f"the seal certificate is for {payload.get('sub')!r}, "
                f"not {self.authority.credit_code}"
            )


# --- sealing -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # pure (CST has a fixed offset); licences share few days
def start_of_day(day: dt.date) -> int:
    """The first second of `day` in China Standard Time (a licence's `nbf`)."""
    return int(dt.datetime.combine(day, dt.time(), CHINA_STANDARD_TIME).timestamp())


def end_of_day(day: dt.date) -> int:
    """The first second after `day` in China Standard Time: a licence's `exp`, since RFC 7519
    refuses a JWT on or after its `exp` and the licence is valid through all of `day`."""
    return start_of_day(day + dt.timedelta(days=1))


@dataclass(frozen=True)
class SealedLicence:
    """A sealed licence: the issuer-signed JWT and one disclosure per personal claim."""

    issuer_jwt: str
    disclosures: tuple[Disclosure, ...]

    def serialize(self) -> str:
        """The full licence `<issuer-jwt>~<disclosure>~...~` (RFC 9901, no key binding)."""
        return join_sd_jwt(self.issuer_jwt, (d.encoded for d in self.disclosures))


def seal_licence(
    licence: Licence,
    seal: ElectronicSeal,
    now: float,
    holder_jwk: Jwk | None = None,
    salt: Callable[[], str] | None = None,
    issuer: str = "",
) -> SealedLicence:
    """Seal `licence` with the authority's key; personal claims become salted disclosures.
    `issuer`: the authority's https issuer id `<region public url>/authorities/<credit code>`
    (its SD-JWT VC metadata); without one `iss` is the credit code (always in authority_code).
    """
    if issuer:
        check_issuer_url(issuer, licence.authority.credit_code)
    if licence.authority != seal.authority:
        raise InvalidArgument(
            f"licence is issued by {licence.authority.credit_code}, "
            f"this seal belongs to {seal.authority.credit_code}"
        )
    disclosures = tuple(
        Disclosure.create(name, value, salt() if salt else None)
        for name, value in licence.personal_claims().items()
    )
    payload: dict[str, Any] = {
        "iss": issuer or licence.authority.credit_code,
        "authority_code": licence.authority.credit_code,
        "iss_name": licence.authority.name,
        "region": licence.authority.region_code,
        "vct": licence.type_code,
        "licence_name": licence.name,
        "id": licence.identifier.format(),
        "iat": int(now),
        "issue_date": licence.issue_date.isoformat(),
        "valid_from": licence.valid_from.isoformat(),
        "nbf": start_of_day(licence.valid_from),
        "holder_code_type": licence.holder_code_type.value,
        "_sd_alg": SD_ALG,
        "_sd": sorted(d.digest for d in disclosures),
    }
    if licence.valid_until is not None:
        payload["valid_until"] = licence.valid_until.isoformat()
        payload["exp"] = end_of_day(licence.valid_until)
    if licence.status is not None:
        payload["status"] = licence.status.to_claim()
    if holder_jwk is not None:
        payload["cnf"] = {"jwk": minimal_jwk(holder_jwk)}
    header: dict[str, Any] = {SEAL_CERT_HEADER: seal.certificate}
    if seal.x5c:
        header[X5C_HEADER] = list(seal.x5c)
    issuer_jwt = sign_compact(payload, seal.key, typ=SD_JWT_TYP, extra_header=header)
    return SealedLicence(issuer_jwt, disclosures)


# --- verification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedMetadata:
    """The always-visible, seal-verified part of a licence (no personal claims)."""

    identifier: LicenceIdentifier
    type_code: str
    licence_name: str
    authority: IssuingAuthority
    issue_date: dt.date
    valid_from: dt.date
    valid_until: dt.date | None
    holder_code_type: HolderCodeType
    status: StatusReference | None
    holder_jwk: Jwk | None
    sealed_at: int
    digests: tuple[str, ...]
    certificate: SealCertificate
    # `nbf`/`exp` as sealed (absent in licences sealed before they were added); when present
    # they agree with valid_from/valid_until, so generic JOSE verifiers enforce the same window
    not_before: int | None = None
    expires_at: int | None = None
    # the sealed `iss`: the authority's https issuer id, or (sealed before it had one) its code
    issuer: str = ""

    @property
    def window(self) -> tuple[int, int | None]:
        """[start, end) of validity in epoch seconds: sealed nbf/exp, else from the dates."""
        start = self.not_before if self.not_before is not None else start_of_day(self.valid_from)
        end = self.expires_at
        if end is None and self.valid_until is not None:
            end = end_of_day(self.valid_until)
        return start, end


@dataclass(frozen=True)
class VerifiedLicence:
    """A licence whose seal, certificate chain and every disclosure verified."""

    licence: Licence
    metadata: SealedMetadata
    holder_jwk: Jwk | None


def _date_claim(payload: dict[str, Any], name: str) -> dt.date:
    return parse_day(payload.get(name), f"sealed claim {name!r}")


def _str_claim(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise InvalidArgument(f"sealed claim {name!r} must be a string")
    return value


def _window_claims(
    payload: dict[str, Any], valid_from: dt.date, valid_until: dt.date | None
) -> tuple[int | None, int | None]:
    """Sealed `nbf`/`exp`, refused unless they say exactly what the date fields say."""
    not_before = int_claim(payload, "nbf", "sealed licence") if "nbf" in payload else None
    expires_at = int_claim(payload, "exp", "sealed licence") if "exp" in payload else None
    if not_before is not None and not_before != start_of_day(valid_from):
        raise InvalidArgument(
            f"sealed nbf {not_before} contradicts valid_from {valid_from} "
            f"(start of day in CST is {start_of_day(valid_from)})"
        )
    if expires_at is not None:
        if valid_until is None:
            raise InvalidArgument("sealed exp on a licence without valid_until")
        if expires_at != end_of_day(valid_until):
            raise InvalidArgument(
                f"sealed exp {expires_at} contradicts valid_until {valid_until} "
                f"(end of day in CST is {end_of_day(valid_until)})"
            )
    return not_before, expires_at


def _metadata(payload: dict[str, Any], cert: SealCertificate) -> SealedMetadata:
    if payload.get("_sd_alg") != SD_ALG:
        raise InvalidArgument(f"_sd_alg must be {SD_ALG!r}, got {payload.get('_sd_alg')!r}")
    digests = payload.get("_sd")
    if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
        raise InvalidArgument("_sd must be a list of digest strings")
    if len(set(digests)) != len(digests):
        raise InvalidArgument("_sd lists a digest twice")
    authority = sealed_authority(
        authority_code_of(payload), _str_claim(payload, "iss_name"), _str_claim(payload, "region")
    )
    identifier = parse_identifier(_str_claim(payload, "id"))
    type_code = _str_claim(payload, "vct")
    try:
        licence_type_by_code(type_code)
    except NotFound as exc:
        raise InvalidArgument(exc.message) from None
    if identifier.type_code != type_code or identifier.authority_code != authority.credit_code:
        raise InvalidArgument("sealed identifier disagrees with the sealed type or issuer")
    cnf = payload.get("cnf")
    holder_jwk = None
    if cnf is not None:
        if not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
            raise InvalidArgument("cnf must be {'jwk': {...}}")
        holder_jwk = Jwk.from_dict(cnf["jwk"])
    status = payload.get("status")
    valid_from = _date_claim(payload, "valid_from")
    valid_until = _date_claim(payload, "valid_until") if "valid_until" in payload else None
    not_before, expires_at = _window_claims(payload, valid_from, valid_until)
    return SealedMetadata(
        identifier=identifier,
        type_code=type_code,
        licence_name=_str_claim(payload, "licence_name"),
        authority=authority,
        issue_date=_date_claim(payload, "issue_date"),
        valid_from=valid_from,
        valid_until=valid_until,
        holder_code_type=parse_holder_code_type(_str_claim(payload, "holder_code_type")),
        status=StatusReference.from_claim(status) if status is not None else None,
        holder_jwk=holder_jwk,
        sealed_at=int_claim(payload, "iat", "sealed licence"),
        digests=tuple(digests),
        certificate=cert,
        not_before=not_before,
        expires_at=expires_at,
        issuer=_str_claim(payload, "iss"),
    )


def verify_seal(
    issuer_jwt: str,
    disclosures: Sequence[str],
    region_key: RegionKeyResolver,
    now: float,
    skew_s: int = DEFAULT_SKEW_S,
) -> tuple[SealedMetadata, tuple[Disclosure, ...]]:
    """Check certificate chain, seal signature and disclosures; return what they say."""
    sealed = verify_sealed_jws(
        issuer_jwt, ACCEPTED_SD_JWT_TYPS, "sealed licence", region_key, now, skew_s
    )
    cert = sealed.certificate
    metadata = _metadata(sealed.payload, cert)
    if metadata.authority.region is not cert.region:
        raise Unauthenticated(
            f"issuer region {metadata.authority.region_code} is not the certifying region "
            f"{cert.region.code}"
        )
    matched = match_disclosures(disclosures, metadata.digests)
    clashing = sorted(d.name for d in matched if d.name in _RESERVED)
    if clashing:
        raise InvalidArgument(f"disclosures may not replace sealed claims: {clashing}")
    return metadata, matched


_KEPT = KeptLicences()


def forget_verified_licences() -> None:
    """Drop the licences kept by `verify_sealed`: the next use of each is a first verification."""
    _KEPT.clear()


def verify_sealed(
    sd_jwt: str, region_key: RegionKeyResolver, now: float, skew_s: int = DEFAULT_SKEW_S
) -> VerifiedLicence:
    """Verify a full sealed licence `<issuer-jwt>~<disclosure>~...~` and rebuild the Licence.

    Each licence is verified once and kept (federation.licences.kept): a later use re-checks
    only its region key in the trust list and that the seal is not from the future.
    """
    return _KEPT.verify(sd_jwt, region_key, now, skew_s, _verify_sealed)


def _verify_sealed(
    sd_jwt: str, region_key: RegionKeyResolver, now: float, skew_s: int
) -> VerifiedLicence:
    parts = split_sd_jwt(sd_jwt)
    if parts.kb_jwt is not None:
        raise InvalidArgument("a full licence ends with '~'; use verify_presentation for a KB-JWT")
    issuer_jwt, encoded = parts.issuer_jwt, parts.disclosures
    metadata, disclosures = verify_seal(issuer_jwt, encoded, region_key, now, skew_s)
    if len(disclosures) != len(metadata.digests):
        raise InvalidArgument(
            f"{len(metadata.digests) - len(disclosures)} sealed claim(s) are not disclosed; "
            "a full licence discloses every claim (verify a partial one as a presentation)"
        )
    claims: dict[str, FieldValue] = {d.name: d.value for d in disclosures}
    personal = {name: claims.pop(name, None) for name in ("holder_name", "holder_code", "number")}
    for name, value in personal.items():
        if not isinstance(value, str):
            raise InvalidArgument(f"sealed licence has no string disclosure {name!r}")
    licence = Licence(
        name=metadata.licence_name,
        type_code=metadata.type_code,
        number=str(personal["number"]),
        identifier=metadata.identifier,
        holder_name=str(personal["holder_name"]),
        holder_code=str(personal["holder_code"]),
        holder_code_type=metadata.holder_code_type,
        authority=metadata.authority,
        issue_date=metadata.issue_date,
        valid_from=metadata.valid_from,
        valid_until=metadata.valid_until,
        fields=claims,
        status=metadata.status,
    )
    return VerifiedLicence(licence, metadata, metadata.holder_jwk)


__all__ = [
    "DEFAULT_SKEW_S",
    "SEAL_CERT_HEADER",
    "ElectronicSeal",
    "SealedLicence",
    "SealedMetadata",
    "VerifiedLicence",
    "end_of_day",
    "forget_verified_licences",
    "seal_licence",
    "start_of_day",
    "verify_seal",
    "verify_sealed",
]
