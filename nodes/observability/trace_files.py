"""Read span files back: one trace's tree across nodes, and its critical path.

Nodes write finished spans as JSON lines (`span_files`); a trace that crossed four nodes is
spread over four files. `load_spans` reads them all, `trace_tree` links one trace's spans by
parent id, and `critical_path` walks back from the root's end, always into the child that
finished last before the current point (the call the parent was waiting for), as Jaeger's
critical-path view does. The time each span spends on that path is its own share of the
trace's latency: the shares add up to the root span's duration.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federation.errors import InvalidArgument, NotFound


@dataclass(frozen=True)
class Span:
    """One finished span as a span file holds it (times in Unix nanoseconds)."""

    trace_id: str
    span_id: str
    parent_id: str
    service: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str = "UNSET"
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Span:
        try:
            return cls(
                trace_id=str(data["trace_id"]),
                span_id=str(data["span_id"]),
                parent_id=str(data.get("parent_id") or ""),
                service=str(data.get("service", "")),
                name=str(data["name"]),
                kind=str(data.get("kind", "")),
                start_ns=int(data["start_ns"]),
                end_ns=int(data["end_ns"]),
                status=str(data.get("status", "UNSET")),
                attributes=dict(data.get("attributes") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgument(f"not a span record: {exc}") from None


@dataclass(frozen=True)
class PathStep:
    """A span on the critical path: its depth in the tree and its own time on the path."""

    span: Span
    depth: int
    on_path_ns: int

    @property
    def on_path_ms(self) -> float:
        return self.on_path_ns / 1e6

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.span.service,
            "name": self.span.name,
            "kind": self.span.kind,
            "span_id": self.span.span_id,
            "depth": self.depth,
            "duration_ms": round(self.span.duration_ms, 3),
            "on_path_ms": round(self.on_path_ms, 3),
            "status": self.span.status,
        }


def load_spans(paths: Iterable[Path]) -> list[Span]:
    """Every span in the given files, once each (a file named twice adds nothing); missing files
    are skipped (a node that served nothing)."""
    spans: list[Span] = []
    seen: set[tuple[str, str]] = set()
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                span = Span.from_dict(json.loads(line))
            except (json.JSONDecodeError, InvalidArgument) as exc:
                raise InvalidArgument(f"{path}:{number}: {exc}") from None
            if (span.trace_id, span.span_id) not in seen:
                seen.add((span.trace_id, span.span_id))
                spans.append(span)
    return spans


def traces(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """trace id -> its spans, each list by start time."""
    out: dict[str, list[Span]] = {}
    for span in spans:
        out.setdefault(span.trace_id, []).append(span)
    for members in out.values():
        members.sort(key=lambda s: (s.start_ns, s.span_id))
    return out


def trace_tree(spans: Iterable[Span], trace_id: str) -> tuple[Span, dict[str, list[Span]]]:
    """The root of one trace and span id -> its children (by start time).

    The root is the span without a parent in the trace; NotFound when the trace has no span,
    InvalidArgument when it has no single root (spans missing from the files given).
    """
    members = traces(spans).get(trace_id)
    if not members:
        raise NotFound(f"no span of trace {trace_id} in the files given")
    ids = {s.span_id for s in members}
    roots = [s for s in members if not s.parent_id or s.parent_id not in ids]
    if len(roots) != 1:
        names = ", ".join(f"{s.service} {s.name}" for s in roots)
        raise InvalidArgument(
            f"trace {trace_id} has {len(roots)} roots ({names}): are all nodes' files given?"
        )
    children: dict[str, list[Span]] = {}
    for span in members:
        if span is not roots[0]:
            children.setdefault(span.parent_id, []).append(span)
    return roots[0], children


def critical_path(spans: Iterable[Span], trace_id: str) -> list[PathStep]:
    """The spans the trace's latency runs through, root first then in the order they ran,
    each with its own time on the path (the times add up to the root's duration)."""
    root, children = trace_tree(spans, trace_id)
    return _walk(root, root.start_ns, root.end_ns, 0, children)


def _walk(
    span: Span, start: int, end: int, depth: int, children: Mapping[str, list[Span]]
) -> list[PathStep]:
    """Attribute (start, end] to `span` and, recursively, to the children it waited for.

    Children are clamped into the parent's window: nodes' clocks may differ a little, and a
    child can never make the parent's path longer than the parent.
    """
    own = 0
    cursor = end
    waited: list[list[PathStep]] = []
    for child in sorted(children.get(span.span_id, ()), key=lambda c: c.end_ns, reverse=True):
        child_end = min(child.end_ns, cursor)
        child_start = max(child.start_ns, start)
        if child_end <= child_start:
            continue  # it ran while the parent waited for a later child
        own += cursor - child_end
        waited.append(_walk(child, child_start, child_end, depth + 1, children))
        cursor = child_start
    own += max(cursor - start, 0)
    steps = [PathStep(span, depth, own)]
    for subtree in reversed(waited):  # found last first: report in the order they ran
        steps.extend(subtree)
    return steps


__all__ = ["PathStep", "Span", "critical_path", "load_spans", "trace_tree", "traces"]
