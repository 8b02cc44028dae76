"""The licence benchmark's timed phases: verification against an echo, aggregation against a hop."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks._federation import Readiness, echo_call, wait_until_ok
from benchmarks.harness import (
    Call,
    LatencyRecorder,
    PhaseComparison,
    ProcessCpu,
    Supply,
    closed_loop,
    load_phase,
    open_loop,
    sequential_phase,
    warm_up,
)
from benchmarks.licence.calls import Aggregation, RelayedRead, SingleHop, verify_call
from benchmarks.licence.config import (
    AGG,
    AGGREGATOR,
    CALL_TIMEOUT_S,
    ECHO,
    ECHO_AGG,
    HOP,
    ISSUER,
    LEGS,
    RELAY,
    VERIFIER,
    VERIFY,
    Options,
    log,
)
from nodes.client import FederationClient
from nodes.fixtures.licences import Fixtures

Phases = dict[str, PhaseComparison]


@dataclass(frozen=True)
class VerificationRun:
    """What the verify_* phases produced."""

    phases: Phases
    verify: Call  # reused as a target of the aggregation's sequential phase
    payload_bytes: int  # the echo's, as large as a mean SD-JWT
    rate: float  # the open loop's arrivals per second
    ready: Readiness


@dataclass(frozen=True)
class AggregationRun:
    """What the aggregate_* phases produced."""

    phases: Phases
    fanout: dict[str, LatencyRecorder]  # the slowest leg of each aggregation, per phase
    targets: tuple[str, ...]  # the sequential phase's targets, in order
    expected_licences: int
    token_bytes: int  # the echo's payload, as large as a holder token
    ready: Readiness


def run_verification(
    client: FederationClient, pool: list[str], opts: Options, cpu: ProcessCpu
) -> VerificationRun:
    """(b) cross-region verification at VERIFIER against VERIFIER's echo, one channel."""
    payload = b"x" * round(statistics.mean(len(s) for s in pool))
    verify = verify_call(client, pool)
    targets = {ECHO: echo_call(client.channel(VERIFIER), payload, CALL_TIMEOUT_S), VERIFY: verify}
    ready = Readiness(*wait_until_ok(verify))
    log(f"first verification answered after {ready.seconds:.1f} s ({ready.failures} failed)")
    log("warming up the verification targets")
    for call in targets.values():
        warm_up(call, opts.warmup, opts.concurrency)
    phases, rate = _verification_phases(targets, opts, cpu)
    return VerificationRun(phases, verify, len(payload), rate, ready)


def _verification_phases(
    targets: dict[str, Call], opts: Options, cpu: ProcessCpu
) -> tuple[Phases, float]:
    """Sequential, closed loop at 1 and --concurrency, then open loop at the rate they give."""
    seq = "verify_sequential"
    phases = {seq: sequential_phase(seq, targets, opts.requests, log)}
    for concurrency in dict.fromkeys((1, opts.concurrency)):
        name = f"verify_closed_c{concurrency}"
        load = closed_loop(concurrency, cpu)
        describe = f"closed loop, concurrency {concurrency}"
        phases[name] = load_phase(name, targets, load, opts, describe, log)
    capacity = phases[f"verify_{opts.closed_cn}"].merged(VERIFY).throughput
    rate = opts.auto_rate(capacity, floor=10.0, digits=-1)
    describe = f"open loop {rate:.0f}/s {opts.arrivals}"
    load = open_loop(opts, rate, cpu)
    phases["verify_open_loop"] = load_phase("verify_open_loop", targets, load, opts, describe, log)
    return phases, rate


class AggregationTargets:
    """The aggregation phases' targets at AGGREGATOR, and the holder tokens they consume."""

    def __init__(
        self, directory: Path, client: FederationClient, fixtures: Fixtures, verify: Call
    ) -> None:
        holder = fixtures.holder
        self.fixtures = fixtures
        self.expected = 4 * holder.licences_per_region
        self.aggregation = Aggregation(client, self.expected)
        self.single_hop = SingleHop(directory, client, holder.subject_id)
        self.relayed = RelayedRead(client, holder.driving_licence)
        self.token_bytes = len(fixtures.tokens(AGGREGATOR, 1)[0])
        echo = echo_call(client.channel(AGGREGATOR), b"x" * self.token_bytes, CALL_TIMEOUT_S)
        self.calls: dict[str, Call] = {
            ECHO_AGG: echo,
            HOP: self.single_hop.call,
            LEGS: self.single_hop.parallel,
            AGG: self.aggregation.call,
            RELAY: self.relayed.call,
            VERIFY: verify,
        }

    def refill(self, count: int) -> None:
        """`count` fresh tokens for each target that consumes them (each is single use)."""
        self.aggregation.tokens = Supply(self.fixtures.tokens(AGGREGATOR, count))
        self.relayed.tokens = Supply(self.fixtures.tokens(ISSUER, count))
        # one per single hop, three per three-hops-at-once
        self.single_hop.tokens = Supply(self.fixtures.tokens(AGGREGATOR, 4 * count))

    def wait_until_ready(self) -> Readiness:
        self.refill(400)
        agg_s, agg_failures = wait_until_ok(self.aggregation.call)
        relay_s, relay_failures = wait_until_ok(self.relayed.call)
        ready = Readiness(max(agg_s, relay_s), agg_failures + relay_failures)
        log(f"first aggregation answered after {ready.seconds:.1f} s ({ready.failures} failed)")
        return ready


def run_aggregation(
    directory: Path,
    client: FederationClient,
    fixtures: Fixtures,
    verify: Call,
    opts: Options,
    cpu: ProcessCpu,
) -> AggregationRun:
    """(c) aggregation at AGGREGATOR against one leg of its fan-out."""
    targets = AggregationTargets(directory, client, fixtures, verify)
    try:
        ready = targets.wait_until_ready()
        log("warming up the aggregation targets")
        targets.refill(opts.warmup + 16)
        for call in targets.calls.values():
            warm_up(call, opts.warmup, opts.concurrency)
        phases, fanout = _aggregation_phases(targets, opts, cpu)
    finally:
        targets.single_hop.close()
    names = tuple(targets.calls)
    return AggregationRun(phases, fanout, names, targets.expected, targets.token_bytes, ready)


def _aggregation_phases(
    targets: AggregationTargets, opts: Options, cpu: ProcessCpu
) -> tuple[Phases, dict[str, LatencyRecorder]]:
    """Sequential with every target, then closed loop at --concurrency: hop and aggregate."""
    fanout: dict[str, LatencyRecorder] = {}
    phases: Phases = {}

    def measured(name: str, run: Callable[[], PhaseComparison]) -> None:
        targets.refill(opts.requests + 16)
        targets.aggregation.fanout = fanout[name] = LatencyRecorder()
        phases[name] = run()

    seq = "aggregate_sequential"
    measured(seq, lambda: sequential_phase(seq, targets.calls, opts.requests, log))
    closed = f"aggregate_{opts.closed_cn}"
    pair = {HOP: targets.single_hop.call, AGG: targets.aggregation.call}
    load = closed_loop(opts.concurrency, cpu)
    describe = f"closed loop, concurrency {opts.concurrency}"
    measured(closed, lambda: load_phase(closed, pair, load, opts, describe, log))
    return phases, fanout
