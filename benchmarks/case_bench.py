"""Case benchmark: end-to-end remote-virtual-window cases with an automatic reviewer vs an echo."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
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
from benchmarks.harness import load_average, run_on_temporary_federation
from federation.regions import Region
from nodes.client import FederationClient


def measure(directory: Path, pids: dict[Region, int], opts: Options) -> dict[str, Any]:
    """Set up applicants (untimed), wait for the first case, warm up, then the timed phases."""
    load_at_start = load_average()
    cpu = ProcessesCpu([pids[r] for r in (WINDOW, OWNER, CARD_HOLDER)])
    with FederationClient(directory, timeout_s=CALL_TIMEOUT_S) as client:
        setup = set_up(client, directory, opts, f"cb{int(time.time())}")
        warmed = warm_up_cases(client, setup, opts.warmup)
        run = run_phases(setup, warmed.echo, opts, cpu)
    return build_report(Measurements(directory, pids, opts, load_at_start, setup, warmed, run))


def main(argv: Sequence[str] | None = None) -> int:
    started = time.time()
    opts = parse_args(argv)
    return run_on_temporary_federation(
        BENCHMARK, argv, started, opts, lambda directory, pids: measure(directory, pids, opts)
    )


if __name__ == "__main__":
    sys.exit(main())
