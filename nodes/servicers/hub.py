"""The hub's services: the signed trust list, the home registry and face verification."""

from __future__ import annotations

import grpc

from federation.errors import FederationError, InvalidArgument, PermissionDenied
from federation.identity.face import FaceVerificationService
from federation.identity.homes import HomeRegistry
from nodes.pb.v1 import hub_pb2, hub_pb2_grpc, trust_pb2, trust_pb2_grpc
from nodes.server.interceptors import caller
from nodes.server.runtime import NodeRuntime

FACE = "/yrd.federation.v1.FaceService/"
HOMES = "/yrd.federation.v1.HomeRegistryService/"
ROLES = {
    FACE + "EnrolFaceTemplate": frozenset({"region"}),
    FACE + "VerifyFace": frozenset({"region"}),
    HOMES + "ClaimHome": frozenset({"region"}),
}


class TrustListServicer(trust_pb2_grpc.TrustListServiceServicer):
    """Served by every node: the hub from its source, regions from their verified cache."""

    def __init__(self, runtime: NodeRuntime) -> None:
        self._rt = runtime

    def GetTrustList(
        self, request: trust_pb2.GetTrustListRequest, context: grpc.ServicerContext
    ) -> trust_pb2.GetTrustListResponse:
        current = self._rt.trust.current()
        return trust_pb2.GetTrustListResponse(
            signed_trust_list=self._rt.trust.signed, version=current.version
        )


class FaceServicer(hub_pb2_grpc.FaceServiceServicer):
    def __init__(self, runtime: NodeRuntime, service: FaceVerificationService) -> None:
        self._rt = runtime
        self._face = service

    def EnrolFaceTemplate(
        self, request: hub_pb2.EnrolFaceTemplateRequest, context: grpc.ServicerContext
    ) -> hub_pb2.EnrolFaceTemplateResponse:
        member = caller()
        try:
            if not request.subject_id:
                raise InvalidArgument("subject_id is required")
            self._face.enrol(
                member.region_code, request.subject_id, request.subject_kind, list(request.template)
            )
        except FederationError as exc:
            self._rt.audit(
                member.entity_id,
                "face.enrol",
                f"refused:{exc.code_name}",
                request.subject_id[:64],
                {"reason": exc.message},
            )
            raise
        self._rt.audit(member.entity_id, "face.enrol", "granted", request.subject_id)
        return hub_pb2.EnrolFaceTemplateResponse(subject_id=request.subject_id)

    def VerifyFace(
        self, request: hub_pb2.VerifyFaceRequest, context: grpc.ServicerContext
    ) -> hub_pb2.VerifyFaceResponse:
        member = caller()
        if not request.subject_id:
            raise InvalidArgument("subject_id is required")
        if not member.region_code:
            raise PermissionDenied("caller has no region")
        result = self._face.verify(member.region_code, request.subject_id, list(request.template))
        self._rt.audit(
            member.entity_id,
            "face.verify",
            "match" if result.match else "no-match",
            request.subject_id,
            {"score": round(result.score, 4)},
        )
        return hub_pb2.VerifyFaceResponse(
            match=result.match, score=result.score, assertion=result.assertion
        )


class HomeRegistryServicer(hub_pb2_grpc.HomeRegistryServiceServicer):
    """One person, one home: a region claims a subject's home before registering it."""

    def __init__(self, runtime: NodeRuntime, registry: HomeRegistry) -> None:
        self._rt = runtime
        self._homes = registry

    def ClaimHome(
        self, request: hub_pb2.ClaimHomeRequest, context: grpc.ServicerContext
    ) -> hub_pb2.ClaimHomeResponse:
        member = caller()
        try:
            if not request.subject_id:
                raise InvalidArgument("subject_id is required")
            attestation = self._homes.claim(
                member.region_code, request.subject_id, request.subject_kind
            )
        except FederationError as exc:
            self._rt.audit(
                member.entity_id,
                "home.claim",
                f"refused:{exc.code_name}",
                request.subject_id[:64],
                {"reason": exc.message},
            )
            raise
        self._rt.audit(member.entity_id, "home.claim", "granted", request.subject_id)
        return hub_pb2.ClaimHomeResponse(
            home_attestation=attestation, home_region=member.region_code
        )
