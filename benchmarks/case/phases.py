"""The case benchmark's run: untimed set-up, readiness and warm-up, then the timed phases."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks._federation import Readiness, echo_call, wait_until_ok
from benchmarks._latency import LatencyRecorder
from benchmarks._load import Call, Supply, warm_up
from benchmarks._phases import Load, PhaseComparison, closed_loop, load_phase, open_loop
from benchmarks.case.config import CALL_TIMEOUT_S, CASE, ECHO, HOME, WINDOW, Options, log
from benchmarks.case.runner import CaseRunner
from nodes.client import FederationClient
from nodes.fixtures.applicants import enrol_applicants, wait_for_catalogue
from nodes.fixtures.case_inputs import Preparer
from nodes.fixtures.tokens import TokenMinter
from nodes.ops.process_cpu import ProcessCpu


@dataclass(frozen=True)
class CaseSetup:
    """What the untimed set-up produced: enrolled applicants behind a preparer, and the runner."""

    preparer: Preparer
    runner: CaseRunner
    setup_s: float


@dataclass(frozen=True)
class WarmedUp:
    """The echo baseline, sized like a submission, and how long the first case took."""

    echo: Call
    payload_bytes: int
    ready: Readiness


@dataclass(frozen=True)
class CasePhase:
    """One timed phase: the case beside the echo, its per-step latencies, its untimed inputs."""

    comparison: PhaseComparison
    steps: dict[str, LatencyRecorder]
    prepare_s: float


@dataclass(frozen=True)
class CaseRun:
    """What the timed phases produced, and what the inputs they consumed cost to prepare."""

    phases: dict[str, CasePhase]
    rate: float  # the open loop's cases per second
    oldest_input_age_s: float
    face_checks: int
    licences_issued: int


def set_up(client: FederationClient, directory: Path, opts: Options, tag: str) -> CaseSetup:
    t0 = time.perf_counter()
    wait_for_catalogue(client)
    log(f"set-up: {opts.applicants} applicants (account and face at ZJ, id card at AH)")
    applicants = enrol_applicants(client, opts.applicants, tag)
    minter = TokenMinter(directory, client.trust_list, HOME)
    preparer = Preparer(client, minter, applicants, tag)
    runner = CaseRunner(client)
    return CaseSetup(preparer, runner, time.perf_counter() - t0)


def warm_up_cases(client: FederationClient, s: CaseSetup, warmup: int) -> WarmedUp:
    """Wait for the first case to close, then warm the case and an echo as large as a submission."""

    def first_case() -> object:  # a fresh input per attempt: a failed one burnt its tokens
        s.runner.new_phase(Supply([s.preparer.one()]))
        return s.runner.call()

    ready = Readiness(*wait_until_ok(first_case))
    log(f"first case closed after {ready.seconds:.1f} s ({ready.failures} failed attempts)")
    warm_inputs = [s.preparer.one() for _ in range(max(warmup, 1))]
    s.runner.new_phase(Supply(warm_inputs))
    payload = b"x" * warm_inputs[0].request.ByteSize()  # as large as a submission
    echo = echo_call(client.channel(WINDOW), payload, CALL_TIMEOUT_S)
    log(f"warming up: {warmup} cases, {max(100, warmup)} echoes")
    warm = warm_up(s.runner.call, warmup) if warmup else None
    if warm is not None and warm.errors:
        raise RuntimeError(f"warm-up cases failed: {warm.first_error}")
    warm_up(echo, max(100, warmup))
    return WarmedUp(echo, len(payload), ready)


def run_phases(s: CaseSetup, echo: Call, opts: Options, cpu: ProcessCpu) -> CaseRun:
    """Closed loop at 1 and --concurrency, then open loop at a share of the cases they closed."""
    phases: dict[str, CasePhase] = {}
    for concurrency in dict.fromkeys((1, opts.concurrency)):
        describe = f"closed loop, concurrency {concurrency}"
        load = closed_loop(concurrency, cpu)
        phases[f"closed_c{concurrency}"] = run_phase(
            f"closed_c{concurrency}", s, echo, opts, load, describe
        )
    capacity = phases[opts.closed_cn].comparison.merged(CASE).throughput
    rate = opts.auto_rate(capacity, floor=1.0, digits=1)
    describe = f"open loop {rate:g} cases/s {opts.arrivals}"
    phases["open_loop"] = run_phase(
        "open_loop", s, echo, opts, open_loop(opts, rate, cpu), describe
    )
    p = s.preparer
    return CaseRun(phases, rate, s.runner.oldest_input_age_s, p.face_checks, p.licences_issued)


def run_phase(
    name: str, s: CaseSetup, echo: Call, opts: Options, load: Load, describe: str
) -> CasePhase:
    """Prepare the phase's inputs (untimed), then run the case beside the echo in ABBA rounds."""
    per_round = opts.requests // opts.rounds
    t0 = time.perf_counter()
    log(f"{name}: preparing {per_round * opts.rounds} cases (licence, tokens, face assertion)")
    steps = s.runner.new_phase(Supply([s.preparer.one() for _ in range(per_round * opts.rounds)]))
    prepare_s = time.perf_counter() - t0
    comparison = load_phase(name, {ECHO: echo, CASE: s.runner.call}, load, opts, describe, log)
    return CasePhase(comparison, steps, prepare_s)
