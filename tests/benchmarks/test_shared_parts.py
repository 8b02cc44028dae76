"""The parts the node benchmarks share: options, phases in ABBA rounds, headlines, the runner."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from benchmarks.harness import (
    Call,
    LatencyRecorder,
    Load,
    LoadResult,
    PhaseComparison,
    RunDefaults,
    RunOptions,
    headline,
    load_phase,
    new_parser,
    parse_run_options,
    ratios_over,
    sequential_phase,
)

DEFAULTS = RunDefaults(concurrency=8, open_workers=32, requests=(200, 2000), warmup=(30, 300))


def parse(*argv: str) -> RunOptions:
    p = new_parser("test", requests_help="requests", rate_help="rate")
    return RunOptions(**parse_run_options(p, list(argv), DEFAULTS)[1])


def test_sizes_default_for_quick_and_full_runs() -> None:
    full, quick = parse(), parse("--quick")
    assert (full.requests, full.warmup, full.concurrency) == (2000, 300, 8)
    assert (quick.requests, quick.warmup) == (200, 30)
    assert parse("--quick", "--requests", "7").requests == 7
    assert quick.closed_cn == "closed_c8"


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse("--requests", "1", "--rounds", "2")
    with pytest.raises(SystemExit):
        parse("--rate", "0")


def test_open_loop_rate_is_given_or_a_share_of_capacity() -> None:
    auto = parse()
    assert auto.auto_rate(333.0, floor=10.0, digits=-1) == 170.0
    assert auto.auto_rate(4.0, floor=10.0, digits=-1) == 10.0
    assert auto.rate_source("verify") == "auto: 0.5 x verify throughput at concurrency 8"
    given = parse("--rate", "25")
    assert given.auto_rate(333.0, floor=10.0, digits=-1) == 25.0
    assert given.rate_source("verify") == "--rate"


def test_options_for_the_report_have_paths_as_strings() -> None:
    opts = parse("--out", "/tmp/x.json")
    described = opts.to_dict()
    assert described["out"] == str(Path("/tmp/x.json")) and described["parent"] is None
    assert list(described)[:2] == ["requests", "concurrency"]


def fake_load(log: list[tuple[str, int]]) -> Load:
    """Records which target ran with how many requests; every request took 1 ms."""

    def load(call: Call, requests: int) -> LoadResult:
        log.append((str(call()), requests))
        latency = LatencyRecorder()
        latency.extend([0.001] * requests)
        return LoadResult("fake", 1, requests, requests, 0, 1.0, latency)

    return load


def test_load_phase_splits_requests_over_abba_rounds() -> None:
    runs: list[tuple[str, int]] = []
    messages: list[str] = []
    opts = parse("--requests", "40", "--rounds", "4")
    targets = {"a": lambda: "a", "b": lambda: "b"}
    phase = load_phase("p", targets, fake_load(runs), opts, "fake", messages.append)
    assert [n for n, _ in runs] == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert {r for _, r in runs} == {10}
    assert phase.merged("a").completed == 40
    assert messages == ["p: fake, 10 x 4 rounds"]


def test_headline_and_ratios_over_every_phase() -> None:
    opts = parse("--requests", "4", "--rounds", "1", "--concurrency", "2")
    phases: dict[str, PhaseComparison] = {}
    targets = {"base": lambda: None, "t": lambda: None}
    phases["x_sequential"] = sequential_phase("x_sequential", targets, 4, lambda _: None)
    for name in ("x_closed_c1", "x_closed_c2", "x_open_loop"):
        phases[name] = load_phase(name, targets, fake_load([]), opts, "", lambda _: None)
    line = headline(phases, "t", opts.closed_cn, prefix="x_")
    assert list(line) == [
        "sequential_latency_ms",
        "throughput_c1_per_s",
        "throughput_c2_per_s",
        "latency_c2_ms",
        "open_loop_latency_ms",
        "server_cpu_ms_per_request",
    ]
    over = ratios_over(phases, "t", "base", opts.closed_cn, prefix="x_")
    assert list(over) == ["sequential", "closed_c1", "closed_c2", "open_loop"]
    assert over["closed_c2"]["p50"] == 1.0


def test_new_parser_is_an_argparse_parser() -> None:
    assert isinstance(new_parser("d", requests_help="r", rate_help="x"), argparse.ArgumentParser)
