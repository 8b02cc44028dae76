"""Span files read back: trace trees, critical paths, and the file exporter's round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.errors import InvalidArgument, NotFound
from nodes.observability.trace_files import Span, critical_path, load_spans, trace_tree
from nodes.observability.tracing import NodeTracing, exporter_for

TRACE = "0af7651916cd43dd8448eb211c80319c"


def span(span_id: str, parent: str, start: int, end: int, service: str = "n") -> Span:
    return Span(TRACE, span_id, parent, service, f"op-{span_id}", "SERVER", start, end)


def test_critical_path_follows_the_calls_the_parent_waited_for() -> None:
    # root 0..100 calls a (10..30), then b (40..90); b calls d (45..60) and c (50..80): b
    # waited for c, and before c started, for d (its part after 50 ran beside c: off the path)
    spans = [
        span("root", "", 0, 100),
        span("a", "root", 10, 30),
        span("b", "root", 40, 90),
        span("c", "b", 50, 80),
        span("d", "b", 45, 60),
    ]
    path = critical_path(spans, TRACE)
    assert [(s.span.span_id, s.depth, s.on_path_ns) for s in path] == [
        ("root", 0, 10 + 10 + 10),  # 0..10, 30..40, 90..100
        ("a", 1, 20),
        ("b", 1, 5 + 10),  # 40..45, 80..90
        ("d", 2, 5),  # 45..50
        ("c", 2, 30),
    ]
    assert path[1].to_dict()["on_path_ms"] == 0.0  # 20 ns
    assert sum(step.on_path_ns for step in path) == 100


def test_a_child_outlasting_its_parent_is_clamped_to_it() -> None:
    # another node's clock runs a little ahead: its span seems to end after the caller's
    spans = [span("root", "", 0, 100), span("late", "root", 20, 130, service="other")]
    path = critical_path(spans, TRACE)
    assert [(s.span.span_id, s.on_path_ns) for s in path] == [("root", 20), ("late", 80)]


@st.composite
def trees(draw: st.DrawFn) -> list[Span]:
    """Random span trees: each child starts and ends anywhere within a few units of its parent."""
    spans = [span("s0", "", 0, draw(st.integers(1, 10_000)))]
    for index in range(1, draw(st.integers(1, 25))):
        parent = draw(st.sampled_from(spans))
        start = draw(st.integers(parent.start_ns - 5, parent.end_ns))
        end = draw(st.integers(start, parent.end_ns + 5))
        spans.append(span(f"s{index}", parent.span_id, start, end))
    return spans


@settings(max_examples=100, deadline=None)
@given(trees())
def test_path_shares_add_up_to_the_root_and_follow_parent_links(spans: list[Span]) -> None:
    path = critical_path(spans, TRACE)
    root = spans[0]
    assert path[0].span == root and path[0].depth == 0
    assert sum(step.on_path_ns for step in path) == root.end_ns - root.start_ns
    assert all(step.on_path_ns >= 0 for step in path)
    on_path = {step.span.span_id for step in path}
    by_id = {s.span_id: s for s in spans}
    for step in path[1:]:  # every span on the path hangs from one on the path, one level up
        parent = by_id[step.span.parent_id]
        assert parent.span_id in on_path
        assert step.depth == next(s.depth for s in path if s.span is parent) + 1


def test_trace_tree_needs_one_root(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no span of trace"):
        trace_tree([], TRACE)
    orphans = [span("a", "missing-1", 0, 10), span("b", "missing-2", 0, 10)]
    with pytest.raises(InvalidArgument, match=r"2 roots .* are all nodes' files given"):
        trace_tree(orphans, TRACE)


def test_bad_span_lines_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_text('{"trace_id": "t"}\n', encoding="utf-8")
    with pytest.raises(InvalidArgument, match=r"spans.jsonl:1: not a span record"):
        load_spans([path])
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(InvalidArgument, match=r"spans.jsonl:1"):
        load_spans([path])
    assert load_spans([tmp_path / "absent.jsonl"]) == []


def test_exported_spans_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    tracing = NodeTracing("yrd:sh:310000", f"file:{path}")
    with tracing.tracer.start_as_current_span("case") as root:
        server, token = tracing.start_server("/yrd.x.v1.S/Call", "yrd:js:320000", None)
        client, headers = tracing.start_client("/yrd.x.v1.T/Next", "yrd:ah:340000")
        tracing.end_client(client, "PERMISSION_DENIED")
        trace_id = tracing.end_server(server, token, "OK")
    tracing.shutdown()
    assert trace_id == format(root.get_span_context().trace_id, "032x")
    assert [k for k, _ in headers] == ["traceparent"]
    assert headers[0][1].startswith(f"00-{trace_id}-")
    spans = {s.name: s for s in load_spans([path])}
    assert set(spans) == {"case", "yrd.x.v1.S/Call", "yrd.x.v1.T/Next"}
    called, served = spans["yrd.x.v1.T/Next"], spans["yrd.x.v1.S/Call"]
    assert called.parent_id == served.span_id and served.parent_id == spans["case"].span_id
    assert (called.kind, called.status) == ("CLIENT", "ERROR")
    assert called.attributes["rpc.grpc.status_code"] == 7
    assert called.attributes["yrd.target"] == "yrd:ah:340000"
    assert served.attributes["yrd.peer"] == "yrd:js:320000"
    assert {s.service for s in spans.values()} == {"yrd:sh:310000"}
    line = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert set(line) == {
        "trace_id", "span_id", "parent_id", "service", "name", "kind",
        "start_ns", "end_ns", "status", "attributes",
    }  # fmt: skip


def test_a_call_outside_any_span_is_not_traced(tmp_path: Path) -> None:
    tracing = NodeTracing("yrd:sh:310000", f"file:{tmp_path / 'spans.jsonl'}")
    span_, headers = tracing.start_client("/yrd.x.v1.T/Poll", "yrd:hub:100000")
    assert span_ is None and headers[0][1].endswith("-00")  # W3C: not sampled
    server, token = tracing.start_server("/yrd.x.v1.T/Poll", "yrd:sh:310000", headers)
    assert tracing.end_server(server, token, "OK") == ""
    tracing.end_client(span_, "OK")
    tracing.shutdown()
    assert load_spans([tmp_path / "spans.jsonl"]) == []


def test_otlp_export_is_built_or_names_the_extra_it_needs() -> None:
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
    except ImportError:
        with pytest.raises(InvalidArgument, match=r"pip install 'yrd-federation\[otlp\]'"):
            exporter_for("otlp:http://127.0.0.1:4318/v1/traces")
    else:
        exporter = exporter_for("otlp:http://127.0.0.1:4318/v1/traces")
        assert type(exporter).__name__ == "OTLPSpanExporter"
        exporter.shutdown()
    with pytest.raises(InvalidArgument, match="tracing is off"):
        exporter_for("")
