"""Case benchmark: end-to-end remote-virtual-window cases with an automatic reviewer vs an echo."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks._federation import ProcessesCpu
from benchmarks.case.config import (
    BENCHMARK,
    CALL_TIMEOUT_S,
    CARD_HOLDER,
    OWNER,
    WINDOW,
    Options,
    parse_args,
)
from benchmarks.case.phases import run_phases, set_up, warm_up_cases
from benchmarks.case.report import Measurements, build_report
from benchmarks.harness import RunContext, run_benchmark
from nodes.client import FederationClient


def measure(run: RunContext, opts: Options) -> dict[str, Any]:
    """Set up applicants (untimed), wait for the first case, warm up, then the timed phases."""
    cpu = ProcessesCpu([run.pids[r] for r in (WINDOW, OWNER, CARD_HOLDER)])
    with FederationClient(run.directory, timeout_s=CALL_TIMEOUT_S) as client:
        setup = set_up(client, run.directory, opts, f"cb{int(time.time())}")
        warmed = warm_up_cases(client, setup, opts.warmup)
        timed = run_phases(setup, warmed.echo, opts, cpu)
    return build_report(Measurements(run, opts, setup, warmed, timed))


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(BENCHMARK, argv, parse_args, measure)


if __name__ == "__main__":
    sys.exit(main())
