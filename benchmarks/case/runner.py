"""The timed case: submit at the window, then the owner's automatic start_review and approve."""

from __future__ import annotations

import json
import time

from benchmarks.case.config import CALL_TIMEOUT_S, OWNER, REVIEWER, STEPS, WINDOW
from benchmarks.harness import LatencyRecorder, Supply
from nodes.client import FederationClient
from nodes.fixtures.case_inputs import CaseInput
from nodes.pb.v1 import case_pb2, case_pb2_grpc


class CaseRunner:
    """One case end to end: submit at the window (owner validates, reads the identity card
    across regions, accepts), then the automatic reviewer's start_review and approve (result
    licence issued, case closed)."""

    def __init__(self, client: FederationClient) -> None:
        self._submit = case_pb2_grpc.CaseServiceStub(client.channel(WINDOW)).SubmitCase
        self._decide = case_pb2_grpc.CaseServiceStub(client.channel(OWNER)).DecideCase
        self.inputs: Supply[CaseInput] = Supply([])
        self.steps: dict[str, LatencyRecorder] = {s: LatencyRecorder() for s in STEPS}
        self.oldest_input_age_s = 0.0

    def new_phase(self, inputs: Supply[CaseInput]) -> dict[str, LatencyRecorder]:
        self.inputs = inputs
        self.steps = {s: LatencyRecorder() for s in STEPS}
        return self.steps

    def call(self) -> object:
        case = self.inputs.take()
        self.oldest_input_age_s = max(self.oldest_input_age_s, time.time() - case.prepared_at)
        t0 = time.perf_counter()
        view = self._submit(case.request, timeout=CALL_TIMEOUT_S)
        t1 = time.perf_counter()
        if view.state != "accepted" or not view.created:
            raise RuntimeError(f"submitted case {view.case_id} is {view.state}")
        review = self._decide(
            case_pb2.DecideCaseRequest(
                case_id=view.case_id, action="start_review", reviewer=REVIEWER
            ),
            timeout=CALL_TIMEOUT_S,
        )
        t2 = time.perf_counter()
        if review.state != "under_review":
            raise RuntimeError(f"case {view.case_id} is {review.state} after start_review")
        closed = self._decide(
            case_pb2.DecideCaseRequest(
                case_id=view.case_id, action="approve", reason="自动审核通过", reviewer=REVIEWER
            ),
            timeout=CALL_TIMEOUT_S,
        )
        t3 = time.perf_counter()
        if closed.state != "closed" or not json.loads(closed.data_json).get("result_licence"):
            raise RuntimeError(f"approved case {view.case_id} is {closed.state}, no result")
        for step, seconds in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            self.steps[step].record(seconds)
        return closed
