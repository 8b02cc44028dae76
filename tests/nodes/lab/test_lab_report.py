"""The lab report's pure parts: phases from fault events, time to recover, availability,
HDR percentiles and the `links` section, on hand-made samples."""

from __future__ import annotations

from nodes.lab.load import OK, Sample
from nodes.lab.report import (
    Event,
    latency_stats,
    links_section,
    phases,
    recovery,
    time_to_recover,
    windows,
)

EVENTS = [
    Event(10.0, "partition AH", "partition", "start", 0),
    Event(16.0, "partition AH", "partition", "end", 0),
]


def op_samples(fail_from: float, fail_until: float, step: float = 0.5) -> list[Sample]:
    return [
        Sample("aggregation", t, 0.03, 0.03, "INCOMPLETE" if fail_from <= t < fail_until else OK)
        for t in (i * step for i in range(int(30 / step)))
    ]


def test_phases_are_the_intervals_between_fault_events() -> None:
    cut = phases(EVENTS, 30.0)
    assert [(p.start_s, p.end_s, p.faults) for p in cut] == [
        (0.0, 10.0, ()),
        (10.0, 16.0, ("partition AH",)),
        (16.0, 30.0, ()),
    ]
    assert cut[1].name == "1: partition AH" and cut[2].name == "2: no fault"


def test_recovery_starts_at_the_first_sustained_run_of_successes() -> None:
    samples = op_samples(10.0, 17.0)
    samples[36] = Sample("aggregation", 18.0, 0.03, 0.03, "UNAVAILABLE")  # one relapse
    # 17.0 and 17.5 succeed but 18.0 fails within 2 s of them: the sustained run starts at 18.5
    assert time_to_recover(samples, 16.0, 2.0, 3) == 2.5
    (row,) = recovery(samples, windows(EVENTS), 2.0, 3)
    assert row["impacted"] and row["availability_during"] == 0.0
    assert row["time_to_recover_s"] == 2.5 and row["availability_after_recovery"] == 1.0


def test_a_sparse_operation_recovers_at_its_first_requests_not_at_a_dense_window() -> None:
    sparse = [Sample("case_submit", t, 0.05, 0.05, OK) for t in (17.0, 21.0, 25.0, 29.0)]
    assert time_to_recover(sparse, 16.0, 2.0, 3) == 1.0
    assert time_to_recover(sparse[:2], 16.0, 2.0, 3) is None  # too few to call it sustained


def test_stats_count_failures_by_status_and_take_percentiles_of_successes() -> None:
    samples = [Sample("x", i, (i + 1) / 1000, 0.0005, OK) for i in range(100)]
    samples += [Sample("x", 0, 5.0, 5.0, "DEADLINE_EXCEEDED")] * 3
    stats = latency_stats(samples)
    assert stats["attempted"] == 103 and stats["ok"] == 100
    assert stats["availability"] == round(100 / 103, 4)
    assert stats["errors_by_status"] == {"DEADLINE_EXCEEDED": 3}
    q = stats["latency_ms"]
    assert abs(q["p50"] - 50) <= 0.1 and abs(q["p99"] - 99) <= 0.1 and q["max"] <= 100.1


def test_links_keep_only_probes_sent_outside_faults() -> None:
    probes = [
        Sample("link:310000->340000", t, 0.02, 0.014, "UNAVAILABLE" if 10 <= t < 16 else OK)
        for t in range(30)
    ]
    links = links_section(probes, windows(EVENTS))
    entry = links["310000->340000"]
    assert entry["count"] == 24 and entry["errors"] == 0
    assert entry["samples_ms"] == [14.0] * 24 and entry["p50_ms"] == 14.0
    assert entry["operation"] == "echo" and entry["unit"] == "ms"


def test_requests_sent_just_before_the_next_fault_do_not_count_against_recovery() -> None:
    events = [
        *EVENTS,
        Event(25.0, "freeze JS", "freeze", "start", 1),
        Event(28.0, "freeze JS", "freeze", "end", 1),
    ]
    samples = op_samples(10.0, 17.0)
    samples[49] = Sample("aggregation", 24.5, 5.0, 5.0, "DEADLINE_EXCEEDED")  # hit by the freeze
    first = recovery(samples, windows(events), 2.0, 3)[0]
    assert first["availability_after_recovery"] < 1
    graced = recovery(samples, windows(events), 2.0, 3, grace_s=5.0)[0]
    assert graced["availability_after_recovery"] == 1.0
