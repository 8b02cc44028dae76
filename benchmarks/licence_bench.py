"""Licence benchmark: local and cross-region licence verification, and 4-region aggregation."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._federation import ProcessesCpu
from benchmarks.harness import ProcessCpu, load_average, run_on_temporary_federation
from benchmarks.licence.config import (
    AGGREGATOR,
    BENCHMARK,
    CALL_TIMEOUT_S,
    PEERS,
    VERIFIER,
    Options,
    parse_args,
)
from benchmarks.licence.fixtures import set_up
from benchmarks.licence.local import local_verification
from benchmarks.licence.phases import run_aggregation, run_verification
from benchmarks.licence.report import Measurements, build_report
from federation.regions import Region
from nodes.client import FederationClient


def measure(directory: Path, pids: dict[Region, int], opts: Options) -> dict[str, Any]:
    """Set up (untimed), verify locally, then the verification and the aggregation phases."""
    load_at_start = load_average()
    verifier_cpu = ProcessCpu(pids[VERIFIER])
    provinces_cpu = ProcessesCpu([pids[r] for r in (AGGREGATOR, *PEERS)])
    with FederationClient(directory, timeout_s=CALL_TIMEOUT_S) as client:
        fixtures = set_up(client, directory, opts.licences, f"lb{int(time.time())}")
        local = local_verification(client, fixtures.pool, opts.local_requests)
        verification = run_verification(client, fixtures.pool, opts, verifier_cpu)
        aggregation = run_aggregation(
            directory, client, fixtures, verification.verify, opts, provinces_cpu
        )
    measured = Measurements(
        directory, pids, opts, load_at_start, fixtures, local, verification, aggregation
    )
    return build_report(measured)


def main(argv: Sequence[str] | None = None) -> int:
    started = time.time()
    opts = parse_args(argv)
    return run_on_temporary_federation(
        BENCHMARK, argv, started, opts, lambda directory, pids: measure(directory, pids, opts)
    )


if __name__ == "__main__":
    sys.exit(main())
