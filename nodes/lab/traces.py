"""The critical path of one sample case, from the span files the lab's nodes write.

Every case submission carries a W3C `traceparent` with a trace id the lab chose, so the
report can pick one acknowledged case from a phase without faults (the one whose latency is
nearest that phase's median) and follow it through the window, the owner, the identity-card
holder and the hub (`nodes.observability.trace_files.critical_path`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from federation.errors import FederationError
from federation.regions import Region
from nodes.lab.load import OK, Sample
from nodes.lab.report import Window, quiet
from nodes.ops.provisioning import Layout

SPAN_FILE = "spans.jsonl"


def span_files(layout: Layout) -> list[Path]:
    return [layout.node_dir(region) / SPAN_FILE for region in Region]


def sample_case(samples: Sequence[Sample], spans: Sequence[Window]) -> Sample | None:
    """An acknowledged, traced case sent while no fault was active: the median one."""

    cases = sorted(
        (
            s
            for s in samples
            if s.op == "case_submit"
            and s.outcome == OK
            and s.trace_id
            and quiet(s.intended_s, spans)
        ),
        key=lambda s: s.rtt_s,
    )
    return cases[len(cases) // 2] if cases else None


def case_critical_path(layout: Layout, sample: Sample | None) -> dict[str, Any]:
    """The sample case's critical path (each span's own time on it), or why there is none."""
    if sample is None:
        return {"available": False, "reason": "no acknowledged case outside the faults"}
    from nodes.observability.trace_files import critical_path, load_spans

    files = span_files(layout)
    try:
        steps = critical_path(load_spans(files), sample.trace_id)
    except FederationError as exc:
        return {"available": False, "trace_id": sample.trace_id, "reason": exc.message}
    total_ms = sum(step.on_path_ms for step in steps)
    return {
        "available": True,
        "operation": "case_submit",
        "case_id": sample.ack,
        "trace_id": sample.trace_id,
        "client_rtt_ms": round(sample.rtt_s * 1e3, 3),
        "root_ms": round(steps[0].span.duration_ms, 3),
        "path_total_ms": round(total_ms, 3),
        "steps": [step.to_dict() for step in steps],
        "by_service_ms": _by_service(steps),
        "span_files": [str(p) for p in files if p.is_file()],
    }


def _by_service(steps: Sequence[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for step in steps:
        out[step.span.service] = out.get(step.span.service, 0.0) + step.on_path_ms
    return {k: round(v, 3) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}
