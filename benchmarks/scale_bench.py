"""Scale benchmark: VerifyToken and the raw echo at SH run as 1 and as 2 worker processes.

Shanghai is restarted between worker counts (order 1, 2, 2, 1: drift hits both alike). The
client opens `--concurrency` connections spread evenly over the workers (which worker holds a
connection is read from /proc), one per load thread. Server CPU per request is the user+system
CPU of the node's parent and every worker process over the phase, divided by the requests.
Every target is a ratio measured in this run: 2 workers over 1, and verification over echo.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from benchmarks._federation import ProcessesCpu, TokenMinter, echo_call
from benchmarks._latency import ratio
from benchmarks._sockets import channels_per_worker, child_pids
from benchmarks.harness import (
    STORE,
    Call,
    PhaseComparison,
    RunDefaults,
    RunOptions,
    bench_log,
    closed_loop,
    finish,
    load_average,
    load_phase,
    load_warnings,
    new_parser,
    parse_run_options,
    target,
    warm_up,
)
from benchmarks.identity_bench import Login, login_at_home
from federation.identity.tokens import DEFAULT_TTL_S
from federation.regions import Region
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.ops.provisioning import Layout, init_federation
from nodes.ops.supervisor import Federation
from nodes.pb.v1 import identity_pb2, identity_pb2_grpc
from nodes.peering.channels import CHANNEL_OPTIONS
from nodes.tls import TlsMaterial

BENCHMARK = "scale_bench"
SERVER, HOME = Region.SH, Region.ZJ
ECHO, VERIFY = "echo", "verify_token"
ORDER = (1, 2, 2, 1)  # worker counts of the slots; a restart only when the count changes
QUICK_ORDER = (1, 2)
# On a machine with at least 2 free cores 2 workers should verify >= 1.3x as fast as 1 and
# spend at most 1.25x the CPU per request (an extra process costs little per call).
SCALE_LIMIT = 1.3
CPU_LIMIT = 1.25
CALL_TIMEOUT_S = 10.0

RUN = RunDefaults(concurrency=8, open_workers=32, requests=(120, 2000), warmup=(20, 200))

log = bench_log(BENCHMARK)


def parse_args(argv: Sequence[str] | None = None) -> RunOptions:
    p = new_parser(
        __doc__ or "",
        requests_help="requests per target per slot, split over the rounds (default 2000)",
        rate_help="unused: this benchmark runs closed loops only",
    )
    return RunOptions(**parse_run_options(p, argv, RUN)[1])


@dataclass
class Slot:
    """One worker count's measurement: its phase and how the connections were spread."""

    workers: int
    phase: PhaseComparison
    connections_per_worker: list[int]


class ThreadChannels:
    """Each load thread keeps one channel (its own connection) from a pool, taken in turn."""

    def __init__(self, channels: Sequence[grpc.Channel]) -> None:
        self._channels = list(channels)
        self._next = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def get(self) -> grpc.Channel:
        channel: grpc.Channel | None = getattr(self._local, "channel", None)
        if channel is None:
            with self._lock:
                channel = self._channels[self._next % len(self._channels)]
                self._next += 1
            self._local.channel = channel
        return channel


def targets(pool: ThreadChannels, tokens: Iterator[str], payload: bytes) -> dict[str, Call]:
    lock = threading.Lock()
    echoes: dict[int, Call] = {}

    def verify() -> object:
        with lock:
            token = next(tokens)
        reply = identity_pb2_grpc.IdentityServiceStub(pool.get()).VerifyToken(
            identity_pb2.VerifyTokenRequest(token=token), timeout=CALL_TIMEOUT_S
        )
        if reply.claims.aud != SERVER.entity_id:
            raise RuntimeError(f"verification answered audience {reply.claims.aud!r}")
        return reply

    def echo() -> object:
        channel = pool.get()
        call = echoes.get(id(channel))
        if call is None:
            call = echoes[id(channel)] = echo_call(channel, payload, CALL_TIMEOUT_S)
        return call()

    return {ECHO: echo, VERIFY: verify}


