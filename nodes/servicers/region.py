"""A region's licence, case and catalogue services, built from its runtime and wired together."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from federation.cases.archive import build_archive, seal_archive
from federation.cases.catalogue import CatalogueItem, starter_catalogue
from federation.cases.desk import CaseDesk
from federation.cases.stats import region_stats
from federation.cases.workdays import add_working_days
from federation.crypto.jose import Jwk, parse_compact, verify_compact
from federation.errors import PermissionDenied, Unauthenticated
from federation.identity.provider import FaceCheckResult
from federation.identity.tokens import TokenVerifier
from federation.licences import (
    ElectronicSeal,
    ExchangePolicy,
    LicenceStatus,
    default_policy,
    get_licence_type,
)
from federation.licences.registry import IssueRequest, LicenceRegistry
from federation.licences.seal import verify_sealed
from federation.regions import Region
from federation.storage.base import CaseRecord
from nodes.errors import error_from_rpc
from nodes.pb.v1 import case_pb2, case_pb2_grpc, licence_pb2, licence_pb2_grpc
from nodes.peering.channels import AioPeerChannels
from nodes.peering.status_cache import StatusListCache
from nodes.server.runtime import NodeRuntime
from nodes.servicers.authorities import AuthorityRegistry
from nodes.servicers.case import CaseServicer
from nodes.servicers.case_materials import MaterialFetcher
from nodes.servicers.case_watch import CaseChanges
from nodes.servicers.catalogue_view import CatalogueView
from nodes.servicers.licence import LicenceServicer

log = logging.getLogger("yrd.region")
FACE_ASSERTION_TYP = "face-assertion+jwt"


class RegionServices:
    """Everything a province serves beyond identity: licences, exchange, cases, catalogue."""

    def __init__(
        self,
        rt: NodeRuntime,
        verifier: TokenVerifier,
        face_check: Callable[[str, Sequence[float]], FaceCheckResult],
    ) -> None:
        self.rt = rt
        self.verifier = verifier
        self.authorities = AuthorityRegistry.load(rt.config.node_dir)
        self.registry = LicenceRegistry(
            region=rt.region,
            store=rt.store,
            seal_for=self._seal_for,
            status_key=rt.signing_key,
            clock=rt.clock,
            status_ttl_s=rt.config.status_list_ttl_s,
        )
        self.status_cache = StatusListCache(self._fetch_status_list, self.status_keys, rt.clock)
        self.catalogue = CatalogueView(
            self.hub_key, rt.config.node_dir / "catalogue-cache.jwt", rt.clock
        )
        self.catalogue.load_cache()
        self.catalogue.refresher = self.refresh_catalogue
        self.changes = CaseChanges()
        self.aio_peers = AioPeerChannels(rt.tls, rt.trust.current)
        self.licences = LicenceServicer(
            rt, self.registry, verifier, self.status_cache, self.policy, self.licence_stub
        )
        fetcher = MaterialFetcher(
            rt,
            self.registry,
            self.catalogue.current,
            self.seal_keys,
            self.status_cache.get,
            self.licence_stub,
        )
        self.desk = CaseDesk(
            region_code=rt.region.code,
            store=rt.store,
            item_of=self.catalogue.item,
            verify_token=lambda token, level: verifier.verify(token, level, rt.clock.now()),
            verify_face=self.verify_face_assertion,
            fetch_material=fetcher,
            issue_result=self.issue_result,
            audit=lambda actor, action, outcome, subject, detail: rt.audit(
                actor, action, outcome, subject, detail
            ),
            clock=rt.clock,
            working_days=add_working_days,
            on_event=self.changes.changed,
        )
        self.cases = CaseServicer(
            rt,
            self.desk,
            self.catalogue.item,
            self.case_stub,
            lambda subject, template: face_check(subject, template),
            self.export,
            self.stats,
            self.changes,
            self.aio_case_stub,
        )

    # --- keys from the trust list ------------------------------------------------------
    def seal_keys(self, region_code: str, kid: str) -> Jwk:
        member = self.rt.trust_list().member_by_region(region_code)
        return member.key(kid, self.rt.clock.now(), use="seal")

    def status_keys(self, region_code: str, kid: str) -> Jwk:
        member = self.rt.trust_list().member_by_region(region_code)
        return member.key(kid, self.rt.clock.now(), use="sig")

    def hub_key(self, kid: str) -> Jwk:
        hub = self.rt.trust_list().member_by_region(Region.HUB.code, role="hub")
        return hub.key(kid, self.rt.clock.now(), use="sig")

    def _seal_for(self, authority_code: str, type_code: str) -> ElectronicSeal:
        if authority_code:
            return self.authorities.for_issue(authority_code, type_code).seal
        return self.authorities.default_for(type_code).seal

    def policy(self) -> ExchangePolicy:
        # the starter policy only while no catalogue exists; anything broken fails closed
        return self.catalogue.exchange_policy(default_policy)

    # --- peers -------------------------------------------------------------------------
    def licence_stub(self, region: Region) -> licence_pb2_grpc.LicenceServiceStub:
        return licence_pb2_grpc.LicenceServiceStub(self.rt.peers.channel(region.entity_id))

    def case_stub(self, region: Region) -> case_pb2_grpc.CaseServiceStub:
        return case_pb2_grpc.CaseServiceStub(self.rt.peers.channel(region.entity_id))

    def aio_case_stub(self, region: Region) -> case_pb2_grpc.CaseServiceStub:
        """A stub on an aio channel: only for calls made from the event loop."""
        return case_pb2_grpc.CaseServiceStub(self.aio_peers.channel(region.entity_id))

    def _fetch_status_list(self, region: Region, uri: str) -> str:
        try:
            reply = self.licence_stub(region).GetStatusList(
                licence_pb2.GetStatusListRequest(uri=uri), timeout=self.rt.config.peer_timeout_s
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, f"status list of {region.short}") from None
        return str(reply.token)

    def _catalogue_stub(self) -> case_pb2_grpc.CatalogueServiceStub:
        return case_pb2_grpc.CatalogueServiceStub(self.rt.peers.channel(self.rt.hub_entity()))

    def publish_own_items(self) -> None:
        """Publish this region's starter items into the hub's catalogue (idempotent)."""
        items = starter_catalogue().items_of(self.rt.region.code)
        reply = self._catalogue_stub().PublishItems(
            case_pb2.PublishItemsRequest(items_json=json.dumps([i.to_dict() for i in items])),
            timeout=self.rt.config.peer_timeout_s,
        )
        self.catalogue.offer(reply.signed_catalogue)

    def refresh_catalogue(self) -> None:
        try:
            reply = self._catalogue_stub().GetCatalogue(
                case_pb2.GetCatalogueRequest(), timeout=self.rt.config.peer_timeout_s
            )
            self.catalogue.offer(reply.signed_catalogue)
        except Exception as exc:  # keep serving on the cached catalogue
            log.warning("catalogue refresh failed: %s", exc)

    # --- case callbacks -----------------------------------------------------------------
    def verify_face_assertion(self, assertion: str, subject: str, window_region: str) -> float:
        parsed = parse_compact(assertion)
        if parsed.header.get("typ") != FACE_ASSERTION_TYP:
            raise Unauthenticated("the face assertion is not a hub face-verification result")
        claims = verify_compact(assertion, self.hub_key).payload()
        now = self.rt.clock.now()
        if claims.get("sub") != subject:
            raise PermissionDenied("the face assertion is about another person")
        if claims.get("aud") != window_region:
            raise PermissionDenied(
                f"the face assertion was made for region {claims.get('aud')}, "
                f"not the window's region {window_region}"
            )
        if not isinstance(claims.get("exp"), int) or now > claims["exp"]:
            raise Unauthenticated("the face assertion expired; verify the face again")
        if claims.get("match") is not True:
            raise PermissionDenied("the hub did not match the applicant's face")
        return float(claims.get("score", 0.0))

    def issue_result(self, case: CaseRecord, item: CatalogueItem) -> str:
        """Issue the result licence: the current licence's fields overlaid by the request."""
        assert item.result_licence_type is not None
        licence_type = get_licence_type(item.result_licence_type)
        data = dict(case.data)
        base: dict[str, Any] = {}
        holder_name = str(data.get("applicant_name", ""))
        holder_code = str(data.get("on_behalf_of") or case.applicant_id)
        for material in data.get("materials", []):
            if material.get("licence_type") != licence_type.key:
                continue
            base = dict(material.get("fields", {}))
            if material.get("owner_region") == self.rt.region.code:
                # held here: the registration authority reads its own register in full
                record = self.registry.get(material["identifier"])
                full = verify_sealed(record.sd_jwt, self.seal_keys, self.rt.clock.now()).licence
                base = {**full.fields, "holder_name": full.holder_name}
            holder_name = str(base.pop("holder_name", holder_name))
            for personal in ("holder_code", "number"):
                base.pop(personal, None)
        fields = {k: v for k, v in base.items() if k in licence_type.field_names}
        requested = dict(data.get("requested", {}))
        fields.update({k: v for k, v in requested.items() if k in licence_type.field_names})
        record, created = self.registry.issue(
            IssueRequest(
                request_id=f"{case.case_id}-result",
                licence_type=licence_type.key,
                holder_code=holder_code,
                holder_name=holder_name,
                fields=fields,
            )
        )
        if created:
            for material in data.get("materials", []):
                # the changed registration supersedes the licence it was made from
                if (
                    material.get("licence_type") == licence_type.key
                    and material.get("owner_region") == self.rt.region.code
                ):
                    self.registry.change_status(material["identifier"], LicenceStatus.REVOKED)
        return record.identifier

    def export(self, case: CaseRecord) -> str:
        events = self.rt.store.case_events(case.case_id)
        rating = next((r for r in self.rt.store.case_ratings() if r.case_id == case.case_id), None)
        audit = [
            {"seq": e.seq, "hash": e.hash, "action": e.action, "outcome": e.outcome}
            for e in self.rt.store.audit_entries()
            if e.detail.get("case_id") == case.case_id
        ]
        materials = [
            {k: m.get(k) for k in ("licence_type", "identifier", "owner_region", "via")}
            for m in case.data.get("materials", [])
        ]
        archive = build_archive(case, events, rating, materials, audit)
        item = self.catalogue.current().get(case.item_code)
        type_code = get_licence_type(
            item.result_licence_type or item.required_licences[0].licence_type
        ).code
        return seal_archive(
            archive, self.authorities.default_for(type_code).seal, self.rt.clock.now()
        )

    def stats(self) -> dict[str, Any]:
        store = self.rt.store
        cases = store.list_cases(owner_region=self.rt.region.code)
        events = {c.case_id: store.case_events(c.case_id) for c in cases}
        return region_stats(cases, events, store.case_ratings(), self.rt.clock.now())
