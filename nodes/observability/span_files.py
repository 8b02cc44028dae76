"""A span exporter that appends finished spans to a file, one compact JSON object per line.

The line holds what a trace needs to be rebuilt offline (`trace_files` reads it back): ids in
W3C hex (trace 32 digits, span 16), the parent span id ('' for a root), the service (node
entity id), the span name, kind, start/end in Unix nanoseconds, status and attributes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """One finished span as the JSON object a span file line holds."""
    ctx = span.get_span_context()
    parent = span.parent
    attributes = dict(span.attributes or {})
    return {
        "trace_id": format(ctx.trace_id, "032x") if ctx is not None else "",
        "span_id": format(ctx.span_id, "016x") if ctx is not None else "",
        "parent_id": format(parent.span_id, "016x") if parent is not None else "",
        "service": str(span.resource.attributes.get("service.name", "")),
        "name": span.name,
        "kind": span.kind.name,
        "start_ns": span.start_time or 0,
        "end_ns": span.end_time or 0,
        "status": span.status.status_code.name,
        "attributes": {
            k: v if isinstance(v, str | int | float | bool) else str(v)
            for k, v in attributes.items()
        },
    }


class JsonLinesSpanExporter(SpanExporter):  # type: ignore[misc]
    """Appends each exported batch to `path` (created with its folder), flushed per batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(
            json.dumps(span_record(s), ensure_ascii=False, separators=(",", ":")) + "\n"
            for s in spans
        )
        try:
            with self._lock:
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.path.open("a", encoding="utf-8")
                self._file.write(lines)
                self._file.flush()
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # every batch is flushed as it is written


__all__ = ["JsonLinesSpanExporter", "span_record"]
