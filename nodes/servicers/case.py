"""CaseService: the window region forwards, the owner region's case desk decides."""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc

from federation.cases.catalogue import CatalogueItem
from federation.cases.desk import CaseDesk
from federation.cases.listing import CaseQuery, list_cases
from federation.cases.states import CaseState
from federation.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from federation.identity.provider import FaceCheckResult
from federation.regions import Region, parse_region
from federation.storage.base import CaseRecord, WouldWait
from federation.trust.trustlist import Member
from nodes.convert.cases import case_view, event_message, rating_to_proto, submission_from
from nodes.convert.requests import json_object
from nodes.errors import error_from_rpc
from nodes.pb.v1 import case_pb2, case_pb2_grpc
from nodes.server.interceptors import FORWARDED_FOR, caller, forwarded_for
from nodes.server.runtime import NodeRuntime
from nodes.servicers.case_watch import RECHECK_S, CaseChanges

SERVICE = "/yrd.federation.v1.CaseService/"
OPERATOR = frozenset({"operator"})
EITHER = frozenset({"operator", "region"})
ROLES = {
    SERVICE + "SubmitCase": EITHER,
    SERVICE + "GetCase": EITHER,
    SERVICE + "ListCases": EITHER,
    SERVICE + "DecideCase": OPERATOR,
    SERVICE + "SupplementCase": EITHER,
    SERVICE + "WatchCase": EITHER,
    SERVICE + "RateCase": EITHER,
    SERVICE + "ExportCase": OPERATOR,
    SERVICE + "GetStats": OPERATOR,
    SERVICE + "CheckFace": OPERATOR,
}
T = TypeVar("T")
WATCH_READERS = 4
INLINE_ACTIONS = frozenset({"start_review", "return", "reject"})
"""Decisions whose only write is the case's own transaction (see DecideCase)."""


