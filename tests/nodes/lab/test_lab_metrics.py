"""The lab's Prometheus scrape: the text format parsed, a run's increments computed."""

from __future__ import annotations

from nodes.lab.metrics import parse_prometheus_text, run_delta, summarise

TEXT = """\
# HELP yrd_rpc_server_duration_seconds RPC latency
# TYPE yrd_rpc_server_duration_seconds histogram
yrd_rpc_server_duration_seconds_bucket{method="/x",le="0.005"} 3.0
yrd_rpc_server_duration_seconds_count{method="/x"} 7.0
yrd_rpc_server_duration_seconds_sum{method="/x"} 0.25
yrd_rpc_server_duration_seconds_created{method="/x"} 1.7e9
yrd_in_flight 2
yrd_face_quota_left{region="310000"} +Inf
not a sample line
yrd_weird{a="b"} twelve
"""


def test_samples_are_parsed_and_junk_is_skipped() -> None:
    samples = parse_prometheus_text(TEXT)
    assert samples['yrd_rpc_server_duration_seconds_count{method="/x"}'] == 7.0
    assert samples["yrd_in_flight"] == 2.0
    assert samples['yrd_face_quota_left{region="310000"}'] == float("inf")
    assert not any("weird" in k for k in samples)
    kept = summarise(samples)
    assert not any("_bucket{" in k or "_created" in k for k in kept)


def test_a_run_reports_what_it_added_to_counters_and_the_gauges_at_its_end() -> None:
    before = {"310000": {"available": True, "port": 1, "samples": {"a_total": 5.0, "g": 1.0}}}
    after = {
        "310000": {"available": True, "port": 1, "samples": {"a_total": 9.0, "g": 4.0}},
        "320000": {"available": False, "reason": "no metrics_port in its config"},
    }
    delta = run_delta(before, after)
    assert delta["310000"]["during_run"] == {"a_total": 4.0}
    assert delta["310000"]["gauges_at_end"] == {"g": 4.0}
    assert delta["320000"]["available"] is False


def test_phase_deltas_use_the_scrapes_at_each_phase_boundary() -> None:
    from nodes.lab.metrics import phase_deltas
    from nodes.lab.report import Phase

    def snap(count: float, up: bool = True) -> dict[str, object]:
        if not up:
            return {"340000": {"available": False, "reason": "frozen"}}
        return {"340000": {"available": True, "port": 1, "samples": {"c_total": count, "g": 1}}}

    snapshots = [(0.0, snap(0)), (10.02, snap(40)), (16.01, snap(0, up=False)), (30.0, snap(90))]
    cut = [Phase(0, 0, 10, ()), Phase(1, 10, 16, ("freeze AH",)), Phase(2, 16, 30, ())]
    deltas = phase_deltas(snapshots, cut)
    assert deltas["0: no fault"] == {"340000": {"c_total": 40}}
    assert deltas["1: freeze AH"] == {} and deltas["2: no fault"] == {}
