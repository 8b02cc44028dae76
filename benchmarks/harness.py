"""Benchmark harness: latency recorder, closed- and open-loop load, baselines, JSON reports."""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._latency import LatencyRecorder, ratio
from benchmarks._load import (
    Call,
    LoadResult,
    ProcessCpu,
    Supply,
    SupplyExhausted,
    arrival_offsets,
    run_closed_loop,
    run_open_loop,
    run_sequential,
    warm_up,
)
from nodes.ops.provisioning import init_federation
from nodes.ops.supervisor import Federation

__all__ = [
    "Call",
    "LatencyRecorder",
    "LoadResult",
    "PhaseComparison",
    "ProcessCpu",
    "Supply",
    "SupplyExhausted",
    "arrival_offsets",
    "compare",
    "load_warnings",
    "machine_info",
    "ratio",
    "ratios",
    "report",
    "run_closed_loop",
    "run_open_loop",
    "run_sequential",
    "target",
    "temporary_federation",
    "warm_up",
    "write_report",
]


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


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}{'-dirty' if dirty else ''}"


def machine_info() -> dict[str, Any]:
    load = _loadavg()
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


def add_run_options(
    p: argparse.ArgumentParser,
    *,
    concurrency: int,
    open_workers: int,
    rounds_help: str,
    warmup_help: str,
) -> None:
    """The options every node benchmark shares (each adds its own --requests and --rate)."""
    p.add_argument(
        "--concurrency",
        type=int,
        default=concurrency,
        help=f"closed-loop concurrency ({concurrency})",
    )
    p.add_argument("--rounds", type=int, default=2, help=rounds_help)
    p.add_argument("--warmup", type=int, default=None, help=warmup_help)
    p.add_argument(
        "--open-workers",
        type=int,
        default=open_workers,
        help=f"client threads available to the open-loop schedule ({open_workers})",
    )
    p.add_argument("--arrivals", choices=("uniform", "poisson"), default="uniform")
    p.add_argument(
        "--samples",
        type=int,
        default=2000,
        help="latency samples per target kept in latency_samples_ms (2000)",
    )
    p.add_argument("--quick", action="store_true", help="a small, fast run (smoke tests)")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    p.add_argument(
        "--tmp-parent",
        type=Path,
        default=None,
        help="create the temporary federation under this directory (e.g. /dev/shm to keep the "
        "disk's fsync stalls out of the figures); default: the system temporary directory",
    )


def check_run_options(
    p: argparse.ArgumentParser, a: argparse.Namespace, requests: int, warmup: int
) -> None:
    """Refuse run sizes no phase can honour (argparse exits with the message)."""
    if requests < a.rounds or a.concurrency < 1 or a.rounds < 1 or warmup < 0:
        p.error("need --requests >= --rounds >= 1, --concurrency >= 1 and --warmup >= 0")
    if a.rate is not None and a.rate <= 0:
        p.error("--rate must be positive")


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
    password_cost_log2: int = 10, parent: Path | None = None
) -> Iterator[tuple[Path, Federation]]:
    """A fresh federation (hub + four regions) with every node running as its own process, in
    a temporary directory (under `parent` if given: its file system matters to SQLite) that is
    removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="yrd-bench-", dir=parent) as tmp:
        directory = Path(tmp)
        init_federation(directory, base_port=0, password_cost_log2=password_cost_log2, force=True)
        with Federation(directory) as federation:
            yield directory, federation


def load_warnings(load_at_start: tuple[float, float, float] | None = None) -> list[str]:
    """Say when other work competed for the CPUs, which makes every figure noisy."""
    cpus = os.cpu_count() or 1
    out = []
    for when, load in (("start", load_at_start), ("end", _loadavg())):
        if load is not None and load[0] > cpus * 0.75:
            out.append(
                f"1-minute load average {load[0]:.1f} at the {when} on {cpus} CPUs: other "
                "processes competed with the nodes and the load generator; compare only the "
                "ratios measured in this run, and repeat on a quiet machine"
            )
    return out


def _loadavg() -> tuple[float, float, float] | None:
    return os.getloadavg() if hasattr(os, "getloadavg") else None
