"""Simulator benchmark: engine M/M/c against bare SimPy in the same run, and the full YRD year.

Run ``python benchmarks/simulator_bench.py`` (``--quick`` for a smoke run); prints one JSON
document. Targets: engine M/M/c >= 1.0x bare SimPy at every c; the default scenario at
>= 30,000 applicants per second with peak memory that does not grow with the horizon.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import tracemalloc
from typing import Any

import numpy as np
import simpy

from simulator.engine import simulate
from simulator.loading import default_scenario, mmc_scenario
from simulator.queueing import erlang_c_wait

SERVERS = (1, 8, 40, 100)
RHO = 0.9


def bare_simpy_mmc(servers: int, arrival_rate: float, customers: int, seed: int) -> float:
    """Textbook SimPy M/M/c: one process per customer, simpy.Resource; returns mean wait."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / arrival_rate, customers).tolist()
    services = rng.exponential(1.0, customers).tolist()
    env = simpy.Environment()
    windows = simpy.Resource(env, capacity=servers)
    total_wait = [0.0]

    def customer(env: simpy.Environment, service: float) -> Any:
        arrived = env.now
        with windows.request() as req:
            yield req
            total_wait[0] += env.now - arrived
            yield env.timeout(service)

    def source(env: simpy.Environment) -> Any:
        for gap, service in zip(gaps, services, strict=True):
            yield env.timeout(gap)
            env.process(customer(env, service))

    env.process(source(env))
    env.run()
    return total_wait[0] / customers


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def _cpu_timed(fn: Any, *args: Any) -> tuple[float, float, Any]:
    """(wall s, CPU s of this process, result): CPU time is robust to a busy machine."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0, out


def bench_mmc(customers: int, repeats: int) -> list[dict[str, Any]]:
    """Customers per second, bare SimPy vs the engine's `yrd sim mmc` path (best of repeats)."""
    rows = []
    for c in SERVERS:
        lam = RHO * c
        bare_s, bare_wait = min(
            (_timed(bare_simpy_mmc, c, lam, customers, r) for r in range(repeats)),
            key=lambda x: x[0],
        )
        scenario = mmc_scenario(c, lam, 1.0, customers, 0, seed=1)
        engine_s, result = min(
            (_timed(simulate, scenario) for _ in range(repeats)), key=lambda x: x[0]
        )
        rows.append(
            {
                "servers": c,
                "rho": RHO,
                "customers": customers,
                "bare_simpy_customers_per_s": customers / bare_s,
                "engine_customers_per_s": customers / engine_s,
                "ratio": bare_s / engine_s,
                "engine_kernel": result.data["kernel"],
                "bare_mean_wait": bare_wait,
                "engine_mean_wait": result.metric("total.wait.mean"),
                "erlang_c_wait": erlang_c_wait(c, lam, 1.0),
            }
        )
    return rows


def bench_year(days: float, repeats: int) -> dict[str, Any]:
    """The default scenario over `days`: applicants per second (untraced, best of repeats)."""
    scenario = default_scenario([f"run.horizon_days={days}"])
    wall, cpu, result = min(
        (_cpu_timed(simulate, scenario) for _ in range(repeats)), key=lambda x: x[0]
    )
    applicants = int(result.data["arrivals"])
    return {
        "days": days,
        "applicants": applicants,
        "wall_s": wall,
        "cpu_s": cpu,
        "applicants_per_s": applicants / wall,
        "applicants_per_cpu_s": applicants / cpu,
        "kernel": result.data["kernel"],
        "mean_wait_min": result.metric("total.wait.mean"),
    }


def peak_memory(days: float) -> dict[str, Any]:
    """Peak Python heap (tracemalloc) of one run of the default scenario."""
    scenario = default_scenario([f"run.horizon_days={days}"])
    gc.collect()
    tracemalloc.start()
    result = simulate(scenario)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"days": days, "applicants": int(result.data["arrivals"]), "peak_mib": peak / 2**20}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args(argv)
    customers = 5_000 if args.quick else 200_000
    repeats = 1 if args.quick else 3
    year = 7.0 if args.quick else 365.0
    load = list(os.getloadavg())
    mmc = bench_mmc(customers, repeats)
    full = bench_year(year, 1 if args.quick else 2)
    memory = [peak_memory(year / 4), peak_memory(year)]
    report = {
        "command": "python benchmarks/simulator_bench.py" + (" --quick" if args.quick else ""),
        "python": platform.python_version(),
        "simpy": simpy.__version__,
        "load_average_at_start": load,
        "mmc": mmc,
        "mmc_min_ratio": min(r["ratio"] for r in mmc),
        "yrd_default": full,
        "memory": memory,
        "memory_growth": memory[1]["peak_mib"] / memory[0]["peak_mib"],
        "targets": {
            "mmc_ratio_at_least_1": all(r["ratio"] >= 1.0 for r in mmc),
            "applicants_per_s_at_least_30000": full["applicants_per_s"] >= 30_000,
            "memory_flat_within_25pct": memory[1]["peak_mib"] <= 1.25 * memory[0]["peak_mib"],
        },
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return report


if __name__ == "__main__":
    main()
