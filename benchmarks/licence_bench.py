"""Licence benchmark: local and cross-region licence verification, and 4-region aggregation;
SM2/SM3 verification beside Ed25519 (kernel, local, over gRPC) in the `suites` section."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks._federation import ProcessesCpu
from benchmarks.harness import ProcessCpu, RunContext, run_benchmark
from benchmarks.licence.config import (
    AGGREGATOR,
    BENCHMARK,
    CALL_TIMEOUT_S,
    PEERS,
    VERIFIER,
    Options,
    log,
    parse_args,
)
from benchmarks.licence.first import KEY as FIRST
from benchmarks.licence.first import first_target, first_verification
from benchmarks.licence.local import local_verification
from benchmarks.licence.phases import run_aggregation, run_verification
from benchmarks.licence.report import Measurements, build_report
from benchmarks.licence.suites import PROVISIONED, measure_suites
from nodes.client import FederationClient
from nodes.fixtures.licences import set_up


def measure(run: RunContext, opts: Options) -> dict[str, Any]:
    """Set up (untimed), verify locally, then the verification and the aggregation phases."""
    verifier_cpu = ProcessCpu(run.pids[VERIFIER])
    provinces_cpu = ProcessesCpu([run.pids[r] for r in (AGGREGATOR, *PEERS)])
    tag = f"lb{int(time.time())}"
    with FederationClient(run.directory, timeout_s=CALL_TIMEOUT_S) as client:
        fixtures = set_up(client, run.directory, opts.licences, tag, log)
        local = local_verification(client, fixtures.pool, opts.local_requests)
        verification = run_verification(client, fixtures.pool, opts, verifier_cpu)
        aggregation = run_aggregation(
            run.directory, client, fixtures, verification.verify, opts, provinces_cpu
        )
        # last, so the phases above run exactly as before
        suites = measure_suites(
            client, fixtures.pool, verification.verify, opts, verifier_cpu, tag
        )
        first = first_verification(client, opts.first_licences, tag, verifier_cpu)
    report = build_report(Measurements(run, opts, fixtures, local, verification, aggregation))
    report["summary"]["first_verification"] = first
    report["targets"][FIRST] = first_target(first)
    report["all_targets_met"] = all(t["met"] for t in report["targets"].values())
    report["summary"]["suites"] = suites["figures"]
    report["suites"] = suites
    return report


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(BENCHMARK, argv, parse_args, measure, suites=PROVISIONED)


if __name__ == "__main__":
    sys.exit(main())