@contextmanager
def federation(parent: Path | None) -> Iterator[tuple[Path, Federation]]:
    """Hub, the token home and the server region, in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="yrd-bench-", dir=parent) as tmp:
        directory = Path(tmp)
        init_federation(directory, base_port=0, password_cost_log2=10, force=True)
        fed = Federation(directory, regions=(Region.HUB, HOME, SERVER))
        with fed:
            yield directory, fed


def restart_with(directory: Path, fed: Federation, workers: int) -> list[int]:
    """Run SERVER as `workers` processes (restarted only if the count changes); the pids whose
    CPU counts (parent and workers)."""
    config = Layout(directory).config(SERVER)
    if load_config(config).processes != workers:
        lines = [x for x in config.read_text().splitlines() if not x.startswith("processes")]
        config.write_text("\n".join([*lines, f"processes = {workers}"]) + "\n")
        fed.stop_node(SERVER)
        fed.start_node(SERVER)
    parent = fed.procs[SERVER].pid
    if workers == 1:
        return [parent]
    deadline = time.monotonic() + 30
    while len(child_pids(parent)) != workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{SERVER.short} did not show {workers} worker processes")
        time.sleep(0.1)
    return [parent, *child_pids(parent)]


def measure_slot(
    directory: Path,
    fed: Federation,
    workers: int,
    tokens: Iterator[str],
    payload: bytes,
    opts: RunOptions,
) -> Slot:
    pids = restart_with(directory, fed, workers)
    serving = pids[1:] or pids
    layout = Layout(directory)
    op = layout.operator_dir
    creds = TlsMaterial.load(layout.ca_cert, op / "tls.crt", op / "tls.key").channel_credentials()
    per_worker = -(-opts.concurrency // len(serving))
    held = channels_per_worker(
        load_config(layout.config(SERVER)).endpoint,
        creds,
        serving,
        per_worker,
        options=CHANNEL_OPTIONS,
    )
    # interleave the workers' connections, so any `concurrency` threads spread evenly
    channels = [c for group in zip(*held.values(), strict=True) for c in group]
    pool = ThreadChannels(channels[: opts.concurrency])
    calls = targets(pool, tokens, payload)
    try:
        for call in calls.values():
            warm_up(call, opts.warmup, opts.concurrency)
        cpu = ProcessesCpu(pids)
        name = f"w{workers}_{opts.closed_cn}"
        describe = f"{workers} worker(s), closed loop, concurrency {opts.concurrency}"
        phase = load_phase(name, calls, closed_loop(opts.concurrency, cpu), opts, describe, log)
    finally:
        for channel in channels:
            channel.close()
    spread = [
        min(per_worker, sum(1 for c in channels[: opts.concurrency] if c in held[p]))
        for p in serving
    ]
    return Slot(workers, phase, spread)


def merged_by_workers(slots: list[Slot]) -> dict[int, PhaseComparison]:
    out: dict[int, PhaseComparison] = {}
    for slot in slots:
        phase = out.setdefault(slot.workers, PhaseComparison(slot.phase.name))
        for name, results in slot.phase.results.items():
            for result in results:
                phase.add(name, result)
    return out


def summary(phases: dict[int, PhaseComparison]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for workers, phase in phases.items():
        for name in (ECHO, VERIFY):
            r = phase.merged(name)
            cpu, client = r.server_cpu_ms_per_request, r.client_cpu_ms_per_request
            out[f"{name}_{workers}w"] = {
                "throughput_per_s": round(r.throughput, 1),
                "latency_ms": {k: r.latency.summary_ms().get(k) for k in ("p50", "p90", "p99")},
                "server_cpu_ms_per_request": None if cpu is None else round(cpu, 4),
                # the load generator shares the machine's cores with the workers
                "client_cpu_ms_per_request": None if client is None else round(client, 4),
            }
    return out


def targets_met(phases: dict[int, PhaseComparison]) -> dict[str, Any]:
    one, two = phases[1], phases[2]

    def over(a: PhaseComparison, b: PhaseComparison, name: str, figure: str) -> float | None:
        ra, rb = a.merged(name), b.merged(name)
        if figure == "throughput":
            return ratio(ra.throughput, rb.throughput)
        return ratio(ra.server_cpu_ms_per_request, rb.server_cpu_ms_per_request)

    def cross(phase: PhaseComparison, figure: str) -> float | None:
        v, e = phase.merged(VERIFY), phase.merged(ECHO)
        if figure == "throughput":
            return ratio(v.throughput, e.throughput)
        return ratio(v.server_cpu_ms_per_request, e.server_cpu_ms_per_request)

    lines = {
        "verify_throughput_2w_over_1w": target(
            f"VerifyToken throughput, closed loop, 2 workers >= {SCALE_LIMIT} x 1 worker",
            over(two, one, VERIFY, "throughput"),
            SCALE_LIMIT,
            at_most=False,
        ),
        "echo_throughput_2w_over_1w": target(
            f"raw echo throughput, closed loop, 2 workers >= {SCALE_LIMIT} x 1 worker",
            over(two, one, ECHO, "throughput"),
            SCALE_LIMIT,
            at_most=False,
        ),
        "verify_server_cpu_per_request_2w_over_1w": target(
            f"VerifyToken server CPU per request (all processes), 2 workers <= {CPU_LIMIT} x 1",
            over(two, one, VERIFY, "cpu"),
            CPU_LIMIT,
            at_most=True,
        ),
        "echo_server_cpu_per_request_2w_over_1w": target(
            f"raw echo server CPU per request (all processes), 2 workers <= {CPU_LIMIT} x 1",
            over(two, one, ECHO, "cpu"),
            CPU_LIMIT,
            at_most=True,
        ),
    }
    for workers, phase in phases.items():
        lines[f"verify_server_cpu_per_request_over_echo_{workers}w"] = target(
            f"VerifyToken server CPU per request over the raw echo's, {workers} worker(s)"
            " (the cost of verification itself; informational limit 20)",
            cross(phase, "cpu"),
            20.0,
            at_most=True,
        )
        lines[f"verify_throughput_over_echo_{workers}w"] = target(
            f"VerifyToken throughput over the raw echo's, {workers} worker(s) (>= 0.3)",
            cross(phase, "throughput"),
            0.3,
            at_most=False,
        )
    return lines


def measure(directory: Path, fed: Federation, opts: RunOptions) -> dict[str, Any]:
    load_at_start = load_average()
    order = QUICK_ORDER if opts.quick else ORDER
    with FederationClient(directory, timeout_s=CALL_TIMEOUT_S) as client:
        login: Login = login_at_home(client)
        needed = len(order) * (opts.warmup + opts.requests) + 16
        t0 = time.perf_counter()
        minted = TokenMinter(directory, client.trust_list, HOME).mint(
            needed,
            subject=login.subject_id,
            session_id=login.session_id,
            audience=SERVER,
            name=login.name,
            home_attestation=login.home_attestation,
            ttl_s=DEFAULT_TTL_S,
        )
        log(f"minted {len(minted)} tokens in {time.perf_counter() - t0:.2f} s")
    tokens = iter(minted)
    payload = b"x" * len(minted[0])
    slots = [measure_slot(directory, fed, w, tokens, payload, opts) for w in order]
    phases = merged_by_workers(slots)
    lines = targets_met(phases)
    return {
        "setup": {
            "server_region": SERVER.code,
            "token_home_region": HOME.code,
            "store": STORE,
            "worker_order": list(order),
            "connections": (
                f"{opts.concurrency} connections (operator certificate), one per load thread,"
                " spread evenly over the workers; each worker count warmed up first"
            ),
            "connections_per_worker": {
                f"slot{i}_{s.workers}w": s.connections_per_worker for i, s in enumerate(slots)
            },
            "server_cpu": "user+system CPU of the node's parent and all its workers (/proc)",
            "baseline": "DiagnosticsService.Echo through the same server, interceptor and"
            " connections, payload as large as a token",
            "load_average_at_start": load_at_start and [round(x, 2) for x in load_at_start],
            "tokens_minted": len(minted),
            **opts.to_dict(),
        },
        "summary": summary(phases),
        "targets": lines,
        "all_targets_met": all(t["met"] for t in lines.values()),
        "warnings": load_warnings(load_at_start),
        "phases": {
            f"{workers}_workers": phase.to_dict(baseline=ECHO) for workers, phase in phases.items()
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    started = time.time()
    opts = parse_args(argv)
    log("starting hub, ZJ and SH as processes")
    with federation(opts.parent) as (directory, fed):
        results = measure(directory, fed, opts)
    return finish(BENCHMARK, results, argv, started, opts.out)


if __name__ == "__main__":
    sys.exit(main())
