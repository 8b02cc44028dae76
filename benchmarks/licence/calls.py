"""The licence benchmark's remote targets: verification, aggregation, relayed read, one hop,
three hops at once."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import grpc

from benchmarks._federation import region_channel
from benchmarks.harness import Call, LatencyRecorder, Supply
from benchmarks.licence.config import (
    AGGREGATOR,
    CALL_TIMEOUT_S,
    ISSUER,
    PEERS,
    RELAY_ITEM,
    VERIFIER,
)
from federation.licences import Verdict
from nodes.client import FederationClient
from nodes.pb.v1 import licence_pb2, licence_pb2_grpc


def verify_call(client: FederationClient, pool: Sequence[str]) -> Call:
    """VerifyLicence at VERIFIER of ISSUER's licences, in rotation."""
    stub = licence_pb2_grpc.LicenceServiceStub(client.channel(VERIFIER))
    requests = [licence_pb2.VerifyLicenceRequest(sd_jwt=s) for s in pool]
    counter = itertools.count()

    def call() -> object:
        reply = stub.VerifyLicence(requests[next(counter) % len(requests)], timeout=CALL_TIMEOUT_S)
        if reply.verdict != Verdict.VALID.value or not reply.status_checked:
            raise RuntimeError(f"verification answered {reply.verdict}: {list(reply.reasons)}")
        return reply

    return call


class Aggregation:
    """ListHolderLicences at AGGREGATOR with a fresh token per call (replay protection)."""

    def __init__(self, client: FederationClient, expected_licences: int) -> None:
        self._stub = licence_pb2_grpc.LicenceServiceStub(client.channel(AGGREGATOR))
        self._expected = expected_licences
        self.tokens: Supply[str] = Supply([])
        self.fanout = LatencyRecorder()  # swapped per phase

    def call(self) -> object:
        request = licence_pb2.ListHolderLicencesRequest(token=self.tokens.take())
        reply = self._stub.ListHolderLicences(request, timeout=CALL_TIMEOUT_S)
        failed = [f"{r.region}: {r.error}" for r in reply.regions if not r.ok]
        if failed:
            raise RuntimeError(f"aggregation had failing regions: {failed}")
        count = sum(len(r.licences) for r in reply.regions)
        if count != self._expected or len(reply.regions) != 4:
            raise RuntimeError(f"aggregation listed {count} licences in {len(reply.regions)}")
        remote = [r.elapsed_ms for r in reply.regions if r.region != AGGREGATOR.code]
        self.fanout.record(max(remote) / 1e3)
        return reply


class RelayedRead:
    """FetchRemoteLicence at AGGREGATOR of the holder's JS licence (AGGREGATOR relays one
    ReadLicence to JS): one cross-region call as a user makes it, a fan-out of one."""

    def __init__(self, client: FederationClient, identifier: str) -> None:
        self._stub = licence_pb2_grpc.LicenceServiceStub(client.channel(AGGREGATOR))
        self._identifier = identifier
        self.tokens: Supply[str] = Supply([])  # consent tokens for JS, single use

    def call(self) -> object:
        request = licence_pb2.FetchRemoteLicenceRequest(
            owner_region=ISSUER.code,
            read=licence_pb2.ReadLicenceRequest(
                identifier=self._identifier,
                service_item=RELAY_ITEM,
                purpose="benchmark: one relayed cross-region read",
                consent_token=self.tokens.take(),
            ),
        )
        reply = self._stub.FetchRemoteLicence(request, timeout=CALL_TIMEOUT_S)
        if reply.identifier != self._identifier or not reply.fields_json:
            raise RuntimeError("the relayed read answered another licence")
        return reply


class SingleHop:
    """ListLocalLicences with AGGREGATOR's own certificate to one peer, rotating over PEERS:
    exactly one leg of the aggregation's fan-out, i.e. one cross-region call, forwarding a
    fresh holder token meant for AGGREGATOR (each peer refuses a replayed one)."""

    def __init__(self, directory: Path, client: FederationClient, holder: str) -> None:
        self.channels: list[grpc.Channel] = [
            region_channel(directory, AGGREGATOR, client.endpoint(r), r) for r in PEERS
        ]
        self._stubs = [licence_pb2_grpc.LicenceServiceStub(c) for c in self.channels]
        self._holder = holder
        self._counter = itertools.count()
        self.tokens: Supply[str] = Supply([])

    def call(self) -> object:
        request = licence_pb2.ListLocalLicencesRequest(
            holder_code=self._holder, token=self.tokens.take()
        )
        stub = self._stubs[next(self._counter) % len(self._stubs)]
        return _one_licence(stub.ListLocalLicences(request, timeout=CALL_TIMEOUT_S))

    def parallel(self) -> object:
        """The aggregation's three legs sent at once from here, done when the last answers:
        the fan-out without the aggregator (no hop to it, none of its work), i.e. what the
        four nodes and the client sharing this machine's cores make of three concurrent legs."""
        futures = [
            stub.ListLocalLicences.future(
                licence_pb2.ListLocalLicencesRequest(
                    holder_code=self._holder, token=self.tokens.take()
                ),
                timeout=CALL_TIMEOUT_S,
            )
            for stub in self._stubs
        ]
        return [_one_licence(f.result()) for f in futures]

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


def _one_licence(reply: licence_pb2.ListLocalLicencesResponse) -> object:
    if len(reply.licences) != 1:
        raise RuntimeError(f"single hop listed {len(reply.licences)} licences, not 1")
    return reply
