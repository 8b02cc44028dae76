"""A region's licence registry: issue and seal, change status, publish the status list, share."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from federation.audit import AuditDraft
from federation.clock import Clock
from federation.crypto.jose import Jwk, SigningKey, canonical_json
from federation.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from federation.identity.tokens import TokenClaims
from federation.licences import (
    DEFAULT_STATUS_TTL_S,
    ElectronicSeal,
    ExchangePolicy,
    LicenceStatus,
    StatusList,
    StatusReference,
    build_licence,
    get_licence_type,
    new_serial,
    random_free_index,
    seal_licence,
    sign_status_list,
)
from federation.licences.seal import verify_sealed
from federation.licences.sealcert import AUTHORITIES_PATH, RegionKeyResolver
from federation.licences.status_uri import (
    parse_status_uri,
    region_of_status_uri,
    status_list_uri,
)
from federation.regions import Region
from federation.storage.base import LicenceRecord, Store

STATUS_LIST_SIZE = 1 << 16
# a status index taken meanwhile by another process sharing the store is drawn again, this often
ISSUE_ATTEMPTS = 4


class _IndexTaken(Exception):
    """The status index drawn for a licence was taken by another process (draw again)."""


MAX_REQUEST_ID = 128

SealFor = Callable[[str, str], ElectronicSeal]
"""(authority credit code or "", licence type code) -> the seal that may issue it."""


def _date(text: str, name: str, default: dt.date | None = None) -> dt.date | None:
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"{name} must be an ISO date YYYY-MM-DD, got {text!r}") from None


@dataclass(frozen=True)
class IssueRequest:
    """What an issuing clerk asks for; `request_id` makes retries safe."""

    request_id: str
    licence_type: str
    holder_code: str
    holder_name: str
    authority_code: str = ""
    number: str = ""
    issue_date: str = ""
    valid_from: str = ""
    valid_until: str = ""
    fields: Mapping[str, Any] | None = None
    holder_jwk: Mapping[str, Any] | None = None

    def fingerprint(self) -> str:
        body = {k: v for k, v in self.__dict__.items() if k != "request_id"}
        return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class LicenceSummary:
    """What aggregation (归集) shows of a licence: no personal fields."""

    identifier: str
    type_code: str
    licence_name: str
    issuing_region: str
    authority_name: str
    valid_until: str
    status: str


class LicenceRegistry:
    """The issuing side at one region: its licences, their statuses and its status list."""

    def __init__(
        self,
        *,
        region: Region,
        store: Store,
        seal_for: SealFor,
        status_key: Callable[[], SigningKey],
        clock: Clock,
        status_ttl_s: int = DEFAULT_STATUS_TTL_S,
        rng: random.Random | None = None,
        public_url: str | Callable[[], str] = "",
    ) -> None:
        """`public_url` is the region's public HTTPS base as the trust list lists it (or how to
        read it there, at each issue): new licences name their status list and issuer there;
        while none is listed they keep the legacy `yrd:` names, which verifiers can map."""
        self.region = region
        self._public_url = public_url if callable(public_url) else (lambda: public_url)
        self._store = store
        self._seal_for = seal_for
        self._status_key = status_key
        self._clock = clock
        self.status_ttl_s = status_ttl_s
        # licences sealed before the public endpoint name the same list by its legacy uri
        self.legacy_status_uri = status_list_uri(region)
        self._rng = rng or random.SystemRandom()
        self._issue_lock = threading.Lock()
        self._status_lock = threading.Lock()
        self._signed: dict[str, tuple[str, float]] = {}  # uri -> (token, signed at)
        self._used: set[int] | None = None  # status indices taken, loaded on first issue

    @property
    def public_url(self) -> str:
        return self._public_url().rstrip("/")

    @property
    def status_uri(self) -> str:
        """The uri new licences name: on the listed public URL, else the legacy name."""
        return status_list_uri(self.region, self.public_url)

    # --- issuing (a retry with the same request_id is answered by add_licence) ---------
    def issue(self, request: IssueRequest, actor: str = "") -> tuple[LicenceRecord, bool]:
        """Seal and store a licence with its `licence.issue` audit entry, in one transaction:
        no licence is ever stored unaudited. `actor` defaults to the region itself (a case
        result). A retry returns the stored licence and appends nothing; its caller audits it."""
        for _ in range(ISSUE_ATTEMPTS - 1):
            try:
                return self._issue_once(request, actor)
            except _IndexTaken:
                continue  # another worker process or replica took it: draw again
        return self._issue_once(request, actor, last=True)

    def _issue_once(
        self, request: IssueRequest, actor: str, last: bool = False
    ) -> tuple[LicenceRecord, bool]:
        if not request.request_id or len(request.request_id) > MAX_REQUEST_ID:
            raise InvalidArgument(f"request_id is required (1..{MAX_REQUEST_ID} characters)")
        licence_type = get_licence_type(request.licence_type)
        seal = self._seal_for(request.authority_code, licence_type.code)
        holder_jwk = Jwk.from_dict(request.holder_jwk) if request.holder_jwk else None
        today = dt.datetime.fromtimestamp(self._clock.now(), dt.UTC).date()
        issue_date = _date(request.issue_date, "issue_date", today)
        valid_from = _date(request.valid_from, "valid_from", issue_date)
        valid_until = _date(request.valid_until, "valid_until")
        assert issue_date is not None and valid_from is not None
        if valid_until is not None and valid_until < valid_from:
            raise InvalidArgument(f"valid_until {valid_until} is before valid_from {valid_from}")
        public_url = self.public_url  # read once: the status uri and `iss` must agree
        with self._issue_lock:  # one index allocation at a time within this node
            if self._used is None:  # read once; re-read when another process took an index
                self._used = {index for index, _ in self._store.status_entries()}
            index = random_free_index(STATUS_LIST_SIZE, self._used.__contains__, self._rng)
            serial = new_serial()
            licence = build_licence(
                licence_type,
                seal.authority,
                serial=serial,
                number=request.number or f"{self.region.short}{serial}",
                holder_name=request.holder_name,
                holder_code=request.holder_code,
                issue_date=issue_date,
                valid_from=valid_from,
                valid_until=valid_until,
                fields=dict(request.fields or {}),
                status=StatusReference(status_list_uri(self.region, public_url), index),
            )
            now = self._clock.now()
            issuer = (
                f"{public_url}{AUTHORITIES_PATH}{seal.authority.credit_code}" if public_url else ""
            )
            sealed = seal_licence(licence, seal, now, holder_jwk, issuer=issuer)
            # the enterprise's legal representative sees its licence in her own aggregation
            representative = licence.fields.get("legal_representative_id")
            record = LicenceRecord(
                identifier=licence.identifier.format(),
                request_id=request.request_id,
                request_hash=request.fingerprint(),
                type_code=licence_type.code,
                holder_code=licence.holder_code,
                authority_code=seal.authority.credit_code,
                sd_jwt=sealed.serialize(),
                status_index=index,
                status=int(LicenceStatus.VALID),
                issued_at=now,
                updated_at=now,
                parties=(str(representative),) if representative else (),
            )
            entry = AuditDraft(
                time=now,
                actor=actor or self.region.entity_id,
                action="licence.issue",
                outcome="granted",
                subject=record.holder_code,
                detail={"identifier": record.identifier, "request_id": record.request_id},
            )
            try:
                stored, created = self._store.add_licence(record, audit=entry)
            except AlreadyExists:
                # Worker processes and replicas share the store: another may have taken the
                # index drawn here. Re-read the taken indices; any other refusal (a request id
                # reused for another request) stands.
                known = self._used
                self._used = {taken for taken, _ in self._store.status_entries()}
                if not last and index in self._used - known:
                    raise _IndexTaken(index) from None
                raise
            self._used.add(stored.status_index)
            if created:
                self._invalidate()
            return stored, created

    def get(self, identifier: str) -> LicenceRecord:
        record = self._store.get_licence(identifier)
        if record is None:
            raise NotFound(f"no licence {identifier!r} is held by region {self.region.short}")
        return record

    def change_status(self, identifier: str, target: LicenceStatus) -> LicenceRecord:
        with self._status_lock:
            record = self.get(identifier)
            statuses = StatusList(1)
            statuses.set(0, record.status)
            statuses.transition(0, target)  # refuses e.g. reinstating a revoked licence
            updated = self._store.set_licence_status(identifier, int(target), self._clock.now())
            self._signed.clear()
            return updated

    # --- status list ------------------------------------------------------------------
    def status_uri_of(self, record: LicenceRecord) -> str:
        """The status list uri sealed in `record` (older licences carry the legacy name)."""
        status = json.loads(_payload_of(record.sd_jwt)).get("status")
        inner = status.get("status_list") if isinstance(status, dict) else None
        uri = inner.get("uri") if isinstance(inner, dict) else None
        return uri if isinstance(uri, str) else self.status_uri

    def publishes(self, uri: str) -> bool:
        """Whether `uri` names this region's list (its https uri or its legacy name)."""
        return uri in (self.status_uri, self.legacy_status_uri)

    def _invalidate(self) -> None:
        with self._status_lock:
            self._signed.clear()

    def signed_status_list(self, uri: str = "") -> str:
        """The current list, re-signed after any change and well before verifiers' TTL ends.

        `uri` (default: the current one) becomes the list's `sub`, which a verifier matches
        with the uri its licence names; a legacy uri gets the same statuses under that name.
        """
        uri = uri or self.status_uri
        if not self.publishes(uri):
            parse_status_uri(uri)  # a malformed uri is the caller's error, said precisely
            raise InvalidArgument(
                f"region {self.region.short} publishes {self.status_uri}, not {uri!r}"
            )
        now = self._clock.now()
        with self._status_lock:
            signed = self._signed.get(uri)
            if signed is not None and now - signed[1] < self.status_ttl_s / 2:
                return signed[0]
            statuses = StatusList(STATUS_LIST_SIZE)
            for index, status in self._store.status_entries():
                statuses.set(index, status)
            token = sign_status_list(
                statuses,
                self._status_key(),
                self.region,
                uri,
                now,
                ttl=self.status_ttl_s,
            )
            self._signed[uri] = (token, now)
            return token

    # --- sharing ----------------------------------------------------------------------
    def summaries(self, holder_code: str) -> list[LicenceSummary]:
        return self._summaries(self._store.licences_of_holder(holder_code))

    def summaries_now(self, holder_code: str) -> list[LicenceSummary] | None:
        """`summaries` if the store can read them without waiting (an event loop may then
        answer without a thread hop); None, having read nothing, when it would wait."""
        records = self._store.licences_of_holder_now(holder_code)
        return None if records is None else self._summaries(records)

    def _summaries(self, records: list[LicenceRecord]) -> list[LicenceSummary]:
        out = []
        for record in records:
            payload = json.loads(_payload_of(record.sd_jwt))
            out.append(
                LicenceSummary(
                    identifier=record.identifier,
                    type_code=record.type_code,
                    licence_name=str(payload.get("licence_name", "")),
                    issuing_region=self.region.code,
                    authority_name=str(payload.get("iss_name", "")),
                    valid_until=str(payload.get("valid_until") or ""),
                    status=LicenceStatus(record.status).name.lower(),
                )
            )
        return out

    def read_for_item(
        self,
        identifier: str,
        requesting_region: Region,
        service_item: str,
        purpose: str,
        consent: TokenClaims,
        policy: ExchangePolicy,
        seal_keys: RegionKeyResolver,
    ) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
        """Fields of a licence that `service_item` needs, for a consented cross-region read.

        Returns (granted fields, withheld field names, the audit detail of the decision).
        """
        record = self.get(identifier)
        if consent.subject != record.holder_code and consent.subject not in record.parties:
            raise PermissionDenied(
                "the consent token is not the licence holder's (nor its legal "
                "representative's); only they can consent"
            )
        decision = policy.decide(requesting_region, record.type_code, service_item, purpose)
        detail = decision.audit_detail() | {
            "identifier": identifier,
            "type_code": record.type_code,
            "holder_code": record.holder_code,
            "consent_jti": consent.jti,
        }
        if not decision.granted:
            raise PermissionDenied(decision.reason)
        if record.status != LicenceStatus.VALID:
            raise PermissionDenied(
                f"licence is {LicenceStatus(record.status).name.lower()}; it cannot be shared"
            )
        licence = verify_sealed(record.sd_jwt, seal_keys, self._clock.now()).licence
        claims: dict[str, Any] = {
            "holder_name": licence.holder_name,
            "holder_code": licence.holder_code,
            "number": licence.number,
            **licence.fields,
        }
        granted = {k: v for k, v in claims.items() if k in decision.fields}
        withheld = sorted(k for k in claims if k not in decision.fields)
        return granted, withheld, detail


def _payload_of(sd_jwt: str) -> bytes:
    from federation.crypto.jose import b64url_decode

    return b64url_decode(sd_jwt.split("~", 1)[0].split(".")[1])


__all__ = [
    "MAX_REQUEST_ID",
    "STATUS_LIST_SIZE",
    "IssueRequest",
    "LicenceRegistry",
    "LicenceSummary",
    "region_of_status_uri",
    "status_list_uri",
]
