"""Simulator benchmark: both kernels on M/M/c against bare SimPy in the same run, and the year.

Run ``python benchmarks/simulator_bench.py`` (``--quick`` for a smoke run); prints one JSON
document. Targets: the SimPy kernel (``simpy_kernel``) and the heap kernel (``fast_heap_kernel``)
each >= 1.0x bare SimPy's customers per second on M/M/c at every c (rho 0.9); the default
scenario at >= 30,000 applicants per second with peak memory that does not grow with the
horizon. Start-up times are in ``benchmarks/startup_bench.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
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


def _cpu_timed(fn: Any, *args: Any) -> tuple[float, float, Any]:
    """(wall s, CPU s of this process, result): CPU time is robust to a busy machine."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0, out


#: name in the report -> what runs (each variant serves the same number of customers).
VARIANTS = {
    "bare_simpy": "baseline: textbook SimPy M/M/c (a process per customer, simpy.Resource)",
    "simpy_kernel": "simulate(kernel='simpy'): simulator.kernels.simpy_model on a SimPy "
    "Environment (walk-ins as event callbacks, MonitoredPool), with all statistics",
    "fast_heap_kernel": "simulate(kernel='fast'): simulator.kernels.fast_station, two heaps, "
    "no SimPy, with all statistics",
}


def _variant_runs(c: int, lam: float, customers: int, repeats: int) -> dict[str, Any]:
    """Each variant `repeats` times, interleaved A B C C B A ... so drift hits all alike."""
    scenario = mmc_scenario(c, lam, 1.0, customers, 0, seed=1)
    calls = {
        "bare_simpy": lambda r: (bare_simpy_mmc(c, lam, customers, r), "bare"),
        "simpy_kernel": lambda r: simulate(scenario, 0, "simpy"),
        "fast_heap_kernel": lambda r: simulate(scenario, 0, "fast"),
    }
    order = list(calls)
    runs: dict[str, list[tuple[float, float, Any]]] = {name: [] for name in order}
    for r in range(repeats):
        for name in order if r % 2 == 0 else reversed(order):
            runs[name].append(_cpu_timed(calls[name], r))
    return runs


def bench_mmc(customers: int, repeats: int) -> list[dict[str, Any]]:
    """Customers per second of bare SimPy and both kernels on M/M/c, in the same run.

    Rates and ratios use the best (shortest) wall time of `repeats` runs; ratios of the
    median wall times and of the best CPU times (robust to a busy machine) are given beside.
    """
    rows = []
    for c in SERVERS:
        lam = RHO * c
        runs = _variant_runs(c, lam, customers, repeats)
        row: dict[str, Any] = {
            "model": "M/M/c",
            "servers": c,
            "rho": RHO,
            "customers": customers,
            "repeats": repeats,
            "erlang_c_wait": erlang_c_wait(c, lam, 1.0),
        }
        best: dict[str, float] = {}
        for name, timings in runs.items():
            walls = [w for w, _, _ in timings]
            best[name] = min(walls)
            last = timings[-1][2]
            wait = last[0] if name == "bare_simpy" else last.metric("total.wait.mean")
            row[name] = {
                "customers_per_s": customers / best[name],
                "best_wall_s": best[name],
                "median_wall_s": statistics.median(walls),
                "best_cpu_s": min(cpu for _, cpu, _ in timings),
                "mean_wait": wait,
                "kernel": "bare" if name == "bare_simpy" else last.data["kernel"],
            }
        for name in ("simpy_kernel", "fast_heap_kernel"):
            row[f"{name}_ratio"] = best["bare_simpy"] / best[name]
            row[f"{name}_median_ratio"] = (
                row["bare_simpy"]["median_wall_s"] / row[name]["median_wall_s"]
            )
            row[f"{name}_cpu_ratio"] = row["bare_simpy"]["best_cpu_s"] / row[name]["best_cpu_s"]
        rows.append(row)
    return rows


def target(description: str, value: float, limit: float, at_most: bool) -> dict[str, Any]:
    """A target line: what, the measured value, the limit, and whether it is met."""
    return {
        "target": description,
        "value": value,
        "limit": limit,
        "comparison": "<=" if at_most else ">=",
        "met": value <= limit if at_most else value >= limit,
    }


def mmc_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per kernel and load: its speed over bare SimPy's, both measured here."""
    lines = []
    for name in ("simpy_kernel", "fast_heap_kernel"):
        for row in rows:
            load = f"c={row['servers']}, rho={row['rho']}, {row['customers']} customers"
            lines.append(
                target(
                    f"{name} customers/s over bare SimPy's on M/M/c ({load}); best wall "
                    f"time of {row['repeats']}",
                    row[f"{name}_ratio"],
                    1.0,
                    at_most=False,
                )
            )
    return lines


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
        "benchmark": "simulator",
        "command": "python benchmarks/simulator_bench.py" + (" --quick" if args.quick else ""),
        "python": platform.python_version(),
        "simpy": simpy.__version__,
        "load_average_at_start": load,
        "load_average_at_end": list(os.getloadavg()),
        "variants": VARIANTS,
        "mmc": mmc,
        "mmc_min_ratio": {
            name: min(r[f"{name}_ratio"] for r in mmc)
            for name in ("simpy_kernel", "fast_heap_kernel")
        },
        "yrd_default": full,
        "memory": memory,
        "memory_growth": memory[1]["peak_mib"] / memory[0]["peak_mib"],
        "targets": [
            *mmc_targets(mmc),
            target(
                f"default YRD scenario, {full['days']:g} days ({full['applicants']} applicants, "
                f"{full['kernel']} kernel): applicants per wall second",
                full["applicants_per_s"],
                30_000,
                at_most=False,
            ),
            target(
                f"peak Python heap of the default scenario, {memory[1]['days']:g} days over "
                f"{memory[0]['days']:g} days (tracemalloc)",
                memory[1]["peak_mib"] / memory[0]["peak_mib"],
                1.25,
                at_most=True,
            ),
        ],
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return report


if __name__ == "__main__":
    main()
