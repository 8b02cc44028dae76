"""Benchmark harness: latency recorder, closed- and open-loop load, baselines, JSON reports."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from benchmarks._latency import LatencyRecorder, ratio
from benchmarks._load import (
    Call,
    LoadResult,
    Supply,
    SupplyExhausted,
    arrival_offsets,
    run_closed_loop,
    run_open_loop,
    run_sequential,
    warm_up,
)
from benchmarks._options import (
    AUTO_RATE_FRACTION,
    RunDefaults,
    RunOptions,
    add_run_options,
    check_run_options,
    new_parser,
    parse_run_options,
    sized,
)
from benchmarks._phases import (
    Load,
    Log,
    PhaseComparison,
    closed_loop,
    compare,
    headline,
    load_phase,
    open_loop,
    pick,
    ratios,
    ratios_over,
    sequential_phase,
)
from federation.regions import Region
from nodes.ops.process_cpu import ProcessCpu
from nodes.ops.provisioning import init_federation
from nodes.ops.supervisor import Federation

__all__ = [
    "AUTO_RATE_FRACTION",
    "RECONNECT_BACKOFF",
    "STORE",
    "Call",
    "LatencyRecorder",
    "Load",
    "LoadResult",
    "Log",
    "PhaseComparison",
    "ProcessCpu",
    "RunContext",
    "RunDefaults",
    "RunOptions",
    "Supply",
    "SupplyExhausted",
    "add_run_options",
    "arrival_offsets",
    "bench_log",
    "check_run_options",
    "closed_loop",
    "compare",
    "finish",
    "headline",
    "load_average",
    "load_phase",
    "load_warnings",
    "machine_info",
    "new_parser",
    "open_loop",
    "parse_run_options",
    "pick",
    "ratio",
    "ratios",
    "ratios_over",
    "report",
    "run_benchmark",
    "run_closed_loop",
    "run_open_loop",
    "run_sequential",
    "sequential_phase",
    "sized",
    "target",
    "temporary_federation",
    "warm_up",
    "write_report",
]

OptionsT = TypeVar("OptionsT", bound=RunOptions)
STORE = "sqlite (WAL, synchronous=NORMAL)"  # what temporary_federation's nodes store in
RECONNECT_BACKOFF = (
    "peer channels opened while a peer was still starting sit in gRPC "
    "reconnect backoff and fail fast (UNAVAILABLE) for a while"
)


def bench_log(benchmark: str) -> Log:
    """A progress logger writing `[benchmark] message` lines to stderr."""

    def log(message: str) -> None:
        print(f"[{benchmark}] {message}", file=sys.stderr, flush=True)

    return log


def target(description: str, value: float | None, limit: float, at_most: bool) -> dict[str, Any]:
    """A target line of a report: what, the measured value, the limit, and whether it is met."""
    met = value is not None and (value <= limit if at_most else value >= limit)
    return {
        "target": description,
        "value": value,
        "limit": limit,
        "comparison": "<=" if at_most else ">=",
        "met": met,
    }


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=5, check=True
    )
    return done.stdout.strip()


def _git_revision() -> str | None:
    try:
        rev = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}{'-dirty' if dirty else ''}"


def machine_info() -> dict[str, Any]:
    load = load_average()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": [round(x, 2) for x in load] if load else None,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "grpcio": _version("grpcio"),
        "protobuf": _version("protobuf"),
        "cryptography": _version("cryptography"),
        "git_revision": _git_revision(),
    }


def report(
    benchmark: str,
    results: Mapping[str, Any],
    argv: Sequence[str] | None = None,
    started: float | None = None,
) -> dict[str, Any]:
    """Wrap results with what produced them: command, machine, versions, timestamp, duration."""
    args = list(sys.argv if argv is None else argv)
    now = time.time()
    return {
        "benchmark": benchmark,
        "command": shlex.join([sys.executable, *args]),
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "duration_s": round(now - started, 2) if started is not None else None,
        "machine": machine_info(),
        **results,
    }


def finish(
    benchmark: str,
    results: Mapping[str, Any],
    argv: Sequence[str] | None,
    started: float,
    out: Path | None,
) -> int:
    """Wrap, print and save the report; the exit code says whether any request failed."""
    command = sys.argv if argv is None else [f"benchmarks/{benchmark}.py", *argv]
    data = report(benchmark, results, argv=command, started=started)
    write_report(data, out)
    errors = sum(
        r["errors"]
        for phase in data["phases"].values()
        for name, r in phase.items()
        if name != "ratios"
    )
    if errors:
        print(
            f"[{benchmark}] {errors} requests failed; see first_error in the phases",
            file=sys.stderr,
            flush=True,
        )
        return 1
    return 0


def write_report(data: Mapping[str, Any], out: Path | None = None) -> str:
    """Print the report as JSON on stdout and, if `out` is given, write it there too."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False, default=str)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return text


