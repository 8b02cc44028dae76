"""Identity benchmark: cross-region VerifyToken at SH of ZJ-minted tokens against a raw echo."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    Call,
    LoadResult,
    PhaseComparison,
    ProcessCpu,
    Supply,
    add_run_options,
    check_run_options,
    compare,
    finish,
    load_warnings,
    ratios,
    run_closed_loop,
    run_open_loop,
    run_sequential,
    target,
    temporary_federation,
    warm_up,
)
from federation.codes import make_citizen_id
from federation.identity.assurance import Assurance
from federation.identity.tokens import mint_token, unverified_home_attestation
from federation.regions import Region
from nodes.client import FederationClient
from nodes.ops.provisioning import Layout, load_active_signing_key
from nodes.pb.v1 import diagnostics_pb2, diagnostics_pb2_grpc, identity_pb2, identity_pb2_grpc

SERVER = Region.SH  # where tokens are verified and the echo answers
HOME = Region.ZJ  # where the subject is registered, logs in, and tokens are minted
ECHO, VERIFY = "echo", "verify_token"
P50_LIMIT = 1.5  # issue 2 item 11: verification p50 within 1.5x of the echo p50
THROUGHPUT_LIMIT = 0.7  # ...and throughput at concurrency 8 at least 0.7x the echo's
AUTO_RATE_FRACTION = 0.5  # open-loop default: this share of verification's closed-loop capacity
CALL_TIMEOUT_S = 10.0
PASSWORD = "bench-Password-2024"


@dataclass(frozen=True)
class Options:
    """What to measure, parsed from the command line."""

    requests: int
    concurrency: int
    rate: float | None
    rounds: int
    warmup: int
    open_workers: int
    arrivals: str
    sample_limit: int
    quick: bool
    out: Path | None
    parent: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--requests",
        type=int,
        default=None,
        help="requests per target per phase, split over the rounds (default 2000)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open-loop arrivals per second (default: 0.5 x verification throughput "
        "at --concurrency, measured in the same run)",
    )
    add_run_options(
        p,
        concurrency=8,
        open_workers=32,
        rounds_help="ABBA rounds per phase: echo, verify, verify, echo, ... (2)",
        warmup_help="unrecorded calls per target (300)",
    )
    a = p.parse_args(argv)
    requests = a.requests if a.requests is not None else (200 if a.quick else 2000)
    warmup = a.warmup if a.warmup is not None else (30 if a.quick else 300)
    check_run_options(p, a, requests, warmup)
    return Options(
        requests,
        a.concurrency,
        a.rate,
        a.rounds,
        warmup,
        a.open_workers,
        a.arrivals,
        a.samples,
        a.quick,
        a.out,
        a.tmp_parent,
    )


def log(message: str) -> None:
    print(f"[identity_bench] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Login:
    subject_id: str
    session_id: str
    name: str
    home_attestation: str  # the hub's, from the login: minted tokens carry it


def login_at_home(client: FederationClient) -> Login:
    """Register a Zhejiang resident and log in once (the token fixes the session for minting)."""
    subject_id = make_citizen_id("330106", datetime.date(1988, 5, 17), 23)
    name = "基准测试"
    client.register(HOME.short, "natural", subject_id, name, PASSWORD)
    reply = client.login(HOME.short, subject_id, PASSWORD, [SERVER.short])
    home = unverified_home_attestation(reply.tokens[SERVER.entity_id])
    return Login(subject_id, reply.session_id, name, home)


def mint_tokens(directory: Path, client: FederationClient, login: Login, count: int) -> list[str]:
    """Single-use tokens for SERVER from HOME's signing key, minted before any timing starts."""
    home = client.trust_list.member(HOME.entity_id)
    key = load_active_signing_key(Layout(directory).signing_dir(HOME), home.signing_keys)
    now = time.time()
    return [
        mint_token(
            key,
            issuer=home.entity_id,
            subject=login.subject_id,
            audience=SERVER.entity_id,
            session_id=login.session_id,
            assurance=Assurance.LOW,
            home_region=HOME.code,
            subject_kind="natural",
            name=login.name,
            amr=("pwd",),
            home_attestation=login.home_attestation,
            now=now,
        )
        for _ in range(count)
    ]


