"""Identity benchmark: cross-region VerifyToken at SH of ZJ-minted tokens against a raw echo."""

from __future__ import annotations

import datetime
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks._federation import echo_call
from benchmarks.harness import (
    STORE,
    Call,
    PhaseComparison,
    ProcessCpu,
    RunContext,
    RunDefaults,
    RunOptions,
    Supply,
    bench_log,
    closed_loop,
    headline,
    load_phase,
    load_warnings,
    new_parser,
    open_loop,
    parse_run_options,
    ratios_over,
    run_benchmark,
    sequential_phase,
    target,
    warm_up,
)
from federation.codes import make_citizen_id
from federation.identity.tokens import DEFAULT_TTL_S, unverified_home_attestation
from federation.regions import Region
from nodes.client import FederationClient
from nodes.fixtures.tokens import TokenMinter
from nodes.pb.v1 import identity_pb2, identity_pb2_grpc

BENCHMARK = "identity_bench"
SERVER = Region.SH  # where tokens are verified and the echo answers
HOME = Region.ZJ  # where the subject is registered, logs in, and tokens are minted
ECHO, VERIFY = "echo", "verify_token"
P50_LIMIT = 1.5  # issue 2 item 11: verification p50 within 1.5x of the echo p50
THROUGHPUT_LIMIT = 0.7  # ...and throughput at concurrency 8 at least 0.7x the echo's
CALL_TIMEOUT_S = 10.0
PASSWORD = "bench-Password-2024"

RUN = RunDefaults(concurrency=8, open_workers=32, requests=(200, 2000), warmup=(30, 300))

log = bench_log(BENCHMARK)


def parse_args(argv: Sequence[str] | None = None) -> RunOptions:
    p = new_parser(
        __doc__ or "",
        requests_help="requests per target per phase, split over the rounds (default 2000)",
        rate_help="open-loop arrivals per second (default: 0.5 x verification throughput "
        "at --concurrency, measured in the same run)",
    )
    return RunOptions(**parse_run_options(p, argv, RUN)[1])


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


def mint_tokens(run: RunContext, client: FederationClient, login: Login, count: int) -> list[str]:
    """Single-use tokens for SERVER from HOME's signing key, minted before any timing starts."""
    return TokenMinter(run.directory, client.trust_list, HOME).mint(
        count,
        subject=login.subject_id,
        session_id=login.session_id,
        audience=SERVER,
        name=login.name,
        home_attestation=login.home_attestation,
        ttl_s=DEFAULT_TTL_S,
    )


def calls(client: FederationClient, tokens: Supply[str], payload: bytes) -> dict[str, Call]:
    """The two targets over the SAME channel to the SAME node process."""
    channel = client.channel(SERVER.short)
    verify = identity_pb2_grpc.IdentityServiceStub(channel).VerifyToken

    def verify_call() -> object:
        request = identity_pb2.VerifyTokenRequest(token=tokens.take())
        reply = verify(request, timeout=CALL_TIMEOUT_S)
        if reply.claims.aud != SERVER.entity_id:
            raise RuntimeError(f"verification answered audience {reply.claims.aud!r}")
        return reply

    return {ECHO: echo_call(channel, payload, CALL_TIMEOUT_S), VERIFY: verify_call}


def tokens_needed(opts: RunOptions) -> int:
    phases = 4 if opts.concurrency != 1 else 3  # sequential, closed c1, closed cN, open loop
    return opts.warmup + phases * opts.requests + 16


def run_phases(
    targets: dict[str, Call], opts: RunOptions, cpu: ProcessCpu
) -> tuple[dict[str, PhaseComparison], float]:
    """Sequential, closed loop at 1 and --concurrency, then open loop at the rate they give."""
    phases = {"sequential": sequential_phase("sequential", targets, opts.requests, log)}
    for concurrency in dict.fromkeys((1, opts.concurrency)):
        name, describe = f"closed_c{concurrency}", f"closed loop, concurrency {concurrency}"
        phases[name] = load_phase(name, targets, closed_loop(concurrency, cpu), opts, describe, log)
    rate = opts.auto_rate(phases[opts.closed_cn].merged(VERIFY).throughput, floor=10.0, digits=-1)
    describe = f"open loop {rate:.0f}/s {opts.arrivals}"
    load = open_loop(opts, rate, cpu)
    phases["open_loop"] = load_phase("open_loop", targets, load, opts, describe, log)
    return phases, rate


