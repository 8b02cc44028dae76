"""Phases: the targets of one comparison run side by side, sequentially or under load in rounds."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks._latency import ratio
from benchmarks._load import Call, LoadResult, run_closed_loop, run_open_loop
from benchmarks._load import run_sequential as _run_sequential
from benchmarks._options import RunOptions
from nodes.ops.process_cpu import ProcessCpu

Load = Callable[[Call, int], LoadResult]  # drives `int` requests of one target
Log = Callable[[str], None]


@dataclass
class PhaseComparison:
    """One measurement (e.g. closed loop at concurrency 8) of several targets in one run."""

    name: str
    results: dict[str, list[LoadResult]] = field(default_factory=dict)

    def add(self, target_name: str, result: LoadResult) -> None:
        self.results.setdefault(target_name, []).append(result)

    def merged(self, target_name: str) -> LoadResult:
        return LoadResult.merge(self.results[target_name])

    def to_dict(self, baseline: str) -> dict[str, Any]:
        """Each target's merged result, plus every other target's ratios to the baseline."""
        merged = {name: self.merged(name) for name in self.results}
        out: dict[str, Any] = {name: r.to_dict() for name, r in merged.items()}
        base = merged.get(baseline)
        if base is not None:
            out["ratios"] = {
                f"{name}/{baseline}": ratios(r, base)
                for name, r in merged.items()
                if name != baseline
            }
        return out


def ratios(result: LoadResult, base: LoadResult) -> dict[str, float | None]:
    """Latency percentiles, throughput and server CPU per request of `result` over `base`."""
    s, b = result.latency.summary_ms(), base.latency.summary_ms()
    out = {k: ratio(s.get(k), b.get(k)) for k in ("p50", "p90", "p99", "mean")}
    out["throughput"] = ratio(result.throughput, base.throughput)
    out["server_cpu_per_request"] = ratio(
        result.server_cpu_ms_per_request, base.server_cpu_ms_per_request
    )
    return out


def compare(
    name: str,
    runs: Mapping[str, Callable[[], LoadResult]],
    rounds: int = 2,
) -> PhaseComparison:
    """Run each target `rounds` times in ABBA order (A B B A A B ...) so drift hits all alike."""
    phase = PhaseComparison(name)
    order = list(runs)
    for r in range(rounds):
        for target_name in order if r % 2 == 0 else reversed(order):
            phase.add(target_name, runs[target_name]())
    return phase


def closed_loop(concurrency: int, cpu: ProcessCpu | None) -> Load:
    """A closed loop at `concurrency`, charging `cpu`'s server time to the requests."""
    return lambda call, requests: run_closed_loop(call, requests, concurrency, cpu)


def open_loop(opts: RunOptions, rate: float, cpu: ProcessCpu | None) -> Load:
    """An open loop at `rate` per second with the run's workers and arrival process."""

    def load(call: Call, requests: int) -> LoadResult:
        return run_open_loop(call, rate, requests, opts.open_workers, cpu, opts.arrivals)

    return load


def sequential_phase(
    name: str, targets: Mapping[str, Call], requests: int, log: Log
) -> PhaseComparison:
    """One request in flight, the targets interleaved request by request."""
    log(f"{name}: sequential, {requests} requests per target, interleaved request by request")
    phase = PhaseComparison(name)
    for n, r in _run_sequential(targets, requests).items():
        phase.add(n, r)
    return phase


def load_phase(
    name: str, targets: Mapping[str, Call], load: Load, opts: RunOptions, describe: str, log: Log
) -> PhaseComparison:
    """The run's requests split over its ABBA rounds, each round under `load`."""
    per_round = opts.requests // opts.rounds
    log(f"{name}: {describe}, {per_round} x {opts.rounds} rounds")
    runs = {n: _runner(load, call, per_round) for n, call in targets.items()}
    return compare(name, runs, opts.rounds)


def _runner(load: Load, call: Call, requests: int) -> Callable[[], LoadResult]:
    return lambda: load(call, requests)


def pick(summary: Mapping[str, float], keys: Sequence[str]) -> dict[str, float]:
    """The named figures of a latency summary, those it has."""
    return {k: summary[k] for k in keys if k in summary}


def headline(
    phases: Mapping[str, PhaseComparison], name: str, cn: str, prefix: str = ""
) -> dict[str, Any]:
    """One target's figures from the sequential, closed (c1 and cN) and open-loop phases."""
    seq = phases[f"{prefix}sequential"].merged(name).latency.summary_ms()
    c1 = phases[f"{prefix}closed_c1"].merged(name)
    ccn = phases[f"{prefix}{cn}"].merged(name)
    ol = phases[f"{prefix}open_loop"].merged(name)
    suffix = cn.removeprefix("closed_")
    return {
        "sequential_latency_ms": pick(seq, ("p50", "p90", "p99", "max", "mean")),
        "throughput_c1_per_s": round(c1.throughput, 1),
        f"throughput_{suffix}_per_s": round(ccn.throughput, 1),
        f"latency_{suffix}_ms": pick(ccn.latency.summary_ms(), ("p50", "p90", "p99")),
        "open_loop_latency_ms": pick(ol.latency.summary_ms(), ("p50", "p90", "p99", "max")),
        "server_cpu_ms_per_request": ccn.server_cpu_ms_per_request
        and round(ccn.server_cpu_ms_per_request, 4),
    }


def ratios_over(
    phases: Mapping[str, PhaseComparison], name: str, base: str, cn: str, prefix: str = ""
) -> dict[str, dict[str, float | None]]:
    """`name` over `base` in each of the sequential, closed (c1 and cN) and open-loop phases."""
    return {
        phase: ratios(phases[prefix + phase].merged(name), phases[prefix + phase].merged(base))
        for phase in ("sequential", "closed_c1", cn, "open_loop")
    }