def calls(client: FederationClient, tokens: Supply[str], payload: bytes) -> dict[str, Call]:
    """The two targets over the SAME channel to the SAME node process."""
    channel = client.channel(SERVER.short)
    echo = diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).Echo
    verify = identity_pb2_grpc.IdentityServiceStub(channel).VerifyToken
    echo_request = diagnostics_pb2.EchoRequest(payload=payload)

    def echo_call() -> object:
        reply = echo(echo_request, timeout=CALL_TIMEOUT_S)
        if len(reply.payload) != len(payload):
            raise RuntimeError("echo answered a different payload")
        return reply

    def verify_call() -> object:
        request = identity_pb2.VerifyTokenRequest(token=tokens.take())
        reply = verify(request, timeout=CALL_TIMEOUT_S)
        if reply.claims.aud != SERVER.entity_id:
            raise RuntimeError(f"verification answered audience {reply.claims.aud!r}")
        return reply

    return {ECHO: echo_call, VERIFY: verify_call}


def closed_phase(
    name: str, targets: dict[str, Call], opts: Options, concurrency: int, cpu: ProcessCpu
) -> PhaseComparison:
    per_round = opts.requests // opts.rounds

    def runner(call: Call) -> Callable[[], LoadResult]:
        return lambda: run_closed_loop(call, per_round, concurrency, cpu)

    log(f"{name}: closed loop, concurrency {concurrency}, {per_round} x {opts.rounds} rounds")
    return compare(name, {n: runner(c) for n, c in targets.items()}, opts.rounds)


def open_phase(
    targets: dict[str, Call], opts: Options, rate: float, cpu: ProcessCpu
) -> PhaseComparison:
    per_round = opts.requests // opts.rounds

    def runner(call: Call) -> Callable[[], LoadResult]:
        return lambda: run_open_loop(call, rate, per_round, opts.open_workers, cpu, opts.arrivals)

    log(f"open loop: {rate:.0f}/s {opts.arrivals}, {per_round} x {opts.rounds} rounds")
    return compare("open_loop", {n: runner(c) for n, c in targets.items()}, opts.rounds)


def tokens_needed(opts: Options) -> int:
    phases = 4 if opts.concurrency != 1 else 3  # sequential, closed c1, closed cN, open loop
    return opts.warmup + phases * opts.requests + 16


def headline(phases: dict[str, PhaseComparison], name: str, cn: str) -> dict[str, Any]:
    seq = phases["sequential"].merged(name).latency.summary_ms()
    c1 = phases["closed_c1"].merged(name)
    ccn = phases[cn].merged(name)
    open_loop = phases["open_loop"].merged(name)
    return {
        "sequential_latency_ms": {k: seq[k] for k in ("p50", "p90", "p99", "max", "mean")},
        "throughput_c1_per_s": round(c1.throughput, 1),
        f"throughput_{cn.removeprefix('closed_')}_per_s": round(ccn.throughput, 1),
        f"latency_{cn.removeprefix('closed_')}_ms": {
            k: ccn.latency.summary_ms()[k] for k in ("p50", "p90", "p99")
        },
        "open_loop_latency_ms": {
            k: open_loop.latency.summary_ms()[k] for k in ("p50", "p90", "p99", "max")
        },
        "server_cpu_ms_per_request": ccn.server_cpu_ms_per_request
        and round(ccn.server_cpu_ms_per_request, 4),
    }


