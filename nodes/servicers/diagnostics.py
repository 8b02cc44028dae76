"""DiagnosticsService: a raw echo (every benchmark's baseline) and a node's status for operators."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

import grpc

from federation.trust.trustlist import Member, TrustList
from nodes.pb.v1 import diagnostics_pb2, diagnostics_pb2_grpc
from nodes.server.runtime import NodeRuntime

SERVICE = "/yrd.federation.v1.DiagnosticsService/"
ROLES = {SERVICE + "Status": frozenset({"operator"})}
DEFAULT_PEER_TIMEOUT_S = 1.0
MAX_PEER_TIMEOUT_S = 10.0


def package_version() -> str:
    try:
        return metadata.version("yrd-federation")
    except metadata.PackageNotFoundError:
        return "unknown"


class DiagnosticsServicer(diagnostics_pb2_grpc.DiagnosticsServiceServicer):
    """Echo for anyone in the trust list; Status (health of trust, catalogue, peers) for operators.

    `catalogue_version` is set once the node has built its catalogue view.
    """

    def __init__(self, entity_id: str, rt: NodeRuntime | None = None) -> None:
        self._entity = entity_id
        self._rt = rt
        self.catalogue_version: Callable[[], int] = lambda: 0

    async def Echo(
        self, request: diagnostics_pb2.EchoRequest, context: grpc.aio.ServicerContext
    ) -> diagnostics_pb2.EchoResponse:
        """A coroutine, so the baseline round trip pays no worker hop (as VerifyToken does not)."""
        return diagnostics_pb2.EchoResponse(payload=request.payload, entity_id=self._entity)

    def Status(
        self, request: diagnostics_pb2.StatusRequest, context: grpc.ServicerContext
    ) -> diagnostics_pb2.StatusResponse:
        rt = self._rt
        reply = diagnostics_pb2.StatusResponse(
            entity_id=self._entity,
            package_version=package_version(),
            now=time.time(),
        )
        if rt is None:
            return reply
        reply.region_code = rt.region.code
        reply.role = "hub" if rt.config.is_hub else "region"
        reply.trust_list_refreshed_at = rt.trust.last_refresh_ok or 0.0
        reply.trust_list_refresh_error = rt.trust.last_error
        try:
            reply.catalogue_version = int(self.catalogue_version())
        except Exception:  # no catalogue yet: report 0, the status call itself must not fail
            reply.catalogue_version = 0
        trust_list: TrustList | None
        try:
            trust_list = rt.trust.current()
        except Exception:
            trust_list = None
        if trust_list is None:
            return reply
        reply.trust_list_version = trust_list.version
        reply.trust_list_issued_at = trust_list.issued_at
        reply.trust_list_expires_at = trust_list.expires_at
        if request.probe_peers:
            timeout = request.peer_timeout_s or DEFAULT_PEER_TIMEOUT_S
            timeout = min(max(timeout, 0.05), MAX_PEER_TIMEOUT_S)
            reply.peers.extend(self._probe_peers(trust_list, timeout))
        return reply

    def _probe_peers(
        self, trust_list: TrustList, timeout_s: float
    ) -> list[diagnostics_pb2.PeerStatus]:
        peers = [
            m
            for m in trust_list.members
            if m.endpoint and m.entity_id != self._entity and {"hub", "region"} & set(m.roles)
        ]
        if not peers:
            return []
        with ThreadPoolExecutor(max_workers=len(peers), thread_name_prefix="probe") as pool:
            return list(pool.map(lambda m: self._probe(m, timeout_s), peers))

    def _probe(self, member: Member, timeout_s: float) -> diagnostics_pb2.PeerStatus:
        status = diagnostics_pb2.PeerStatus(
            entity_id=member.entity_id, region_code=member.region_code, endpoint=member.endpoint
        )
        assert self._rt is not None
        channel = self._rt.peers.channel(member.entity_id)
        stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(channel)
        started = time.perf_counter()
        try:
            stub.Echo(diagnostics_pb2.EchoRequest(payload=b"status"), timeout=timeout_s)
        except grpc.RpcError as exc:
            status.error = f"{exc.code().name}: {exc.details()}"
            return status
        status.reachable = True
        status.latency_ms = (time.perf_counter() - started) * 1000.0
        return status
