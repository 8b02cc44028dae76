"""DiagnosticsService: a raw echo, the baseline every benchmark compares against."""

from __future__ import annotations

import grpc

from nodes.pb.v1 import diagnostics_pb2, diagnostics_pb2_grpc


class DiagnosticsServicer(diagnostics_pb2_grpc.DiagnosticsServiceServicer):
    def __init__(self, entity_id: str) -> None:
        self._entity = entity_id

    def Echo(
        self, request: diagnostics_pb2.EchoRequest, context: grpc.ServicerContext
    ) -> diagnostics_pb2.EchoResponse:
        return diagnostics_pb2.EchoResponse(payload=request.payload, entity_id=self._entity)