def measure(directory: Path, server_pid: int, opts: Options) -> dict[str, Any]:
    load_at_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    cpu = ProcessCpu(server_pid)
    with FederationClient(directory, timeout_s=CALL_TIMEOUT_S) as client:
        login = login_at_home(client)
        t0 = time.perf_counter()
        minted = mint_tokens(directory, client, login, tokens_needed(opts))
        mint_s = time.perf_counter() - t0
        tokens = Supply(minted)
        payload = b"x" * len(minted[0])
        targets = calls(client, tokens, payload)
        log(f"minted {len(minted)} tokens in {mint_s:.2f} s; warming up")
        for call in targets.values():
            warm_up(call, opts.warmup, opts.concurrency)

        phases: dict[str, PhaseComparison] = {}
        log(f"sequential: {opts.requests} requests per target, interleaved request by request")
        seq = PhaseComparison("sequential")
        for n, r in run_sequential(targets, opts.requests).items():
            seq.add(n, r)
        phases["sequential"] = seq
        phases["closed_c1"] = closed_phase("closed_c1", targets, opts, 1, cpu)
        cn = f"closed_c{opts.concurrency}"
        if opts.concurrency != 1:
            phases[cn] = closed_phase(cn, targets, opts, opts.concurrency, cpu)
        capacity = phases[cn].merged(VERIFY).throughput
        rate = opts.rate or max(10.0, round(AUTO_RATE_FRACTION * capacity, -1))
        phases["open_loop"] = open_phase(targets, opts, rate, cpu)
        unused = tokens.remaining()

    seq_ratio = ratios(seq.merged(VERIFY), seq.merged(ECHO))
    cn_ratio = ratios(phases[cn].merged(VERIFY), phases[cn].merged(ECHO))
    targets_met = {
        "verify_p50_over_echo_p50": target(
            f"verification p50 <= {P50_LIMIT} x echo p50 (sequential)",
            seq_ratio["p50"],
            P50_LIMIT,
            at_most=True,
        ),
        f"verify_throughput_over_echo_c{opts.concurrency}": target(
            f"verification throughput at concurrency {opts.concurrency} >= "
            f"{THROUGHPUT_LIMIT} x echo's",
            cn_ratio["throughput"],
            THROUGHPUT_LIMIT,
            at_most=False,
        ),
    }
    return {
        "setup": {
            "server_region": SERVER.code,
            "token_home_region": HOME.code,
            "server_pid": server_pid,
            "federation_dir": str(directory),
            "load_average_at_start": load_at_start and [round(x, 2) for x in load_at_start],
            "store": "sqlite (WAL, synchronous=NORMAL)",
            "channel": "one mTLS channel (operator certificate) shared by both targets",
            "echo_payload_bytes": len(payload),
            "token_bytes": len(minted[0]),
            "tokens_minted": len(minted),
            "tokens_unused": unused,
            "mint_s": round(mint_s, 3),
            "open_loop_rate_per_s": rate,
            "open_loop_rate_source": "--rate"
            if opts.rate
            else (
                f"auto: {AUTO_RATE_FRACTION} x verify_token throughput at concurrency "
                f"{opts.concurrency}"
            ),
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        },
        "summary": {
            ECHO: headline(phases, ECHO, cn),
            VERIFY: headline(phases, VERIFY, cn),
            "ratios_verify_over_echo": {
                "sequential": seq_ratio,
                "closed_c1": ratios(
                    phases["closed_c1"].merged(VERIFY), phases["closed_c1"].merged(ECHO)
                ),
                cn: cn_ratio,
                "open_loop": ratios(
                    phases["open_loop"].merged(VERIFY), phases["open_loop"].merged(ECHO)
                ),
            },
        },
        "targets": targets_met,
        "all_targets_met": all(t["met"] for t in targets_met.values()),
        "warnings": load_warnings(load_at_start),
        "phases": {name: phase.to_dict(baseline=ECHO) for name, phase in phases.items()},
        "latency_samples_source": "sequential phase (one request in flight), milliseconds",
        "latency_samples_ms": {
            ECHO: seq.merged(ECHO).latency.sample_ms(opts.sample_limit),
            VERIFY: seq.merged(VERIFY).latency.sample_ms(opts.sample_limit),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    started = time.time()
    opts = parse_args(argv)
    log("starting a temporary federation (hub + 4 regions as processes)")
    with temporary_federation(parent=opts.parent) as (directory, federation):
        results = measure(directory, federation.procs[SERVER].pid, opts)
    return finish("identity_bench", results, argv, started, opts.out)


if __name__ == "__main__":
    sys.exit(main())
