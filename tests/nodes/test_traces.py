"""One remote-window case is one trace across SH window, JS owner, AH material and the hub.

The session federation writes each node's spans to `<node dir>/spans.jsonl`; the test is the
window operator's console: it opens a root span around one submission, and its traced client
carries the W3C context to the nodes, which pass it on to every peer they call.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest

from federation.errors import InvalidArgument
from federation.regions import Region
from nodes.client import FederationClient
from nodes.observability.access_log import WRITE_EVERY_S, access_line
from nodes.observability.trace_files import Span, critical_path, load_spans, trace_tree, traces
from nodes.observability.tracing import NodeTracing
from tests._support.nodes import eventually
from tests.nodes.test_cases import catalogue_ready, new_applicant  # noqa: F401 - fixture

NODES = ("hub", "sh", "js", "zj", "ah")
SUBMIT = "yrd.federation.v1.CaseService/SubmitCase"
READ = "yrd.federation.v1.LicenceService/ReadLicence"
CHECK_FACE = "yrd.federation.v1.CaseService/CheckFace"
VERIFY_FACE = "yrd.federation.v1.FaceService/VerifyFace"
WATCH = "yrd.federation.v1.CaseService/WatchCase"


def span_files(fed_dir: Path) -> list[Path]:
    return [fed_dir / node / "spans.jsonl" for node in NODES]


def one(spans: list[Span], service: str, name: str, kind: str) -> Span:
    found = [s for s in spans if (s.service, s.name, s.kind) == (service, name, kind)]
    assert len(found) == 1, f"{service} {kind} {name}: {len(found)} spans"
    return found[0]


@pytest.mark.usefixtures("catalogue_ready")
def test_remote_window_case_is_one_trace_with_a_critical_path(
    fed_dir: Path, client: FederationClient, tmp_path: Path
) -> None:
    console = NodeTracing("window-console", f"file:{tmp_path / 'console.jsonl'}")
    with FederationClient(fed_dir, tracing=console) as traced:
        applicant = new_applicant(client)  # set-up calls: not part of the case's trace
        applicant.client = traced
        with console.tracer.start_as_current_span("remote-window case") as root:
            view = applicant.submit(f"trace-{secrets.token_hex(4)}")
            # the window follows the case: SH relays JS's event stream over a grpc.aio channel
            events = list(traced.watch_case("SH", view.case_id, "JS", max_seconds=1))
        trace_id = format(root.get_span_context().trace_id, "032x")
    console.shutdown()
    assert view.owner_region == Region.JS.code
    assert [e.to_state for e in events][:1] == ["submitted"]

    files = [tmp_path / "console.jsonl", *span_files(fed_dir)]

    def whole_trace() -> list[Span]:
        spans = traces(load_spans(files)).get(trace_id, [])
        services = {s.service for s in spans}
        assert {Region.SH.entity_id, Region.JS.entity_id, Region.AH.entity_id} <= services
        assert Region.HUB.entity_id in services
        one(spans, Region.AH.entity_id, READ, "SERVER")
        one(spans, Region.JS.entity_id, WATCH, "SERVER")
        trace_tree(spans, trace_id)  # one root: every parent's span is there too
        return spans

    spans = eventually(whole_trace, timeout_s=15)  # nodes export every half second
    root_span, children = trace_tree(spans, trace_id)
    assert (root_span.service, root_span.name) == ("window-console", "remote-window case")
    by_id = {s.span_id: s for s in spans}
    assert all(s.parent_id in by_id for s in spans if s is not root_span)

    def parent(span: Span) -> Span:
        return by_id[span.parent_id]

    # SH window -> JS owner -> AH material read, each hop a client span under a server span
    sh_submit = one(spans, Region.SH.entity_id, SUBMIT, "SERVER")
    assert parent(parent(sh_submit)) is root_span  # the console's client span in between
    js_submit = one(spans, Region.JS.entity_id, SUBMIT, "SERVER")
    to_js = parent(js_submit)
    assert (to_js.service, to_js.kind, to_js.attributes["yrd.target"]) == (
        Region.SH.entity_id,
        "CLIENT",
        Region.JS.entity_id,
    )
    assert parent(to_js) is sh_submit
    ah_read = one(spans, Region.AH.entity_id, READ, "SERVER")
    assert parent(ah_read).service == Region.JS.entity_id
    assert parent(parent(ah_read)) is js_submit
    # ... and the hub's face check, under the window's CheckFace
    hub_face = one(spans, Region.HUB.entity_id, VERIFY_FACE, "SERVER")
    assert parent(parent(hub_face)) is one(spans, Region.SH.entity_id, CHECK_FACE, "SERVER")
    # the relayed stream: SH's server stream -> SH's aio client span -> JS's server stream
    js_watch = one(spans, Region.JS.entity_id, WATCH, "SERVER")
    assert parent(js_watch).kind == "CLIENT" and parent(js_watch).service == Region.SH.entity_id
    assert parent(parent(js_watch)) is one(spans, Region.SH.entity_id, WATCH, "SERVER")
    assert all(s.status != "ERROR" for s in spans)
    # a server span lies inside its caller's client span (one machine, one clock)
    for span in (js_submit, ah_read, hub_face):
        caller = parent(span)
        assert caller.start_ns <= span.start_ns and span.end_ns <= caller.end_ns

    path = critical_path(spans, trace_id)
    assert path[0].span is root_span and path[0].depth == 0
    assert sum(step.on_path_ns for step in path) == root_span.end_ns - root_span.start_ns
    on_path = [step.span.span_id for step in path]
    # the submission is the last call of the case: its whole chain is on the critical path
    chain = [on_path.index(s.span_id) for s in (sh_submit, js_submit, ah_read)]
    assert chain == sorted(chain)
    assert all(step.on_path_ns >= 0 for step in path)
    assert len(children[root_span.span_id]) >= 3  # face check, tokens, submission

    # the access logs of the four nodes name the same trace
    for node in ("sh", "js", "ah", "hub"):
        text = (fed_dir / node / "access.log").read_text(encoding="utf-8")
        lines = [json.loads(line) for line in text.splitlines()]
        mine = [line for line in lines if line["trace_id"] == trace_id]
        assert mine, f"no access log line of {node} names the trace"
        for line in mine:
            assert set(line) == {"ts", "method", "peer", "status", "duration_ms", "trace_id"}
            assert line["ts"].endswith("+08:00") and line["status"] == "OK"
            assert line["duration_ms"] >= 0


def test_a_refused_call_is_logged_and_traced_with_its_status(
    fed_dir: Path, client: FederationClient
) -> None:
    log = fed_dir / "sh" / "access.log"

    def refusals() -> list[dict[str, str]]:
        entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        wanted = ("/" + CHECK_FACE, "yrd:operator:100000", "INVALID_ARGUMENT")
        return [e for e in entries if (e["method"], e["peer"], e["status"]) == wanted]

    time.sleep(2 * WRITE_EVERY_S)  # earlier tests' lines are written by now
    before = len(refusals())
    with pytest.raises(InvalidArgument):
        client.check_face("SH", "", [0.5] * 128)

    def logged() -> dict[str, str]:
        found = refusals()
        assert len(found) > before
        return found[-1]

    line = eventually(logged, timeout_s=5)
    assert len(line["trace_id"]) == 32  # a call without a caller's trace starts one

    def spanned() -> Span:
        spans = load_spans([fed_dir / "sh" / "spans.jsonl"])
        matching = [s for s in spans if s.trace_id == line["trace_id"]]
        assert len(matching) == 1
        return matching[0]

    span = eventually(spanned, timeout_s=10)
    assert (span.name, span.kind, span.parent_id) == (CHECK_FACE, "SERVER", "")
    assert span.status == "ERROR" and span.attributes["rpc.grpc.status_code"] == 3


def test_background_polls_are_not_traced(fed_dir: Path) -> None:
    """Regions poll each other's revocations twice a second: neither side records a span."""

    def polled() -> list[dict[str, str]]:
        log = (fed_dir / "sh" / "access.log").read_text(encoding="utf-8").splitlines()
        polls = [json.loads(line) for line in log if "ListRevocations" in line]
        assert polls
        return polls

    assert all(poll["trace_id"] == "" for poll in eventually(polled, timeout_s=10))
    spans = load_spans(span_files(fed_dir))
    nodes = {region.entity_id for region in Region}
    polls = [s for s in spans if s.name.endswith(("/ListRevocations", "/GetTrustList"))]
    assert not [s for s in polls if s.attributes.get("yrd.peer") in nodes]


def test_access_line_is_json_in_china_time() -> None:
    line = json.loads(access_line((0.0, "/a.B/C", "yrd:sh:310000", "OK", 0.0123456, "ab" * 16)))
    assert line == {
        "ts": "1970-01-01T08:00:00.000+08:00",
        "method": "/a.B/C",
        "peer": "yrd:sh:310000",
        "status": "OK",
        "duration_ms": 12.346,
        "trace_id": "ab" * 16,
    }