class CaseServicer(case_pb2_grpc.CaseServiceServicer):
    def __init__(
        self,
        runtime: NodeRuntime,
        desk: CaseDesk,
        item_of: Callable[[str], CatalogueItem],
        stub: Callable[[Region], case_pb2_grpc.CaseServiceStub],
        face_check: Callable[[str, list[float]], FaceCheckResult],
        export: Callable[[CaseRecord], str],
        stats: Callable[[], dict[str, Any]],
        changes: CaseChanges,
        aio_stub: Callable[[Region], case_pb2_grpc.CaseServiceStub],
        item_now: Callable[[str], CatalogueItem | None],
    ) -> None:
        self._rt = runtime
        self._changes = changes
        self._aio_stub = aio_stub
        self._item_now = item_now
        # watchers read the store on their own small pool: a separate budget from requests
        self._watch_pool = ThreadPoolExecutor(max_workers=WATCH_READERS, thread_name_prefix="watch")
        # SubmitCase at the owner (the desk reads, verifies and commits): as many threads as
        # the node's rpc workers, which served it when it was a synchronous servicer
        self._desk_pool = ThreadPoolExecutor(runtime.config.threads, thread_name_prefix="desk")
        self._desk = desk
        self._item_of = item_of
        self._stub = stub
        self._face = face_check
        self._export = export
        self._stats = stats

    def close(self) -> None:
        """Wait for the desk's and the watchers' store work (idempotent): a case committed
        for a call commits before the node closes its store. Call after the server stopped."""
        self._desk_pool.shutdown(wait=True)
        self._watch_pool.shutdown(wait=True, cancel_futures=True)  # reads only

    # --- routing ----------------------------------------------------------------------
    def _owner(self, owner_region: str, item_code: str = "") -> Region:
        if owner_region:
            return parse_region(owner_region)
        if item_code:
            return parse_region(self._item_of(item_code).owner_region)
        raise InvalidArgument("owner_region is required")

    def _acting_for(self) -> Member:
        """Who the call is ultimately made for: the caller itself, or the operator it forwards for.

        A region forwards only its own operator's calls (see `_may_forward`) and names that
        operator in metadata; a region naming anyone else (another region, an unknown entity)
        is refused, so no region can be made a deputy for a third.
        """
        member = caller()
        origin = forwarded_for()
        if "region" not in member.roles or not origin or origin == member.entity_id:
            return member
        try:
            actor = self._rt.trust_list().member(origin)
        except Exception:
            raise PermissionDenied(f"{origin!r} is not a member of the trust list") from None
        if "operator" not in actor.roles:
            raise PermissionDenied(
                f"{member.entity_id} forwarded a call for {origin}, which is not an operator; "
                "a region forwards only its own window operator's calls"
            )
        return actor

    def _own_case(self, case_id: str) -> CaseRecord:
        """A case at this owner region, readable by the operator or by its window's region."""
        case = self._desk.get(case_id)
        member = caller()
        if "region" in member.roles:
            if member.region_code != case.window_region:
                raise PermissionDenied(
                    f"case {case_id} was filed from region {case.window_region}; region "
                    f"{member.region_code} may not read or act on it"
                )
            self._acting_for()
        return case

    def _window_region(self) -> str:
        member = caller()
        if "region" in member.roles:
            self._acting_for()
            return member.region_code
        return self._rt.region.code

    def _may_forward(self, owner: Region, what: str) -> None:
        """Forward only for our own operator: never as a deputy for another region."""
        member = caller()
        if "operator" not in member.roles:
            raise PermissionDenied(
                f"{member.entity_id} asked region {self._rt.region.short} to {what} a case "
                f"owned by {owner.short}; a region forwards only its own operator's calls, so ask "
                "the owner region directly"
            )

    def _forward(self, owner: Region, what: str, call: Callable[[], Any]) -> Any:
        self._may_forward(owner, what)
        try:
            return call()
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, f"{what} at owner region {owner.short}") from None

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return ((FORWARDED_FOR, caller().entity_id),)

    def _timeout(self) -> float:
        return self._rt.config.peer_timeout_s * 3

    # --- window side and owner side ---------------------------------------------------
    async def SubmitCase(
        self, request: case_pb2.SubmitCaseRequest, context: grpc.aio.ServicerContext
    ) -> case_pb2.CaseView:
        """A coroutine: at the window, a case for another region is forwarded on the loop's
        own channel and its audit entry committed (on the loop if the store need not wait);
        everything else (the owner's desk, routing that needs the hub) runs on a desk thread.
        """
        owner = self._route_now(request)
        if owner is None or owner is self._rt.region or "region" in caller().roles:
            return await self._on_desk(self._submit, request, context)
        self._may_forward(owner, "submit")
        try:
            view = await self._aio_stub(owner).SubmitCase(
                request, timeout=self._timeout(), metadata=self._metadata()
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, f"submit at owner region {owner.short}") from None
        entry = (
            caller().entity_id,
            "case.forward",
            "granted",
            view.applicant_id,
            {"case_id": view.case_id, "owner": owner.code},
        )
        if not self._rt.audit_now(*entry):
            await asyncio.get_running_loop().run_in_executor(
                self._desk_pool, self._rt.audit, *entry
            )
        return view  # type: ignore[no-any-return]

    def _route_now(self, request: case_pb2.SubmitCaseRequest) -> Region | None:
        """The owner of a submission that the held catalogue confirms, else None (the desk
        thread routes it, asking the hub if need be, and gives the precise refusal)."""
        item = self._item_now(request.item_code) if request.item_code else None
        if item is None:
            return None
        owner = parse_region(request.owner_region) if request.owner_region else None
        if owner is not None and item.owner_region != owner.code:
            return None
        return parse_region(item.owner_region)

    async def _on_desk(self, fn: Callable[..., T], *args: Any) -> T:
        """A blocking part of a call on a desk thread, keeping the caller for `caller()`."""
        ctx = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._desk_pool, ctx.run, fn, *args)

    def _submit(
        self, request: case_pb2.SubmitCaseRequest, context: grpc.ServicerContext
    ) -> case_pb2.CaseView:
        owner = self._owner(request.owner_region, request.item_code)
        if owner is not self._rt.region:
            if "region" in caller().roles:
                raise PermissionDenied(
                    "a region forwards a case only to its owner region, never through a third"
                )
            item = self._item_of(request.item_code)
            if item.owner_region != owner.code:
                raise InvalidArgument(
                    f"service item {item.code} is owned by {item.owner_region}, not {owner.code}"
                )
            view = self._forward(
                owner,
                "submit",
                lambda: self._stub(owner).SubmitCase(
                    request, timeout=self._timeout(), metadata=self._metadata()
                ),
            )
            self._rt.audit(
                caller().entity_id,
                "case.forward",
                "granted",
                view.applicant_id,
                {"case_id": view.case_id, "owner": owner.code},
            )
            return view  # type: ignore[no-any-return]
        case, created = self._desk.submit(submission_from(request, self._window_region()))
        return case_view(case, self._rt.clock.now(), created)

    def GetCase(self, request: case_pb2.CaseRef, context: grpc.ServicerContext) -> Any:
        owner = self._owner(request.owner_region)
        if owner is not self._rt.region:
            return self._forward(
                owner,
                "show",
                lambda: self._stub(owner).GetCase(
                    request, timeout=self._timeout(), metadata=self._metadata()
                ),
            )
        return case_view(self._own_case(request.case_id), self._rt.clock.now())

    def ListCases(self, request: case_pb2.ListCasesRequest, context: grpc.ServicerContext) -> Any:
        """The owner's cases, newest first; a window region sees only those filed from it."""
        owner = self._owner(request.owner_region) if request.owner_region else self._rt.region
        if owner is not self._rt.region:
            return self._forward(
                owner,
                "list",
                lambda: self._stub(owner).ListCases(
                    request, timeout=self._timeout(), metadata=self._metadata()
                ),
            )
        member = caller()
        window_region = None
        if "region" in member.roles:
            self._acting_for()
            window_region = member.region_code
        query = CaseQuery.parse(
            owner.code,
            state=request.state,
            item_code=request.item_code,
            window_id=request.window_id,
            page_size=request.page_size,
            window_region=window_region,
        )
        page, next_token = list_cases(self._rt.store, query, request.page_token)
        now = self._rt.clock.now()
        return case_pb2.ListCasesResponse(
            cases=[case_view(case, now) for case in page], next_page_token=next_token
        )

    async def DecideCase(
        self, request: case_pb2.DecideCaseRequest, context: grpc.aio.ServicerContext
    ) -> case_pb2.CaseView:
        """A reviewer's decision, recorded under the reviewer's own staff id (required).

        A coroutine: a decision that writes only the case (not an approval, which issues a
        licence first) is made on the loop when the store can take it without waiting (its one
        transaction commits there, as a token's replay row does); else, or if the store turns
        out to be busy before anything was written, on a desk thread.
        """
        if request.action in INLINE_ACTIONS:
            try:
                with self._rt.store.without_waiting() as inline:
                    if inline and self._item_held(request.case_id):
                        return self._decide(request)
            except WouldWait:
                pass  # nothing was written: decide again where waiting is allowed
        return await self._on_desk(self._decide, request)

    def _item_held(self, case_id: str) -> bool:
        """Whether deciding the case needs no catalogue refresh from the hub (a network call,
        which the loop must not make): the case is unknown here (refused without one) or its
        item is in the catalogue held now."""
        case = self._rt.store.get_case(case_id)
        return case is None or self._item_now(case.item_code) is not None

    def _decide(self, request: case_pb2.DecideCaseRequest) -> case_pb2.CaseView:
        case = self._desk.decide(
            request.case_id,
            request.action,
            request.reviewer,
            request.reason,
            (json_object(request.result_json, "result_json") or {}),
        )
        return case_view(case, self._rt.clock.now())

    def SupplementCase(
        self, request: case_pb2.SupplementCaseRequest, context: grpc.ServicerContext
    ) -> Any:
        owner = self._owner(request.case.owner_region)
        if owner is not self._rt.region:
            return self._forward(
                owner,
                "supplement",
                lambda: self._stub(owner).SupplementCase(
                    request, timeout=self._timeout(), metadata=self._metadata()
                ),
            )
        self._own_case(request.case.case_id)
        sub = submission_from(request.supplement, self._window_region())
        return case_view(self._desk.supplement(request.case.case_id, sub), self._rt.clock.now())

    async def WatchCase(
        self, request: case_pb2.WatchCaseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[case_pb2.CaseEventMessage]:
        """Events after `after_seq`, then each new one: a coroutine, it holds no worker."""
        max_s = request.max_seconds or 60
        if not 0 < max_s <= 600:
            raise InvalidArgument("max_seconds must be 1..600")
        owner = self._owner(request.case.owner_region)
        if owner is not self._rt.region:
            self._may_forward(owner, "watch")
            call = self._aio_stub(owner).WatchCase(
                request, timeout=max_s + 5, metadata=self._metadata()
            )
            try:
                async for message in call:
                    yield message
            except grpc.RpcError as exc:
                raise error_from_rpc(exc, f"watch at owner region {owner.short}") from None
            return
        case_id = request.case.case_id
        await self._on_worker(self._own_case, case_id)
        after = request.after_seq
        deadline = time.monotonic() + max_s
        while (remaining := deadline - time.monotonic()) > 0:
            woken = self._changes.listen(case_id)
            try:
                events = await self._on_worker(self._rt.store.case_events, case_id, after)
                if not events:
                    case = await self._on_worker(self._desk.get, case_id)
                    if case.state == CaseState.CLOSED.value:
                        # closed after our read: its last events committed with the state, so
                        # one more read sees them all; then nothing more comes
                        events = await self._on_worker(self._rt.store.case_events, case_id, after)
                        for event in events:
                            yield event_message(event)
                        return
                for event in events:
                    after = event.seq
                    yield event_message(event)
                    if event.to_state == CaseState.CLOSED.value:
                        return
                await self._changes.wait(woken, min(remaining, RECHECK_S))
            finally:
                self._changes.forget(case_id, woken)

    async def _on_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """A short store read off the event loop, keeping the caller for `caller()`."""
        ctx = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._watch_pool, ctx.run, fn, *args)

    def RateCase(self, request: case_pb2.RateCaseRequest, context: grpc.ServicerContext) -> Any:
        owner = self._owner(request.case.owner_region)
        if owner is not self._rt.region:
            return self._forward(
                owner,
                "rate",
                lambda: self._stub(owner).RateCase(
                    request, timeout=self._timeout(), metadata=self._metadata()
                ),
            )
        self._own_case(request.case.case_id)
        rating = self._desk.rate(
            request.case.case_id,
            request.applicant_token,
            request.score,
            list(request.reasons),
            request.comment,
        )
        return rating_to_proto(rating)

    def ExportCase(
        self, request: case_pb2.CaseRef, context: grpc.ServicerContext
    ) -> case_pb2.ExportCaseResponse:
        case = self._desk.get(request.case_id)
        if case.state != CaseState.CLOSED.value:
            raise FailedPrecondition(
                f"case {case.case_id} is {case.state}; only closed cases are archived"
            )
        archive = self._export(case)
        self._rt.audit(
            caller().entity_id,
            "case.export",
            "granted",
            case.applicant_id,
            {"case_id": case.case_id},
        )
        return case_pb2.ExportCaseResponse(archive=archive)

    def GetStats(
        self, request: case_pb2.StatsRequest, context: grpc.ServicerContext
    ) -> case_pb2.StatsResponse:
        return case_pb2.StatsResponse(
            region=self._rt.region.code, stats_json=json.dumps(self._stats(), ensure_ascii=False)
        )

    def CheckFace(
        self, request: case_pb2.CheckFaceRequest, context: grpc.ServicerContext
    ) -> case_pb2.CheckFaceResponse:
        if not request.subject_id:
            raise InvalidArgument("subject_id is required")
        result = self._face(request.subject_id, list(request.template))
        self._rt.audit(
            caller().entity_id,
            "case.face_check",
            "match" if result.match else "no-match",
            request.subject_id,
            {"score": round(result.score, 4)},
        )
        if not result.match:
            raise Unauthenticated(
                f"face verification failed at the hub (similarity {result.score:.3f})"
            )
        return case_pb2.CheckFaceResponse(
            match=True, score=result.score, assertion=result.assertion
        )
