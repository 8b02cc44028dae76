"""Run one replication: pick the kernel (fast single station or SimPy model) and report."""

from __future__ import annotations

from typing import Literal

from simulator.calendar import DAY
from simulator.kernels.fast_station import reason_not_reducible, run_fast_station
from simulator.recorder import Recorder, RunResult, TraceWriter
from simulator.scenario import Scenario

__all__ = ["Kernel", "simulate"]

#: ``auto`` takes the fast kernel whenever the scenario reduces to one window pool.
Kernel = Literal["auto", "simpy", "fast"]


def simulate(
    scenario: Scenario,
    replication: int = 0,
    kernel: Kernel = "auto",
    trace: str | None = None,
) -> RunResult:
    """Run one replication; reduced single-window scenarios take the fast station kernel."""
    why_not = reason_not_reducible(scenario)
    if kernel == "fast" and why_not is not None:
        raise ValueError(f"scenario is not a single window pool: {why_not}")
    trace_path = trace if trace is not None else scenario.output.trace
    run = scenario.run
    recorder = Recorder(
        scenario.region_codes(),
        scenario.output.service_level_min,
        scenario.output.first_response_target_min,
        warmup_time=run.warmup_days * DAY,
        warmup_arrivals=run.warmup_arrivals,
        trace=TraceWriter(trace_path) if trace_path else None,
    )
    if kernel == "fast" or (kernel == "auto" and why_not is None):
        data = run_fast_station(scenario, replication, recorder)
    else:
        # SimPy loads only when the SimPy model runs (the fast kernel does not need it).
        from simulator.kernels.simpy_model import run_simpy_model

        data = run_simpy_model(scenario, replication, recorder)
    return RunResult(scenario.name, replication, run.seed, data)