def targets_met(phases: dict[str, PhaseComparison], opts: RunOptions) -> dict[str, Any]:
    over = ratios_over(phases, VERIFY, ECHO, opts.closed_cn)
    return {
        "verify_p50_over_echo_p50": target(
            f"verification p50 <= {P50_LIMIT} x echo p50 (sequential)",
            over["sequential"]["p50"],
            P50_LIMIT,
            at_most=True,
        ),
        f"verify_throughput_over_echo_c{opts.concurrency}": target(
            f"verification throughput at concurrency {opts.concurrency} >= "
            f"{THROUGHPUT_LIMIT} x echo's",
            over[opts.closed_cn]["throughput"],
            THROUGHPUT_LIMIT,
            at_most=False,
        ),
    }


@dataclass(frozen=True)
class Measured:
    """What one run produced: the phases, the open loop's rate, and the tokens it used."""

    phases: dict[str, PhaseComparison]
    rate: float
    payload_bytes: int
    minted: list[str]
    unused: int
    mint_s: float


def measure(run: RunContext, opts: RunOptions) -> dict[str, Any]:
    """Log in once, mint every token (untimed), warm up, then the phases."""
    with FederationClient(run.directory, timeout_s=CALL_TIMEOUT_S) as client:
        login = login_at_home(client)
        t0 = time.perf_counter()
        minted = mint_tokens(run, client, login, tokens_needed(opts))
        mint_s = time.perf_counter() - t0
        tokens = Supply(minted)
        payload = b"x" * len(minted[0])
        targets = calls(client, tokens, payload)
        log(f"minted {len(minted)} tokens in {mint_s:.2f} s; warming up")
        for call in targets.values():
            warm_up(call, opts.warmup, opts.concurrency)
        phases, rate = run_phases(targets, opts, ProcessCpu(run.pids[SERVER]))
        measured = Measured(phases, rate, len(payload), minted, tokens.remaining(), mint_s)
    return build_report(run, opts, measured)


def build_report(run: RunContext, opts: RunOptions, m: Measured) -> dict[str, Any]:
    targets_line = targets_met(m.phases, opts)
    cn, seq = opts.closed_cn, m.phases["sequential"]
    return {
        "setup": setup(run, opts, m),
        "summary": {
            ECHO: headline(m.phases, ECHO, cn),
            VERIFY: headline(m.phases, VERIFY, cn),
            "ratios_verify_over_echo": ratios_over(m.phases, VERIFY, ECHO, cn),
        },
        "targets": targets_line,
        "all_targets_met": all(t["met"] for t in targets_line.values()),
        "warnings": load_warnings(run.load_at_start),
        "phases": {name: phase.to_dict(baseline=ECHO) for name, phase in m.phases.items()},
        "latency_samples_source": "sequential phase (one request in flight), milliseconds",
        "latency_samples_ms": {
            t: seq.merged(t).latency.sample_ms(opts.sample_limit) for t in (ECHO, VERIFY)
        },
    }


def setup(run: RunContext, opts: RunOptions, m: Measured) -> dict[str, Any]:
    return {
        "server_region": SERVER.code,
        "token_home_region": HOME.code,
        "server_pid": run.pids[SERVER],
        "federation_dir": str(run.directory),
        "load_average_at_start": run.load_at_start and [round(x, 2) for x in run.load_at_start],
        "store": STORE,
        "channel": "one mTLS channel (operator certificate) shared by both targets",
        "baseline": (
            "DiagnosticsService.Echo: a coroutine servicer through the same server and "
            "interceptor (trust-list admission, unary budget), so it pays no worker hop; "
            "VerifyToken is a coroutine too (checks on the event loop, the replay+audit "
            "commit on a dedicated store pool)"
        ),
        "echo_payload_bytes": m.payload_bytes,
        "token_bytes": len(m.minted[0]),
        "tokens_minted": len(m.minted),
        "tokens_unused": m.unused,
        "mint_s": round(m.mint_s, 3),
        "open_loop_rate_per_s": m.rate,
        "open_loop_rate_source": opts.rate_source(VERIFY),
        **opts.to_dict(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(BENCHMARK, argv, parse_args, measure)


if __name__ == "__main__":
    sys.exit(main())
