"""A region's side of the hub's home registry: claim a subject's home, check attestations."""

from __future__ import annotations

import grpc

from federation.errors import Unavailable
from federation.identity.homes import HomeAttestation, verify_home_attestation
from nodes.errors import error_from_rpc
from nodes.pb.v1 import hub_pb2, hub_pb2_grpc
from nodes.server.runtime import NodeRuntime


class HubHomes:
    """Claims at the hub over mTLS; verifies attestations offline with the trust list."""

    def __init__(self, runtime: NodeRuntime) -> None:
        self._rt = runtime

    def claim(self, subject_id: str, kind: str) -> str:
        rt = self._rt
        try:
            stub = hub_pb2_grpc.HomeRegistryServiceStub(rt.peers.channel(rt.hub_entity()))
            reply = stub.ClaimHome(
                hub_pb2.ClaimHomeRequest(subject_id=subject_id, subject_kind=kind),
                timeout=rt.config.peer_timeout_s,
                # a hub that is restarting is waited for within the timeout; one that stays
                # down is reported as unavailable when it expires
                wait_for_ready=True,
            )
        except grpc.RpcError as exc:
            err = error_from_rpc(exc, "hub home registry")
            if err.code_name == "DEADLINE_EXCEEDED":
                raise Unavailable(f"{err.message}; nothing was registered, retry") from None
            raise err from None
        return str(reply.home_attestation)

    def check(self, attestation: str, now: float) -> HomeAttestation:
        return verify_home_attestation(attestation, self._rt.trust.current(), now)
