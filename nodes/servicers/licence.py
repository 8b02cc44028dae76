"""LicenceService: thin adapters from gRPC to the licence registry, verifier and exchange."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from federation.audit import AUDIT_UNAVAILABLE, AuditDraft
from federation.crypto.jose import Jwk
from federation.errors import (
    FederationError,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from federation.identity.assurance import Assurance
from federation.identity.tokens import TokenClaims, TokenVerifier
from federation.licences import (
    DEFAULT_CHALLENGE_TTL_S,
    DEFAULT_MAX_AGE_S,
    ExchangePolicy,
    LicenceStatus,
    check_challenge,
    check_issuer_listed,
    issue_challenge,
    judge_licence,
    verify_licence,
    verify_presentation,
)
from federation.licences.registry import IssueRequest, LicenceRegistry
from federation.licences.status import VerifiedStatusList
from federation.regions import PROVINCES, Region, parse_region
from federation.trust.keys import public_urls
from federation.trust.trustlist import UnknownKey
from nodes.convert import document_to_proto, json_object, summary_to_proto, verdict_to_proto
from nodes.convert.licences import challenge_to_proto
from nodes.errors import error_from_rpc
from nodes.pb.v1 import licence_pb2, licence_pb2_grpc
from nodes.peering.status_cache import StatusListCache
from nodes.server.interceptors import caller
from nodes.server.runtime import NodeRuntime

log = logging.getLogger("yrd.node")

SERVICE = "/yrd.federation.v1.LicenceService/"
OPERATOR = frozenset({"operator"})
REGION = frozenset({"region"})
ROLES = {
    SERVICE + "IssueLicence": OPERATOR,
    SERVICE + "GetLicence": OPERATOR,
    SERVICE + "RevokeLicence": OPERATOR,
    SERVICE + "SuspendLicence": OPERATOR,
    SERVICE + "ReinstateLicence": OPERATOR,
    SERVICE + "VerifyLicence": frozenset({"operator", "region"}),
    SERVICE + "ListHolderLicences": OPERATOR,
    SERVICE + "ListLocalLicences": REGION,
    SERVICE + "ReadLicence": REGION,
    SERVICE + "FetchRemoteLicence": OPERATOR,
    SERVICE + "VerifyPresentation": frozenset({"operator", "region"}),
    SERVICE + "IssueChallenge": frozenset({"operator", "region"}),
}
DEFAULT_FANOUT_MS = 1500
STORE_WRITERS = 4
"""Threads that run the coroutine servicers' store reads and audited commits (off the loop)."""


class _StatusNotCached(Exception):
    """A status list must be fetched first: the verification moves off the event loop."""


def _consumed_later(nonce: str) -> bool:
    """Defer the nonce: VerifyPresentation stores it together with the verdict's audit entry."""
    return True


