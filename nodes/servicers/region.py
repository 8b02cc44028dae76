"""A region's licence, case and catalogue services, built from its runtime and wired together."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from federation.cases.archive import collect_archive, seal_archive
from federation.cases.catalogue import starter_catalogue
from federation.cases.departments import sealing_department
from federation.cases.desk import CaseDesk
from federation.cases.face_assertion import verify_face_assertion
from federation.cases.results import ResultIssuer
from federation.cases.stats import region_stats
from federation.cases.workdays import add_working_days
from federation.errors import FederationError
from federation.identity.provider import FaceCheckResult
from federation.identity.tokens import TokenVerifier
from federation.licences import ElectronicSeal, ExchangePolicy, default_policy
from federation.licences.registry import LicenceRegistry
from federation.regions import Region
from federation.storage.base import CaseRecord
from federation.trust.keys import HubKeys, RegionKeys, public_urls
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
            public_url=self.listed_public_url,
        )
        metrics = rt.observability.metrics
        self.status_cache = StatusListCache(
            self._fetch_status_list,
            self.status_keys,
            rt.clock,
            public_urls(rt.trust_list),
            metrics.status_list_lookup if metrics is not None else None,
        )
        self.catalogue = CatalogueView(
            self.hub_key, rt.config.node_dir / "catalogue-cache.jwt", rt.clock
        )
        self.catalogue.load_cache()
        self.catalogue.refresher = self.refresh_catalogue
        self.changes = CaseChanges()
        # region -> (its aio channel, a licence stub on it); used on the loop only, no lock
        self._aio_licence_stubs: dict[
            Region, tuple[grpc.aio.Channel, licence_pb2_grpc.LicenceServiceStub]
        ] = {}
        self.aio_peers = AioPeerChannels(
            rt.tls,
            rt.trust.current,
            rt.observability.aio_peer_interceptors,
            overrides=rt.config.peer_endpoints,
        )
        self.licences = LicenceServicer(
            rt,
            self.registry,
            verifier,
            self.status_cache,
            self.policy,
            self.licence_stub,
            self.aio_licence_stub,
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
            issue_result=ResultIssuer(rt.region.code, self.registry, rt.seal_keys, rt.clock),
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
            self.catalogue.item_now,
        )

    def close_pools(self) -> None:
        """Wait for the licence and case servicers' store work (see `Node.stop`)."""
        self.licences.close()
        self.cases.close()

    def listed_public_url(self) -> str:
        """This region's public HTTPS base as the trust list lists it ("" if none, or no list
        yet): what its new licences name, so verifiers can map it back through the same list."""
        try:
            return self.rt.trust_list().member(self.rt.entity_id).public_url
        except FederationError:
            return ""

    # --- keys from the trust list (one resolver each, shared through the runtime) --------
    @property
    def seal_keys(self) -> RegionKeys:
        return self.rt.seal_keys

    @property
    def status_keys(self) -> RegionKeys:
        return self.rt.status_keys

    @property
    def hub_key(self) -> HubKeys:
        return self.rt.hub_key

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

    def aio_licence_stub(self, region: Region) -> licence_pb2_grpc.LicenceServiceStub:
        """A stub on an aio channel: only for calls made from the event loop.

        Kept per channel: building one costs ~50 us (a multicallable per method), and each
        aggregation asks for three; a channel the trust list moved gets a new stub.
        """
        channel = self.aio_peers.channel(region.entity_id)
        known = self._aio_licence_stubs.get(region)
        if known is None or known[0] is not channel:
            known = (channel, licence_pb2_grpc.LicenceServiceStub(channel))
            self._aio_licence_stubs[region] = known
        return known[1]

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
        return verify_face_assertion(
            assertion, subject, window_region, self.hub_key, self.rt.clock.now()
        )

    def export(self, case: CaseRecord) -> str:
        """The sealed archive, sealed by the authority of the item's own department."""
        item = self.catalogue.current().get(case.item_code)
        department = sealing_department(item.code, item.department)
        authority = self.authorities.for_department(department, self.rt.region.code)
        archive = collect_archive(case, self.rt.store)
        return seal_archive(archive, authority.seal, self.rt.clock.now())

    def stats(self) -> dict[str, Any]:
        store = self.rt.store
        cases = store.list_cases(owner_region=self.rt.region.code)
        events = {c.case_id: store.case_events(c.case_id) for c in cases}
        return region_stats(cases, events, store.case_ratings(), self.rt.clock.now())
