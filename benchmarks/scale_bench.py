"""Scale benchmark: VerifyToken and the raw echo at SH run as 1 and as 2 worker processes.

Shanghai is restarted between worker counts (order 1, 2, 2, 1: drift hits both alike). The
client opens `--concurrency` connections spread evenly over the workers (which worker holds a
connection is read from /proc), one per load thread. Each slot runs a closed loop at
--concurrency, then an open loop at one rate for every worker count (--rate, or half the
1-worker verification throughput). Server CPU per request is the user+system CPU of the node's
parent and every worker process over the phase, divided by the requests. Every target is a ratio
measured in this run: 2 workers over 1, and verification over echo.
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

from benchmarks._federation import ProcessesCpu, echo_call
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
    open_loop,
    parse_run_options,
    target,
    warm_up,
)
from benchmarks.identity_bench import Login, login_at_home
from federation.identity.tokens import DEFAULT_TTL_S
from federation.regions import Region
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.fixtures.tokens import TokenMinter
from nodes.ops.provisioning import Layout, init_federation
from nodes.ops.supervisor import Federation
from nodes.pb.v1 import identity_pb2, identity_pb2_grpc
from nodes.peering.channels import CHANNEL_OPTIONS
from nodes.peering.targets import server_name_options
from nodes.tls import TlsMaterial

BENCHMARK = "scale_bench"
SERVER, HOME = Region.SH, Region.ZJ
ECHO, VERIFY = "echo", "verify_token"
CLOSED, OPEN = "closed", "open_loop"
ORDER = (1, 2, 2, 1)  # worker counts of the slots; a restart only when the count changes
QUICK_ORDER = (1, 2)
# On a machine with at least 2 free cores 2 workers should verify >= 1.3x as fast as 1 and
# spend at most 1.25x the CPU per request (an extra process costs little per call).
SCALE_LIMIT = 1.3
CPU_LIMIT = 1.25
LATENCY_LIMIT = 1.25  # ...and at the same open-loop rate answer no slower
CALL_TIMEOUT_S = 10.0

RUN = RunDefaults(concurrency=8, open_workers=32, requests=(120, 2000), warmup=(20, 200))

log = bench_log(BENCHMARK)


def parse_args(argv: Sequence[str] | None = None) -> RunOptions:
    p = new_parser(
        __doc__ or "",
        requests_help="requests per target per slot, split over the rounds (default 2000)",
        rate_help="open-loop arrivals per second, for every worker count (default: 0.5 x"
        " verification throughput of 1 worker at --concurrency, measured in the same run)",
    )
    return RunOptions(**parse_run_options(p, argv, RUN)[1])


@dataclass
class Slot:
    """One worker count's measurement: its phases and how the connections were spread."""

    workers: int
    phases: dict[str, PhaseComparison]  # CLOSED and OPEN
    connections_per_worker: list[int]
    rate: float  # of the open loop


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
    rate: float | None,
) -> Slot:
    """Warm up, then a closed loop at --concurrency and an open loop at `rate` (None: half the
    verification throughput this slot's closed loop measured; later slots reuse it)."""
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
        options=[*CHANNEL_OPTIONS, *server_name_options(SERVER.entity_id)],
    )
    # interleave the workers' connections, so any `concurrency` threads spread evenly
    channels = [c for group in zip(*held.values(), strict=True) for c in group]
    used = channels[: opts.concurrency]
    calls = targets(ThreadChannels(used), tokens, payload)
    phases: dict[str, PhaseComparison] = {}
    try:
        for call in calls.values():
            warm_up(call, opts.warmup, opts.concurrency)
        cpu = ProcessesCpu(pids)
        name = f"w{workers}_{opts.closed_cn}"
        describe = f"{workers} worker(s), closed loop, concurrency {opts.concurrency}"
        load = closed_loop(opts.concurrency, cpu)
        phases[CLOSED] = load_phase(name, calls, load, opts, describe, log)
        if rate is None:
            closed = phases[CLOSED].merged(VERIFY).throughput
            rate = opts.auto_rate(closed, floor=10.0, digits=-1)
        describe = f"{workers} worker(s), open loop {rate:.0f}/s {opts.arrivals}"
        load = open_loop(opts, rate, cpu)
        phases[OPEN] = load_phase(f"w{workers}_{OPEN}", calls, load, opts, describe, log)
    finally:
        for channel in channels:
            channel.close()
    spread = [sum(1 for c in used if c in held[pid]) for pid in serving]
    return Slot(workers, phases, spread, rate)


def merged_by_workers(slots: list[Slot]) -> dict[int, dict[str, PhaseComparison]]:
    """The slots of each worker count together: {workers: {CLOSED: ..., OPEN: ...}}."""
    out: dict[int, dict[str, PhaseComparison]] = {}
    for slot in slots:
        kinds = out.setdefault(slot.workers, {})
        for kind, phase in slot.phases.items():
            into = kinds.setdefault(kind, PhaseComparison(phase.name))
            for name, results in phase.results.items():
                for result in results:
                    into.add(name, result)
    return out


def summary(phases: dict[int, dict[str, PhaseComparison]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for workers, kinds in phases.items():
        for name in (ECHO, VERIFY):
            r = kinds[CLOSED].merged(name)
            cpu, client = r.server_cpu_ms_per_request, r.client_cpu_ms_per_request
            opened = kinds[OPEN].merged(name).latency.summary_ms()
            out[f"{name}_{workers}w"] = {
                "throughput_per_s": round(r.throughput, 1),
                "latency_ms": {k: r.latency.summary_ms().get(k) for k in ("p50", "p90", "p99")},
                "open_loop_latency_ms": {k: opened.get(k) for k in ("p50", "p90", "p99")},
                "server_cpu_ms_per_request": None if cpu is None else round(cpu, 4),
                # the load generator shares the machine's cores with the workers
                "client_cpu_ms_per_request": None if client is None else round(client, 4),
            }
    return out


def targets_met(phases: dict[int, dict[str, PhaseComparison]]) -> dict[str, Any]:
    one, two = phases[1][CLOSED], phases[2][CLOSED]

    def latency(workers: int, figure: str) -> float | None:
        return phases[workers][OPEN].merged(VERIFY).latency.summary_ms().get(figure)

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
    for figure in ("p50", "p99"):
        lines[f"verify_open_loop_{figure}_2w_over_1w"] = target(
            f"VerifyToken open-loop {figure} latency at one rate, 2 workers <= {LATENCY_LIMIT}"
            " x 1 worker",
            ratio(latency(2, figure), latency(1, figure)),
            LATENCY_LIMIT,
            at_most=True,
        )
    for workers, kinds in phases.items():
        phase = kinds[CLOSED]
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
        needed = len(order) * (opts.warmup + 2 * opts.requests) + 16  # closed + open loop
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
    slots: list[Slot] = []
    rate = opts.rate
    for workers in order:  # the first slot (1 worker) fixes the open loop's rate for all
        slots.append(measure_slot(directory, fed, workers, tokens, payload, opts, rate))
        rate = slots[-1].rate
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
            "open_loop_rate_per_s": slots[0].rate,
            "open_loop_rate_source": opts.rate_source(f"{VERIFY} (1 worker)"),
            **opts.to_dict(),
        },
        "summary": summary(phases),
        "targets": lines,
        "all_targets_met": all(t["met"] for t in lines.values()),
        "warnings": load_warnings(load_at_start),
        "phases": {
            f"{workers}_workers_{kind}": phase.to_dict(baseline=ECHO)
            for workers, kinds in phases.items()
            for kind, phase in kinds.items()
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