@contextlib.contextmanager
def temporary_federation(
    password_cost_log2: int = 10,
    parent: Path | None = None,
    suites: Mapping[Region, str] | None = None,
    observability: str = "on",
) -> Iterator[tuple[Path, Federation]]:
    """A fresh federation (hub + four regions) with every node running as its own process, in
    a temporary directory (under `parent` if given: its file system matters to SQLite) that is
    removed afterwards. `suites` gives members another signing suite than ed25519 (sm2).
    `observability`: "on" (metrics and access log, as provisioned), "off", or "traces" (span
    files too)."""
    with tempfile.TemporaryDirectory(prefix="yrd-bench-", dir=parent) as tmp:
        directory = Path(tmp)
        init_federation(
            directory,
            base_port=0,
            password_cost_log2=password_cost_log2,
            force=True,
            suites=suites,
            metrics=observability != "off",
            access_log=observability != "off",
            traces=observability == "traces",
        )
        with Federation(directory) as federation:
            yield directory, federation


def load_warnings(load_at_start: tuple[float, float, float] | None = None) -> list[str]:
    """Say when other work competed for the CPUs, which makes every figure noisy."""
    cpus = os.cpu_count() or 1
    out = []
    for when, load in (("start", load_at_start), ("end", load_average())):
        if load is not None and load[0] > cpus * 0.75:
            out.append(
                f"1-minute load average {load[0]:.1f} at the {when} on {cpus} CPUs: other "
                "processes competed with the nodes and the load generator; compare only the "
                "ratios measured in this run, and repeat on a quiet machine"
            )
    return out


def load_average() -> tuple[float, float, float] | None:
    """The 1-, 5- and 15-minute load averages, where the platform has them."""
    return os.getloadavg() if hasattr(os, "getloadavg") else None


@dataclass(frozen=True)
class RunContext:
    """The temporary federation a benchmark measures, and how busy the machine was at start."""

    directory: Path
    pids: dict[Region, int]  # each region's node process
    load_at_start: tuple[float, float, float] | None


def run_benchmark(
    benchmark: str,
    argv: Sequence[str] | None,
    parse: Callable[[Sequence[str] | None], OptionsT],
    measure: Callable[[RunContext, OptionsT], Mapping[str, Any]],
    suites: Mapping[Region, str] | None = None,
) -> int:
    """Parse the options, start a temporary federation, measure it, then print and save the
    report; the exit code says whether any request failed."""
    started = time.time()
    opts = parse(argv)
    bench_log(benchmark)("starting a temporary federation (hub + 4 regions as processes)")
    with temporary_federation(
        parent=opts.parent, suites=suites, observability=opts.observability
    ) as (directory, federation):
        pids = {r: p.pid for r, p in federation.procs.items()}
        results = measure(RunContext(directory, pids, load_average()), opts)
    return finish(benchmark, results, argv, started, opts.out)
