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
