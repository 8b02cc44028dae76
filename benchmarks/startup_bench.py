"""Start-up benchmark: wall time of `yrd --help`, `yrd sim --help` and a small `yrd sim mmc`.

Run ``python benchmarks/startup_bench.py`` (``--runs N``; ``--quick`` for 3 runs); prints one
JSON document. Each command runs N times as a fresh subprocess, measured from spawn to exit;
the report gives the median, min and max, the modules it loaded, and one target line per
command naming exactly what was measured. The baseline is a bare interpreter
(``python -c pass``) measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MMC_SMALL = "sim mmc -c 2 --arrival-rate 1.6 --service-rate 1 --customers 1000 --seed 1"

#: (name, arguments to `yrd`, limit in seconds); None: the bare-interpreter baseline.
COMMANDS: list[tuple[str, str | None, float | None]] = [
    ("python -c pass", None, None),
    ("yrd --help", "--help", 0.25),
    ("yrd sim --help", "sim --help", 0.25),
    ("yrd sim mmc --help", "sim mmc --help", 0.25),
    (f"yrd {MMC_SMALL}", MMC_SMALL, 0.5),
    (f"yrd {MMC_SMALL} --kernel simpy", f"{MMC_SMALL} --kernel simpy", 0.5),
]

# The loaded top-level packages of one run (a separate run, so the timed runs stay plain).
PROBE = """
import json, sys
from nodes.cli import root
try:
    root.main(sys.argv[1:], prog_name="yrd")
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""
WATCHED = ("grpc", "numpy", "pydantic", "scipy", "simpy", "matplotlib", "yaml", "distributed")


def yrd_argv(args: str) -> list[str]:
    """The installed `yrd` script beside this interpreter, else `python -m nodes.cli`."""
    script = Path(sys.executable).with_name("yrd")
    if script.exists():
        return [str(script), *args.split()]
    found = shutil.which("yrd")
    return [found, *args.split()] if found else [sys.executable, "-m", "nodes.cli", *args.split()]


def time_runs(argv: list[str], runs: int) -> list[float]:
    """Wall seconds of `runs` fresh subprocesses, spawn to exit, output discarded."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return times


def loaded(args: str) -> list[str]:
    """Which watched packages `yrd ARGS` imports."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args.split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    modules = set(json.loads(done.stderr.rsplit("MODULES ", 1)[1]))
    return [m for m in WATCHED if m in modules]


def measure(runs: int) -> list[dict[str, Any]]:
    """Each command `runs` times, interleaved round by round so drift hits all alike."""
    argvs = [[sys.executable, "-c", "pass"] if a is None else yrd_argv(a) for _, a, _ in COMMANDS]
    for argv in argvs:
        time_runs(argv, 1)  # warm the page cache and .pyc files
    samples: list[list[float]] = [[] for _ in COMMANDS]
    for _ in range(runs):
        for i, argv in enumerate(argvs):
            samples[i] += time_runs(argv, 1)
    rows = []
    for (name, args, limit), argv, times in zip(COMMANDS, argvs, samples, strict=True):
        rows.append(
            {
                "command": name,
                "argv": argv,
                "runs": runs,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "limit_s": limit,
                "imports": loaded(args) if args is not None else [],
            }
        )
    return rows


def target_line(row: dict[str, Any]) -> dict[str, Any]:
    """One target: the median wall time of the named command against its limit."""
    value, limit = row["median_s"], row["limit_s"]
    return {
        "target": f"`{row['command']}` wall time, median of {row['runs']} fresh subprocesses",
        "value": value,
        "limit": limit,
        "comparison": "<=",
        "met": value <= limit,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="runs per command (15)")
    parser.add_argument("--quick", action="store_true", help="3 runs per command")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else max(args.runs, 1)
    load = list(os.getloadavg())
    rows = measure(runs)
    report = {
        "benchmark": "startup",
        "command": "python benchmarks/startup_bench.py" + (" --quick" if args.quick else ""),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load,
        "load_average_at_end": list(os.getloadavg()),
        "commands": rows,
        "baseline_python_median_s": rows[0]["median_s"],
        "targets": [target_line(r) for r in rows if r["limit_s"] is not None],
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return report


if __name__ == "__main__":
    main()
