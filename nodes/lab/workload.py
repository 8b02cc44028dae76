"""The lab's four operations, their requests built before the run (tokens are single use).

Who does what (the benchmarks' cast, so figures compare): tokens are minted at Zhejiang for
Shanghai and verified there; Jiangsu's licences are verified at Shanghai (status list from
Jiangsu); a holder's licences in all four provinces are aggregated at Anhui (fan-out to the
three others); cases are submitted at a Shanghai window for a Jiangsu-owned item, whose owner
reads the applicant's identity card at Anhui and checks a face assertion from the hub.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from federation.licences import Verdict
from federation.regions import Region
from nodes.client import FederationClient
from nodes.fixtures.applicants import enrol_applicants, wait_for_catalogue
from nodes.fixtures.case_cast import HOME as CASE_HOME
from nodes.fixtures.case_cast import OWNER, WINDOW
from nodes.fixtures.case_inputs import Preparer
from nodes.fixtures.licence_cast import AGGREGATOR, VERIFIER
from nodes.fixtures.licences import set_up as licence_set_up
from nodes.fixtures.tokens import TokenMinter
from nodes.pb.v1 import (
    case_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    licence_pb2,
    licence_pb2_grpc,
)

TOKEN_VERIFIER = Region.SH
HOLDER_LICENCES = 4  # one in each province
Check = Callable[[Any], str | None]  # None: success; otherwise the outcome's label


@dataclass
class Operation:
    """One operation: where it goes, its pre-built requests in send order, how to judge a reply."""

    name: str
    region: Region
    method: grpc.UnaryUnaryMultiCallable
    requests: list[Any]
    check: Check
    acknowledged: Callable[[Any], str | None] = lambda reply: None  # a write's id, if any
    traced: bool = False  # send a W3C traceparent naming a trace id of the lab's choosing

    def request(self, i: int) -> Any:
        return self.requests[i % len(self.requests)]

    def trace_id(self, i: int) -> str:
        """The trace id request `i` carries (32 hex digits), '' when the op is not traced."""
        if not self.traced:
            return ""
        return hashlib.sha256(f"{self.name}:{i}:{id(self)}".encode()).hexdigest()[:32]

    def metadata(self, i: int) -> list[tuple[str, str]] | None:
        trace_id = self.trace_id(i)
        if not trace_id:
            return None
        parent = hashlib.sha256(trace_id.encode()).hexdigest()[:16]
        return [("traceparent", f"00-{trace_id}-{parent}-01")]


def _verify_token_ok(reply: Any) -> str | None:
    return None if reply.claims.sub else "NO_CLAIMS"


def _licence_ok(reply: Any) -> str | None:
    if reply.verdict != Verdict.VALID.value:
        return f"VERDICT_{str(reply.verdict).upper()}"
    return None if reply.status_checked else "STATUS_UNCHECKED"


def _aggregation_ok(reply: Any) -> str | None:
    # a region that did not answer makes the listing incomplete: not a success for the holder
    if any(not r.ok for r in reply.regions):
        return "INCOMPLETE"
    count = sum(len(r.licences) for r in reply.regions)
    return None if count == HOLDER_LICENCES else "WRONG_COUNT"


def _case_ok(reply: Any) -> str | None:
    return None if reply.state == "accepted" and reply.case_id else f"STATE_{reply.state}"


def build_operations(
    client: FederationClient,
    directory: Path,
    counts: dict[str, int],
    tag: str,
    log: Callable[[str], None],
) -> dict[str, Operation]:
    """Set up fixtures (untimed) and build `counts[op]` requests for each operation."""
    ops: dict[str, Operation] = {}
    licences = licence_set_up(client, directory, 8, f"{tag}L", log)
    if counts.get("token_verify"):
        tokens = licences.tokens(TOKEN_VERIFIER, counts["token_verify"])
        ops["token_verify"] = Operation(
            "token_verify",
            TOKEN_VERIFIER,
            identity_pb2_grpc.IdentityServiceStub(client.channel(TOKEN_VERIFIER)).VerifyToken,
            [identity_pb2.VerifyTokenRequest(token=t) for t in tokens],
            _verify_token_ok,
        )
    if counts.get("licence_verify"):
        ops["licence_verify"] = Operation(
            "licence_verify",
            VERIFIER,
            licence_pb2_grpc.LicenceServiceStub(client.channel(VERIFIER)).VerifyLicence,
            [licence_pb2.VerifyLicenceRequest(sd_jwt=s) for s in licences.pool],
            _licence_ok,
        )
    if counts.get("aggregation"):
        tokens = licences.tokens(AGGREGATOR, counts["aggregation"])
        ops["aggregation"] = Operation(
            "aggregation",
            AGGREGATOR,
            licence_pb2_grpc.LicenceServiceStub(client.channel(AGGREGATOR)).ListHolderLicences,
            [licence_pb2.ListHolderLicencesRequest(token=t) for t in tokens],
            _aggregation_ok,
        )
    if counts.get("case_submit"):
        wait_for_catalogue(client)
        applicants = enrol_applicants(client, 2, f"{tag}C")
        minter = TokenMinter(directory, client.trust_list, CASE_HOME)
        preparer = Preparer(client, minter, applicants, f"{tag}C")
        n = counts["case_submit"]
        log(f"preparing {n} cases (a business licence at {OWNER.short}, face assertion, tokens)")
        ops["case_submit"] = Operation(
            "case_submit",
            WINDOW,
            case_pb2_grpc.CaseServiceStub(client.channel(WINDOW)).SubmitCase,
            [preparer.one().request for _ in range(n)],
            _case_ok,
            acknowledged=lambda reply: str(reply.case_id) or None,
            traced=True,  # the report follows one case's spans across the nodes
        )
    log(f"operations ready: {', '.join(f'{k}={len(v.requests)}' for k, v in ops.items())}")
    return ops


def warm_up(ops: dict[str, Operation], timeout_s: float) -> dict[str, str]:
    """One call of each idempotent operation (licence verify) to open channels; errors by op."""
    problems = {}
    for name, op in ops.items():
        if name != "licence_verify":
            continue  # the others consume single-use tokens or create cases
        outcome: str | None = "NOT_TRIED"
        for i in range(3):
            try:
                outcome = op.check(op.method(op.request(i), timeout=timeout_s))
            except grpc.RpcError as exc:
                outcome = exc.code().name
            if outcome is None:
                break
        if outcome is not None:
            problems[name] = outcome
    return problems
