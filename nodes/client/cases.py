"""Client calls for the remote virtual window: catalogue, cases, stats (mixed into the client)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import grpc

from federation.regions import Region, parse_region
from nodes.errors import error_from_rpc
from nodes.pb.v1 import case_pb2, case_pb2_grpc

T = TypeVar("T")


def material(
    licence_type: str,
    identifier: str = "",
    owner_region: str = "",
    consent_token: str = "",
    presentation: str = "",
) -> case_pb2.Material:
    """A material for `submit_case`: a licence of `licence_type` held at `owner_region`, read
    there with the holder's consent token (or presented by the holder)."""
    return case_pb2.Material(
        licence_type=licence_type,
        identifier=identifier,
        owner_region=parse_region(owner_region).code if owner_region else "",
        consent_token=consent_token,
        presentation=presentation,
    )


class CaseCalls:
    """Needs `channel(region)`, `call(region, what, fn)` and `timeout_s` from the client."""

    timeout_s: float

    def channel(self, region: Region | str) -> grpc.Channel:
        """The operator's mTLS channel to a node (provided by FederationClient)."""
        raise NotImplementedError

    def call(self, region: Region | str, what: str, fn: Callable[[], T]) -> T:
        """Run one call, a gRPC failure raised as its domain error (see FederationClient)."""
        raise NotImplementedError

    def cases(self, region: Region | str) -> case_pb2_grpc.CaseServiceStub:
        """A CaseService stub for a node."""
        return case_pb2_grpc.CaseServiceStub(self.channel(region))

    def catalogue_stub(self, region: Region | str) -> case_pb2_grpc.CatalogueServiceStub:
        """A CatalogueService stub for a node."""
        return case_pb2_grpc.CatalogueServiceStub(self.channel(region))

    def _ref(self, case_id: str, owner: str) -> case_pb2.CaseRef:
        return case_pb2.CaseRef(case_id=case_id, owner_region=parse_region(owner).code)

    def get_catalogue(self, region: Region | str = Region.HUB) -> case_pb2.GetCatalogueResponse:
        """The hub-signed service catalogue as a node holds it (the hub by default)."""
        stub = self.catalogue_stub(region)
        reply: case_pb2.GetCatalogueResponse = self.call(
            region,
            "catalogue",
            lambda: stub.GetCatalogue(case_pb2.GetCatalogueRequest(), timeout=self.timeout_s),
        )
        return reply

    def submit_case(
        self,
        window_region: Region | str,
        *,
        request_id: str,
        item_code: str,
        window_id: str,
        applicant_token: str,
        materials: Sequence[case_pb2.Material],
        owner_region: str = "",
        face_assertion: str = "",
        on_behalf_of: str = "",
        requested: Mapping[str, Any] | None = None,
        delivery_method: str = "electronic",
        note: str = "",
    ) -> case_pb2.CaseView:
        """File a case at a window region for a service item another region may own.

        The window forwards to the owner; a retry with the same `request_id` returns the same
        case (`created` false). Refusals are precise: a forged or weak token, a face assertion
        for someone else, a material the policy does not release."""
        req = case_pb2.SubmitCaseRequest(
            request_id=request_id,
            item_code=item_code,
            owner_region=parse_region(owner_region).code if owner_region else "",
            window_id=window_id,
            applicant_token=applicant_token,
            face_assertion=face_assertion,
            materials=list(materials),
            on_behalf_of=on_behalf_of,
            requested_json=json.dumps(dict(requested or {}), ensure_ascii=False),
            delivery_method=delivery_method,
            note=note,
        )
        stub = self.cases(window_region)
        reply: case_pb2.CaseView = self.call(
            window_region, "submit case", lambda: stub.SubmitCase(req, timeout=self.timeout_s * 3)
        )
        return reply

    def get_case(self, region: Region | str, case_id: str, owner: str) -> case_pb2.CaseView:
        """One case as its owner holds it, read at the owner or through the case's window."""
        stub = self.cases(region)
        ref = self._ref(case_id, owner)
        reply: case_pb2.CaseView = self.call(
            region, "show case", lambda: stub.GetCase(ref, timeout=self.timeout_s)
        )
        return reply

    def list_cases(
        self,
        region: Region | str,
        *,
        owner: str = "",
        state: str = "",
        item_code: str = "",
        window_id: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> case_pb2.ListCasesResponse:
        """One page of the owner region's cases, newest first (asked at `region`, which
        forwards to `owner` when that is another region)."""
        req = case_pb2.ListCasesRequest(
            owner_region=parse_region(owner).code if owner else "",
            state=state,
            item_code=item_code,
            window_id=window_id,
            page_size=page_size,
            page_token=page_token,
        )
        stub = self.cases(region)
        reply: case_pb2.ListCasesResponse = self.call(
            region, "list cases", lambda: stub.ListCases(req, timeout=self.timeout_s * 3)
        )
        return reply

    def iter_cases(
        self,
        region: Region | str,
        *,
        owner: str = "",
        state: str = "",
        item_code: str = "",
        window_id: str = "",
        page_size: int = 0,
    ) -> Iterator[case_pb2.CaseView]:
        """Every matching case, newest first, page after page."""
        token = ""
        while True:
            page = self.list_cases(
                region,
                owner=owner,
                state=state,
                item_code=item_code,
                window_id=window_id,
                page_size=page_size,
                page_token=token,
            )
            yield from page.cases
            token = page.next_page_token
            if not token:
                return

    def decide_case(
        self,
        owner: Region | str,
        case_id: str,
        action: str,
        reason: str = "",
        reviewer: str = "",
        result: Mapping[str, Any] | None = None,
    ) -> case_pb2.CaseView:
        """A reviewer's decision at the owner region: start_review, approve, return or reject.

        `reviewer` (a staff id) is required and recorded in the case's events and archive."""
        req = case_pb2.DecideCaseRequest(
            case_id=case_id,
            action=action,
            reason=reason,
            reviewer=reviewer,
            result_json=json.dumps(dict(result or {}), ensure_ascii=False),
        )
        stub = self.cases(owner)
        reply: case_pb2.CaseView = self.call(
            owner, f"{action} case", lambda: stub.DecideCase(req, timeout=self.timeout_s * 3)
        )
        return reply

    def supplement_case(
        self,
        window_region: Region | str,
        case_id: str,
        owner: str,
        applicant_token: str,
        materials: Sequence[case_pb2.Material],
        note: str = "",
        requested: Mapping[str, Any] | None = None,
        window_id: str = "supplement",
    ) -> case_pb2.CaseView:
        """Send the materials a returned case asked for (at the window that filed it)."""
        req = case_pb2.SupplementCaseRequest(
            case=self._ref(case_id, owner),
            supplement=case_pb2.SubmitCaseRequest(
                request_id=f"{case_id}-supplement",
                window_id=window_id,
                applicant_token=applicant_token,
                materials=list(materials),
                note=note,
                requested_json=json.dumps(dict(requested or {}), ensure_ascii=False),
            ),
        )
        stub = self.cases(window_region)
        reply: case_pb2.CaseView = self.call(
            window_region,
            "supplement case",
            lambda: stub.SupplementCase(req, timeout=self.timeout_s * 3),
        )
        return reply

    def watch_case(
        self,
        region: Region | str,
        case_id: str,
        owner: str,
        after_seq: int = 0,
        max_seconds: int = 60,
    ) -> Iterator[case_pb2.CaseEventMessage]:
        """The case's events after `after_seq`, then each new one as it happens, until it
        closes or `max_seconds` pass (server streaming; ends quietly at the deadline)."""
        req = case_pb2.WatchCaseRequest(
            case=self._ref(case_id, owner), after_seq=after_seq, max_seconds=max_seconds
        )
        try:
            yield from self.cases(region).WatchCase(req, timeout=max_seconds + 10)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return
            raise error_from_rpc(exc, f"watch case at {region}") from None

    def rate_case(
        self,
        region: Region | str,
        case_id: str,
        owner: str,
        applicant_token: str,
        score: int,
        reasons: Sequence[str] = (),
        comment: str = "",
    ) -> case_pb2.RateCaseResponse:
        """The applicant's evaluation (好差评) of a closed case, 1..5, with their token."""
        req = case_pb2.RateCaseRequest(
            case=self._ref(case_id, owner),
            applicant_token=applicant_token,
            score=score,
            reasons=list(reasons),
            comment=comment,
        )
        stub = self.cases(region)
        reply: case_pb2.RateCaseResponse = self.call(
            region, "rate case", lambda: stub.RateCase(req, timeout=self.timeout_s * 2)
        )
        return reply

    def export_case(self, owner: Region | str, case_id: str) -> str:
        """The sealed archive of a closed case (JSON text), for offline verification."""
        stub = self.cases(owner)
        ref = self._ref(case_id, str(owner) if isinstance(owner, str) else owner.code)
        reply = self.call(
            owner, "export case", lambda: stub.ExportCase(ref, timeout=self.timeout_s)
        )
        return str(reply.archive)

    def stats(self, region: Region | str) -> dict[str, Any]:
        """Per-item and per-window evaluation statistics of the cases a region owns."""
        stub = self.cases(region)
        reply = self.call(
            region, "stats", lambda: stub.GetStats(case_pb2.StatsRequest(), timeout=self.timeout_s)
        )
        value: dict[str, Any] = json.loads(reply.stats_json)
        return value

    def check_face(
        self, window_region: Region | str, subject_id: str, template: Sequence[float]
    ) -> case_pb2.CheckFaceResponse:
        """Verify a live face template at the hub through a window region; the reply carries
        the signed face assertion a case submission needs."""
        req = case_pb2.CheckFaceRequest(subject_id=subject_id, template=list(template))
        stub = self.cases(window_region)
        reply: case_pb2.CheckFaceResponse = self.call(
            window_region, "face check", lambda: stub.CheckFace(req, timeout=self.timeout_s)
        )
        return reply
