"""OpenTelemetry tracing of one node (or one client): its own provider, W3C context over gRPC.

Each node builds its own `TracerProvider` (never the process-global one), so several nodes
or a test and its nodes can share a process. The trace context travels in gRPC metadata as
W3C `traceparent`/`tracestate`; a server span continues the caller's trace, a client span
starts under whatever span is current and is injected into the outgoing call's metadata.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from federation.errors import InvalidArgument
from nodes.config import parse_trace_export
from nodes.observability.span_files import JsonLinesSpanExporter

TRACE_HEADERS = ("traceparent", "tracestate")
# finished spans leave for the exporter at least this often (a file or a collector)
EXPORT_DELAY_MS = 500


def exporter_for(value: str) -> SpanExporter:
    """The exporter a `trace_export` setting names (OTLP is an optional extra, loaded lazily)."""
    kind, where = parse_trace_export(value)
    if kind == "file":
        return JsonLinesSpanExporter(Path(where))
    if kind == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise InvalidArgument(
                "trace_export otlp:... needs the OTLP exporter: pip install 'yrd-federation[otlp]'"
            ) from None
        return OTLPSpanExporter(endpoint=where)  # type: ignore[no-any-return]
    raise InvalidArgument("tracing is off (trace_export is empty): there is no exporter")


def _rpc_attributes(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").rpartition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


def _grpc_code(status: str) -> int:
    code = grpc.StatusCode.__members__.get(status, grpc.StatusCode.UNKNOWN)
    return int(code.value[0])


class NodeTracing:
    """Spans of one service (a node's entity id, or a client's name) and their export."""

    def __init__(self, service: str, export: str, exporter: SpanExporter | None = None) -> None:
        self.service = service
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(
            BatchSpanProcessor(
                exporter if exporter is not None else exporter_for(export),
                schedule_delay_millis=EXPORT_DELAY_MS,
            )
        )
        self.tracer = self.provider.get_tracer("yrd-federation")
        self._propagator = TraceContextTextMapPropagator()
        self._closed = threading.Event()

    # --- server side ----------------------------------------------------------------
    def start_server(
        self, method: str, peer: str, metadata: Iterable[tuple[str, Any]] | None
    ) -> tuple[Any, Any]:
        """A server span under the caller's context (if its metadata carries one), made current."""
        carrier: dict[str, str] = {}
        for key, value in metadata or ():
            if key in TRACE_HEADERS:
                carrier[key] = value if isinstance(value, str) else value.decode("ascii", "replace")
        parent = self._propagator.extract(carrier) if carrier else None
        span = self.tracer.start_span(
            method.lstrip("/"),
            context=parent,
            kind=SpanKind.SERVER,
            attributes={**_rpc_attributes(method), "yrd.peer": peer},
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        return span, token

    def end_server(self, span: Any, token: Any, status: str) -> str:
        """End the span with the call's status; its trace id (32 hex digits) for the log, or
        '' when the trace is not sampled (a node's background poll)."""
        with contextlib.suppress(Exception):  # a stream resumed elsewhere: the span still ends
            otel_context.detach(token)
        self._finish(span, status)
        ctx = span.get_span_context()
        return format(ctx.trace_id, "032x") if ctx.trace_flags.sampled else ""

    # --- client side ----------------------------------------------------------------
    def start_client(self, method: str, target: str) -> tuple[Any, list[tuple[str, str]]]:
        """A client span under the current one, and the metadata that carries it to `target`.

        A call made outside any span (a node's own trust-list refresh, revocation and
        catalogue polls) is not traced: no span here, and a W3C context marked not sampled
        goes along, so the peer records no span for it either (its sampler follows the parent).
        """
        if not trace.get_current_span().get_span_context().is_valid:
            unsampled = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"
            return None, [("traceparent", unsampled)]
        span = self.tracer.start_span(
            method.lstrip("/"),
            kind=SpanKind.CLIENT,
            attributes={**_rpc_attributes(method), "yrd.target": target},
        )
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=trace.set_span_in_context(span))
        return span, sorted(carrier.items())

    def end_client(self, span: Any, status: str) -> None:
        if span is not None:
            self._finish(span, status)

    def _finish(self, span: Any, status: str) -> None:
        if not span.is_recording():  # not sampled: nothing to annotate or export
            span.end()
            return
        span.set_attribute("rpc.grpc.status_code", _grpc_code(status))
        if status != "OK":
            span.set_status(Status(StatusCode.ERROR, status))
        span.end()

    # --- lifecycle ------------------------------------------------------------------
    def flush(self, timeout_ms: int = 5_000) -> bool:
        return bool(self.provider.force_flush(timeout_ms))

    def shutdown(self) -> None:
        """Export what is pending and stop (idempotent)."""
        if not self._closed.is_set():
            self._closed.set()
            self.provider.shutdown()


def current_trace_id() -> str:
    """The trace id of the span current here ('' when none), as 32 hex digits."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


__all__ = [
    "EXPORT_DELAY_MS",
    "TRACE_HEADERS",
    "NodeTracing",
    "current_trace_id",
    "exporter_for",
]