class LicenceServicer(licence_pb2_grpc.LicenceServiceServicer):
    def __init__(
        self,
        runtime: NodeRuntime,
        registry: LicenceRegistry,
        verifier: TokenVerifier,
        status_cache: StatusListCache,
        policy: Callable[[], ExchangePolicy],
        stub: Callable[[Region], licence_pb2_grpc.LicenceServiceStub],
        aio_stub: Callable[[Region], licence_pb2_grpc.LicenceServiceStub],
    ) -> None:
        self._rt = runtime
        self._registry = registry
        self._tokens = verifier
        self._status = status_cache
        self._policy = policy
        self._stub = stub
        self._aio_stub = aio_stub  # on the event loop: the aggregation's fan-out
        # the coroutines' store work: a slow commit holds one of these, never the loop
        self._store_pool = ThreadPoolExecutor(STORE_WRITERS, thread_name_prefix="licence-store")
        # MACs this node's challenges; a restart only invalidates challenges of minutes
        self._challenge_secret = secrets.token_bytes(32)
        # region code -> listed public URL: an https `iss` must be on its region's
        self._public_urls = public_urls(runtime.trust_list)

    def close(self) -> None:
        """Wait for the store work running or queued here (idempotent): each write commits
        before the node closes its store. Call after the server stopped taking calls."""
        self._store_pool.shutdown(wait=True)

    # --- trust-list key resolvers -----------------------------------------------------
    def seal_keys(self, region_code: str, kid: str) -> Jwk:
        return self._rt.seal_keys(region_code, kid)

    # --- issuing region ---------------------------------------------------------------
    def IssueLicence(
        self, request: licence_pb2.IssueLicenceRequest, context: grpc.ServicerContext
    ) -> licence_pb2.LicenceDocument:
        issue = IssueRequest(
            request_id=request.request_id,
            licence_type=request.licence_type,
            holder_code=request.holder_code,
            holder_name=request.holder_name,
            authority_code=request.authority_code,
            number=request.number,
            issue_date=request.issue_date,
            valid_from=request.valid_from,
            valid_until=request.valid_until,
            fields=json_object(request.fields_json, "fields_json"),
            holder_jwk=json_object(request.holder_jwk_json, "holder_jwk_json"),
        )
        asking = caller().entity_id
        # a new licence commits with its audit entry; a retry is audited before it is answered
        record, created = self._registry.issue(issue, actor=asking)
        if not created:
            self._rt.audit(
                asking,
                "licence.issue",
                "retry",
                record.holder_code,
                {"identifier": record.identifier, "request_id": record.request_id},
            )
        return document_to_proto(record, self._registry.status_uri_of(record), created)

    def GetLicence(
        self, request: licence_pb2.GetLicenceRequest, context: grpc.ServicerContext
    ) -> licence_pb2.LicenceDocument:
        record = self._registry.get(request.identifier)
        return document_to_proto(record, self._registry.status_uri_of(record))

    def _change(
        self, request: licence_pb2.ChangeLicenceStatusRequest, target: LicenceStatus
    ) -> Any:
        record = self._registry.change_status(request.identifier, target)
        self._rt.audit(
            caller().entity_id,
            f"licence.{target.name.lower()}",
            "granted",
            record.holder_code,
            {"identifier": record.identifier, "reason": request.reason},
        )
        return document_to_proto(record, self._registry.status_uri_of(record))

    def RevokeLicence(
        self, request: licence_pb2.ChangeLicenceStatusRequest, context: grpc.ServicerContext
    ) -> licence_pb2.LicenceDocument:
        return self._change(request, LicenceStatus.REVOKED)  # type: ignore[no-any-return]

    def SuspendLicence(
        self, request: licence_pb2.ChangeLicenceStatusRequest, context: grpc.ServicerContext
    ) -> licence_pb2.LicenceDocument:
        return self._change(request, LicenceStatus.SUSPENDED)  # type: ignore[no-any-return]

    def ReinstateLicence(
        self, request: licence_pb2.ChangeLicenceStatusRequest, context: grpc.ServicerContext
    ) -> licence_pb2.LicenceDocument:
        return self._change(request, LicenceStatus.VALID)  # type: ignore[no-any-return]

    def GetStatusList(
        self, request: licence_pb2.GetStatusListRequest, context: grpc.ServicerContext
    ) -> licence_pb2.GetStatusListResponse:
        # the list under the uri asked for: licences sealed before the public endpoint name it
        # by its legacy uri, and a verifier matches the list's `sub` with its licence's uri
        token = self._registry.signed_status_list(request.uri)
        return licence_pb2.GetStatusListResponse(token=token)

    # --- any region -------------------------------------------------------------------
    def _cached_status(self, uri: str) -> VerifiedStatusList:
        status = self._status.cached(uri)
        if status is None:
            raise _StatusNotCached(uri)
        return status

    async def VerifyLicence(
        self, request: licence_pb2.VerifyLicenceRequest, context: grpc.aio.ServicerContext
    ) -> licence_pb2.LicenceVerdict:
        """A coroutine: seal and certificate checks run on the loop with cached keys and status
        lists (as VerifyToken's do); a status list to fetch moves the check off the loop, and
        the audit entry commits on the store pool before the verdict is answered."""
        if not request.sd_jwt:
            raise InvalidArgument("sd_jwt is required")
        asking = caller().entity_id
        now = self._rt.clock.now()
        loop = asyncio.get_running_loop()
        try:
            verdict = verify_licence(
                request.sd_jwt,
                self.seal_keys,
                self._cached_status,
                now,
                public_urls=self._public_urls,
            )
        except _StatusNotCached:  # first use of an issuer's list, or its TTL ran out
            verdict = await loop.run_in_executor(
                None,
                functools.partial(
                    verify_licence,
                    request.sd_jwt,
                    self.seal_keys,
                    self._status.get,
                    now,
                    public_urls=self._public_urls,
                ),
            )
        entry = (
            asking,
            "licence.verify",
            verdict.verdict.value,
            "",
            {"identifier": verdict.identifier, "reasons": list(verdict.reasons)[:3]},
        )
        # recorded before the verdict leaves: here if the store need not wait, else off the loop
        if not self._rt.audit_now(*entry):
            await loop.run_in_executor(self._store_pool, self._rt.audit, *entry)
        return verdict_to_proto(verdict)

    def VerifyPresentation(
        self, request: licence_pb2.VerifyPresentationRequest, context: grpc.ServicerContext
    ) -> licence_pb2.VerifyPresentationResponse:
        if not request.presentation:
            raise InvalidArgument("presentation is required")
        rt = self._rt
        now = rt.clock.now()
        audience = rt.entity_id

        expected = request.expected_nonce or None
        expires = now + DEFAULT_MAX_AGE_S + 120
        if expected is not None:
            challenge = check_challenge(self._challenge_secret, audience, expected, now)
            expires = max(expires, challenge.expires_at + 120)
        # the nonce is consumed below, in one transaction with the audit entry of the verdict
        result = verify_presentation(
            request.presentation,
            self.seal_keys,
            audience,
            _consumed_later,
            now,
            expected_nonce=expected,
        )
        check_issuer_listed(result.metadata, self._public_urls)
        status = None
        if result.metadata.status is not None:
            status = self._status.get(result.metadata.status.uri)
        verdict = judge_licence(result.metadata, status, now)
        entry = rt.draft(
            caller().entity_id,
            "licence.verify_presentation",
            verdict.verdict.value,
            "",
            {
                "identifier": result.identifier,
                "disclosed": sorted(result.disclosed),
                "challenge": expected is not None,
            },
        )
        if not rt.store.remember_jti(
            f"presentation:{audience}", result.nonce, expires, now, audit=entry
        ):
            raise Unauthenticated(
                f"nonce {result.nonce!r} was already used here: replayed presentation"
            )
        return licence_pb2.VerifyPresentationResponse(
            verdict=verdict_to_proto(verdict),
            disclosed_json=json.dumps(dict(result.disclosed), ensure_ascii=False),
            nonce=result.nonce,
            presented_at=result.presented_at,
        )

    def IssueChallenge(
        self, request: licence_pb2.IssueChallengeRequest, context: grpc.ServicerContext
    ) -> licence_pb2.IssueChallengeResponse:
        """A nonce for the next presentation here; answered once, via the replay table."""
        challenge = issue_challenge(
            self._challenge_secret,
            self._rt.entity_id,
            self._rt.clock.now(),
            request.ttl_s or DEFAULT_CHALLENGE_TTL_S,
        )
        return challenge_to_proto(challenge)

    # --- aggregation (归集) -------------------------------------------------------------
    async def _checked(self, token: str, now: float, audience: str | None = None) -> TokenClaims:
        """The CPU half of a token check on the loop; off it only to refresh the trust list."""
        try:
            return self._tokens.check(token, Assurance.LOW, now, audience, refresh=False)
        except UnknownKey:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                None, functools.partial(self._tokens.check, token, Assurance.LOW, now, audience)
            )

    async def ListHolderLicences(
        self, request: licence_pb2.ListHolderLicencesRequest, context: grpc.aio.ServicerContext
    ) -> licence_pb2.ListHolderLicencesResponse:
        """A coroutine: the three remote legs run concurrently on the loop's own channels.

        The token is checked (signature, audience, times, home) before any peer is asked; its
        revocation and single use are committed together with the audit entry of the answer,
        after the fan-out and before anything is returned, so a replayed or revoked token gets
        nothing (each peer also refuses a token it has seen from us, and a revoked session).
        That commit runs on the loop when it waits for nothing (TokenVerifier.accept_now).
        """
        asking = caller().entity_id
        claims = await self._checked(request.token, self._rt.clock.now())
        deadline = (request.deadline_ms or DEFAULT_FANOUT_MS) / 1000.0
        if not 0 < deadline <= 30:
            raise InvalidArgument("deadline_ms must be 1..30000")
        # the holder's own token goes along: each answering region checks it was meant for us
        ask = licence_pb2.ListLocalLicencesRequest(holder_code=claims.subject, token=request.token)
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        # the local listing: read here when the store need not wait (a local read costs less
        # than the thread hop), else on the store pool while the three legs are out
        local = self._registry.summaries_now(claims.subject)
        listing = None
        if local is None:
            listing = loop.run_in_executor(
                self._store_pool, self._registry.summaries, claims.subject
            )
        remote = await asyncio.gather(
            *(
                self._remote_result(region, ask, deadline, started)
                for region in PROVINCES
                if region is not self._rt.region
            )
        )
        if listing is not None:
            local = await listing
        results = [self._local_result(local or [], started), *remote]
        audit = functools.partial(
            self._aggregate_entry, asking, [r.region for r in results if r.ok]
        )
        # the replay row with the audit entry of the answer, committed before it leaves
        if self._tokens.accept_now(claims, audit) is None:
            await loop.run_in_executor(self._store_pool, self._tokens.accept, claims, audit)
        return licence_pb2.ListHolderLicencesResponse(holder_code=claims.subject, regions=results)

    def _aggregate_entry(self, asking: str, regions_ok: list[str], claims: TokenClaims) -> Any:
        return self._rt.draft(
            asking,
            "licence.aggregate",
            "granted",
            claims.subject,
            {"regions_ok": regions_ok, "jti": claims.jti},
        )

    def _local_result(self, summaries: list[Any], started: float) -> licence_pb2.RegionResult:
        return licence_pb2.RegionResult(
            region=self._rt.region.code,
            ok=True,
            licences=[summary_to_proto(s) for s in summaries],
            elapsed_ms=(time.monotonic() - started) * 1000,
        )

    async def _remote_result(
        self,
        region: Region,
        ask: licence_pb2.ListLocalLicencesRequest,
        deadline: float,
        started: float,
    ) -> licence_pb2.RegionResult:
        try:
            stub = self._aio_stub(region)
        except FederationError as exc:
            return licence_pb2.RegionResult(region=region.code, ok=False, error=exc.message)
        try:
            # wait_for_ready: a peer whose channel is still connecting is waited for within
            # the deadline instead of failing at once (a peer really down still times out)
            reply = await stub.ListLocalLicences(ask, timeout=deadline, wait_for_ready=True)
        except grpc.RpcError as exc:
            err = error_from_rpc(exc, region.short)
            return licence_pb2.RegionResult(
                region=region.code,
                ok=False,
                error=f"{err.code_name}: {err.message}",
                elapsed_ms=(time.monotonic() - started) * 1000,
            )
        return licence_pb2.RegionResult(
            region=region.code,
            ok=True,
            licences=list(reply.licences),
            elapsed_ms=(time.monotonic() - started) * 1000,
        )

    async def ListLocalLicences(
        self, request: licence_pb2.ListLocalLicencesRequest, context: grpc.aio.ServicerContext
    ) -> licence_pb2.ListLocalLicencesResponse:
        """A coroutine: the token check on the loop; the listing, the (caller, jti) replay row
        and the audit entry of the grant, the last two in one commit, on the loop when the
        store need not wait for them, else on the store pool."""
        asking = caller().entity_id
        loop = asyncio.get_running_loop()
        try:
            if not request.holder_code:
                raise InvalidArgument("holder_code is required")
            if not request.token:
                raise Unauthenticated("the holder's token is required to list their licences")
            # forwarded by the aggregating region: meant for the caller, not for us, and
            # single-use per (caller, jti) here
            claims = await self._checked(request.token, self._rt.clock.now(), audience=asking)
            if claims.subject != request.holder_code:
                raise PermissionDenied(
                    "the token is not the listed holder's; list only its subject"
                )
            summaries = self._list_and_accept_now(claims, asking)
            if summaries is None:  # the store would wait: read and commit on the pool
                summaries = await loop.run_in_executor(
                    self._store_pool, self._list_and_accept, claims, asking
                )
        except FederationError as exc:
            await loop.run_in_executor(
                self._store_pool,
                functools.partial(
                    self._rt.audit,
                    asking,
                    "licence.list_local",
                    f"refused:{exc.code_name}",
                    request.holder_code[:64],
                    {"reason": exc.message},
                ),
            )
            raise
        return licence_pb2.ListLocalLicencesResponse(
            licences=[summary_to_proto(s) for s in summaries]
        )

    def _list_and_accept(self, claims: TokenClaims, asking: str) -> list[Any]:
        """Read the holder's summaries, then commit the replay row of the token `asking`
        forwarded (meant for it) together with the audit entry of the grant."""
        summaries = list(self._registry.summaries(claims.subject))
        self._tokens.accept(claims, self._listed_entry(asking, summaries), audience=asking)
        return summaries

    def _list_and_accept_now(self, claims: TokenClaims, asking: str) -> list[Any] | None:
        """`_list_and_accept` on the loop when the store waits for neither the read nor the
        commit (SQLite, connection free): one leg of an aggregation then costs no thread hop.
        None, with nothing recorded, when either would wait; a refusal raises as there."""
        summaries = self._registry.summaries_now(claims.subject)
        if summaries is None:
            return None
        entry = self._listed_entry(asking, summaries)
        if self._tokens.accept_now(claims, entry, audience=asking) is None:
            return None
        return summaries

    def _listed_entry(self, asking: str, summaries: list[Any]) -> Callable[[TokenClaims], Any]:
        return lambda c: self._rt.draft(
            asking,
            "licence.list_local",
            "granted",
            c.subject,
            {"iss": c.issuer, "jti": c.jti, "count": len(summaries)},
        )

    # --- exchange ---------------------------------------------------------------------
    def ReadLicence(
        self, request: licence_pb2.ReadLicenceRequest, context: grpc.ServicerContext
    ) -> licence_pb2.ReadLicenceResponse:
        """A consented read: the consent token is used up by any attempt that passes its check.

        The read is decided first; then the token's replay row and the audit entry of the
        decision (grant or refusal) commit in one transaction. A revoked session or replayed
        token is refused (and audited) ahead of the decision, as if checked first.
        """
        asking = caller()
        requesting = parse_region(asking.region_code)
        base: dict[str, Any] = {
            "identifier": request.identifier,
            "service_item": request.service_item,
            "purpose": request.purpose,
        }
        detail = base
        refusal: FederationError | None = None
        try:
            if not request.consent_token:
                raise PermissionDenied("no consent: the holder's token for this region is required")
            consent = self._tokens.check(
                request.consent_token, Assurance.LOW, self._rt.clock.now()
            )
            try:
                fields, withheld, detail = self._registry.read_for_item(
                    request.identifier,
                    requesting,
                    request.service_item,
                    request.purpose,
                    consent,
                    self._policy(),
                    self.seal_keys,
                )
            except FederationError as exc:
                refusal = exc
            # the replay row with the audit entry of the decision, in one commit
            entry = self._read_entry(asking.entity_id, consent.subject, detail, refusal)
            try:
                self._tokens.accept(consent, lambda _: entry)
            except FederationError:
                raise
            except Exception as exc:
                if refusal is not None:
                    log.critical("refused exchange.read could not be recorded: %s", exc)
                    raise refusal from None
                log.critical("AUDIT LOG NOT WRITABLE; refusing exchange.read: %s", exc)
                raise Unavailable(AUDIT_UNAVAILABLE) from exc
        except FederationError as exc:
            if exc is not refusal:  # a refusal decided above is audited with the replay row
                self._rt.audit_refusal(
                    asking.entity_id,
                    "exchange.read",
                    f"refused:{exc.code_name}",
                    "",
                    base | {"reason": exc.message},
                )
            raise
        if refusal is not None:
            raise refusal
        return licence_pb2.ReadLicenceResponse(
            identifier=request.identifier,
            type_code=str(detail["type_code"]),
            fields_json=json.dumps(fields, ensure_ascii=False),
            withheld=withheld,
            owner_region=self._rt.region.code,
        )

    def _read_entry(
        self, actor: str, subject: str, detail: dict[str, Any], refusal: FederationError | None
    ) -> AuditDraft:
        if refusal is None:
            return self._rt.draft(actor, "exchange.read", "granted", subject, detail)
        return self._rt.draft(
            actor,
            "exchange.read",
            f"refused:{refusal.code_name}",
            "",
            detail | {"reason": refusal.message},
        )

    def FetchRemoteLicence(
        self, request: licence_pb2.FetchRemoteLicenceRequest, context: grpc.ServicerContext
    ) -> licence_pb2.ReadLicenceResponse:
        owner = parse_region(request.owner_region)
        if not owner.is_province:
            raise InvalidArgument("owner_region must be a province")
        if owner is self._rt.region:
            raise InvalidArgument("the licence is held here; no cross-region read is needed")
        try:
            reply = self._stub(owner).ReadLicence(
                request.read, timeout=self._rt.config.peer_timeout_s
            )
        except grpc.RpcError as exc:
            err = error_from_rpc(exc, f"owner region {owner.short}")
            self._rt.audit_refusal(
                caller().entity_id,
                "exchange.fetch",
                f"refused:{err.code_name}",
                "",
                {"owner": owner.code, "identifier": request.read.identifier},
            )
            raise err from None
        self._rt.audit(
            caller().entity_id,
            "exchange.fetch",
            "granted",
            "",
            {
                "owner": owner.code,
                "identifier": request.read.identifier,
                "service_item": request.read.service_item,
            },
        )
        return reply  # type: ignore[no-any-return]
