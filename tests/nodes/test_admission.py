"""The edge's admission parts: budgets, request field limits, case wake-ups, peer errors."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.errors import (
    FailedPrecondition,
    Internal,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)
from nodes.errors import error_from_rpc
from nodes.pb.v1 import case_pb2, hub_pb2, identity_pb2, licence_pb2
from nodes.server.interceptors import Budget
from nodes.server.request_limits import MAX_ID_CHARS, check_request
from nodes.servicers.case_watch import CaseChanges


def test_a_budget_limits_each_caller_and_the_total() -> None:
    budget = Budget("open streams", total=5, per_caller=3)
    for _ in range(3):
        budget.acquire("yrd:ah:340000")
    with pytest.raises(ResourceExhausted, match="limit 3"):
        budget.acquire("yrd:ah:340000")
    budget.acquire("yrd:sh:310000")
    budget.acquire("yrd:sh:310000")
    with pytest.raises(ResourceExhausted, match="already serves 5"):
        budget.acquire("yrd:zj:330000")
    budget.release("yrd:ah:340000")
    budget.acquire("yrd:zj:330000")
    assert budget.in_use() == 5


@given(st.integers(min_value=MAX_ID_CHARS + 1, max_value=5000))
def test_identifiers_longer_than_the_limit_are_refused(length: int) -> None:
    with pytest.raises(InvalidArgument, match="subject_id"):
        check_request(hub_pb2.VerifyFaceRequest(subject_id="1" * length))


@given(st.text(max_size=MAX_ID_CHARS).filter(lambda t: "\x00" not in t))
def test_identifiers_within_the_limit_pass(text: str) -> None:
    check_request(case_pb2.CaseRef(case_id=text, owner_region=text))


def test_nested_fields_nul_and_nan_are_refused_and_opaque_fields_are_not_limited() -> None:
    with pytest.raises(InvalidArgument, match=r"case\.case_id"):
        check_request(case_pb2.WatchCaseRequest(case=case_pb2.CaseRef(case_id="x\x00")))
    with pytest.raises(InvalidArgument, match="finite"):
        check_request(hub_pb2.VerifyFaceRequest(subject_id="1", template=[1.0, float("nan")]))
    check_request(identity_pb2.VerifyTokenRequest(token="t" * 60_000))
    check_request(licence_pb2.IssueLicenceRequest(fields_json="{" + " " * 10_000 + "}"))
    with pytest.raises(InvalidArgument, match="reason"):
        check_request(licence_pb2.ChangeLicenceStatusRequest(reason="r" * 5000))


def test_case_changes_wake_a_waiter_set_from_another_thread() -> None:
    async def scenario() -> bool:
        changes = CaseChanges()
        changes.bind(asyncio.get_running_loop())
        woken = changes.listen("C32-A")
        other = changes.listen("C32-B")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, changes.changed, "C32-A")
        await changes.wait(woken, 5.0)
        await changes.wait(other, 0.01)  # times out: nothing happened to B
        woke = woken.done() and not woken.cancelled()
        still_waiting = not other.done() and changes.watchers() == 1
        for case_id, future in (("C32-A", woken), ("C32-B", other)):
            changes.forget(case_id, future)
        return woke and still_waiting and other.cancelled() and changes.watchers() == 0

    assert asyncio.run(scenario())


def test_a_watcher_that_leaves_without_a_change_leaves_no_registration() -> None:
    """A closed case never changes again: its watchers must not stay registered for it."""

    async def scenario() -> int:
        changes = CaseChanges()
        changes.bind(asyncio.get_running_loop())

        async def watch() -> None:
            woken = changes.listen("C32-CLOSED")
            try:
                await changes.wait(woken, 60.0)
            finally:
                changes.forget("C32-CLOSED", woken)

        tasks = [asyncio.create_task(watch()) for _ in range(50)]
        await asyncio.sleep(0.01)
        registered = changes.watchers()
        for task in tasks:
            task.cancel()  # the client went away
        await asyncio.gather(*tasks, return_exceptions=True)
        return registered * 1000 + changes.watchers()

    assert asyncio.run(scenario()) == 50 * 1000 + 0


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "boom"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.INTERNAL, Internal),
        (grpc.StatusCode.UNKNOWN, Internal),
        (grpc.StatusCode.UNIMPLEMENTED, FailedPrecondition),
        (grpc.StatusCode.UNAVAILABLE, Unavailable),
        (grpc.StatusCode.OUT_OF_RANGE, InvalidArgument),
    ],
)
def test_a_peers_internal_error_is_not_a_retryable_outage(
    code: grpc.StatusCode, expected: type
) -> None:
    assert type(error_from_rpc(FakeRpcError(code), "JS")) is expected
