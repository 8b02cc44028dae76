"""First verifications over gRPC: each licence of a fresh pool verified once, beside an echo.

The verification phases rotate over a small pool, so after its first pass a verifier answers
from the licences it keeps (federation.licences.kept). This phase is the slow path beside that
fast one: licences VERIFIER has never seen, each verified exactly once, alternating with an echo
of the same size on the same channel."""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks._federation import echo_call
from benchmarks.harness import LatencyRecorder, ProcessCpu, target
from benchmarks.licence.config import CALL_TIMEOUT_S, ISSUER, VERIFIER, VERIFY_P50_LIMIT, log
from federation.licences import Verdict
from nodes.client import FederationClient
from nodes.fixtures.licences import issue_pool
from nodes.pb.v1 import licence_pb2, licence_pb2_grpc

KEY = "verify_first_p50_over_echo_p50"


def first_verification(
    client: FederationClient, count: int, tag: str, cpu: ProcessCpu | None = None
) -> dict[str, Any]:
    """Issue `count` new licences at ISSUER (untimed), then verify each once at VERIFIER;
    with `cpu` (VERIFIER's process), its CPU per echo + first verification pair too (load
    from other processes inflates latency, much less the CPU the verifier spends)."""
    log(f"first verification: issuing {count} licences never verified at {VERIFIER.short}")
    pool = issue_pool(client, count, f"{tag}-first")
    channel = client.channel(VERIFIER)
    stub = licence_pb2_grpc.LicenceServiceStub(channel)
    echo = echo_call(channel, b"x" * round(statistics.mean(len(s) for s in pool)), CALL_TIMEOUT_S)
    verify, baseline = LatencyRecorder(), LatencyRecorder()
    cpu0 = cpu.seconds() if cpu is not None else None
    for sd_jwt in pool:
        t0 = time.perf_counter()
        echo()
        t1 = time.perf_counter()
        reply = stub.VerifyLicence(
            licence_pb2.VerifyLicenceRequest(sd_jwt=sd_jwt), timeout=CALL_TIMEOUT_S
        )
        t2 = time.perf_counter()
        if reply.verdict != Verdict.VALID.value or not reply.status_checked:
            raise RuntimeError(f"first verification answered {reply.verdict}: {reply.reasons}")
        baseline.record(t1 - t0)
        verify.record(t2 - t1)
    cpu1 = cpu.seconds() if cpu is not None else None
    v, e = verify.summary_ms(), baseline.summary_ms()
    pair_cpu = None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / count * 1e3
    return {
        "what": f"VerifyLicence at {VERIFIER.short} of {count} {ISSUER.short}-issued licences, "
        "each verified once (never kept before), alternating with an echo on one channel",
        "licences": count,
        "verify_ms": {k: round(v[k], 4) for k in ("p50", "p90", "p99", "mean")},
        "echo_ms": {k: round(e[k], 4) for k in ("p50", "p90", "p99", "mean")},
        "p50_ratio": round(v["p50"] / e["p50"], 4),
        # /proc CPU of VERIFIER over the loop, per echo + first verification (10 ms ticks)
        "server_cpu_ms_per_echo_and_verification": None if pair_cpu is None else round(pair_cpu, 3),
    }


def first_target(first: dict[str, Any]) -> dict[str, Any]:
    """The slow path's line beside the kept path's `verify_p50_over_echo_p50`."""
    return target(
        f"first verification p50 <= {VERIFY_P50_LIMIT} x echo p50 (sequential, VerifyLicence at "
        f"{VERIFIER.short} of {first['licences']} {ISSUER.short}-issued licences it never saw, "
        "each once; the kept path is verify_p50_over_echo_p50)",
        first["p50_ratio"],
        VERIFY_P50_LIMIT,
        at_most=True,
    )
