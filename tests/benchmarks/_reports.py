"""Helpers of the benchmark smoke tests: run a script, and the keys every node report shares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROVENANCE_KEYS = ["benchmark", "command", "timestamp", "duration_s", "machine"]
RUN_OPTION_KEYS = {
    "requests",
    "concurrency",
    "rate",
    "rounds",
    "warmup",
    "open_workers",
    "arrivals",
    "sample_limit",
    "quick",
    "out",
    "parent",
    "observability",
}
TARGET_LINE_KEYS = ["target", "value", "limit", "comparison", "met"]


def run_script(name: str, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """`python benchmarks/NAME.py ARGS...` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
