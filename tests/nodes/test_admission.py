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
        await changes.wait("C32-A", woken, 5.0)
        await changes.wait("C32-B", other, 0.01)  # times out: nothing happened to B
        woke = woken.done() and not woken.cancelled()
        return woke and other.cancelled() and changes.watchers() == 0

    assert asyncio.run(scenario())


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
