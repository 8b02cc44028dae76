"""CatalogueService: the hub serves the signed catalogue; regions publish their own items."""

from __future__ import annotations

import grpc

from federation.errors import FailedPrecondition
from nodes.pb.v1 import case_pb2, case_pb2_grpc
from nodes.server.interceptors import caller
from nodes.server.runtime import NodeRuntime
from nodes.servicers.catalogue_view import CatalogueView, HubCatalogue

SERVICE = "/yrd.federation.v1.CatalogueService/"
ROLES = {SERVICE + "PublishItems": frozenset({"region"})}


class CatalogueServicer(case_pb2_grpc.CatalogueServiceServicer):
    def __init__(self, runtime: NodeRuntime, view: CatalogueView, hub: HubCatalogue | None):
        self._rt = runtime
        self._view = view
        self._hub = hub

    def GetCatalogue(
        self, request: case_pb2.GetCatalogueRequest, context: grpc.ServicerContext
    ) -> case_pb2.GetCatalogueResponse:
        current = self._view.current()
        return case_pb2.GetCatalogueResponse(
            signed_catalogue=self._view.signed, version=current.version
        )

    def PublishItems(
        self, request: case_pb2.PublishItemsRequest, context: grpc.ServicerContext
    ) -> case_pb2.GetCatalogueResponse:
        if self._hub is None:
            raise FailedPrecondition("publish items at the hub, which signs the catalogue")
        member = caller()
        catalogue = self._hub.publish(member.region_code, request.items_json)
        self._rt.audit(
            member.entity_id,
            "catalogue.publish",
            "granted",
            "",
            {"version": catalogue.version, "items": len(catalogue.items_of(member.region_code))},
        )
        return case_pb2.GetCatalogueResponse(
            signed_catalogue=self._view.signed, version=catalogue.version
        )
