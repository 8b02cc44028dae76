"""The observability benchmark runs as a script and reports every configuration against off."""

from __future__ import annotations

import json

from tests.benchmarks._reports import run_script

CONFIGS = ["off", "metrics", "metrics+log", "metrics+log+traces"]


def test_quick_run_reports_each_configuration_against_the_baseline() -> None:
    proc = run_script("observability_bench", "--quick")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["benchmark"] == "observability_bench"
    assert list(report["latency_us"]) == CONFIGS
    assert report["setup"] == {"calls_per_config": 100, "rounds": 2, "order": "ABBA"}
    assert report["ratio_over_off"]["off"] == {"p50": 1.0, "p90": 1.0, "p99": 1.0}
    for config in CONFIGS:
        latency = report["latency_us"][config]
        assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"]
        assert report["cpu_us_per_call"][config] > 0
    assert report["added_cpu_us_per_call"]["off"] == 0


def test_bad_sizes_are_refused() -> None:
    proc = run_script("observability_bench", "--calls", "0")
    assert proc.returncode == 2
    assert "--calls and --rounds must be at least 1" in proc.stderr
