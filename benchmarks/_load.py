"""Load generators: sequential, closed loop at concurrency N, open loop at a fixed arrival rate."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from benchmarks._latency import LatencyRecorder
from nodes.ops.process_cpu import ProcessCpu

Call = Callable[[], object]
"""One request, synchronous: returns when the answer is in, raises when it failed."""

T = TypeVar("T")


class SupplyExhausted(RuntimeError):
    """A pre-built request supply (e.g. single-use tokens) ran out: build more before timing."""


class Supply(Generic[T]):
    """Single-use request items (tokens verifiable only once) handed out thread-safely."""

    def __init__(self, items: Sequence[T]) -> None:
        self._items = items
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> T:
        with self._lock:
            i = self._next
            self._next += 1
        if i >= len(self._items):
            raise SupplyExhausted(f"all {len(self._items)} pre-built items were used")
        return self._items[i]

    def remaining(self) -> int:
        with self._lock:
            return max(0, len(self._items) - self._next)


@dataclass
class LoadResult:
    """What one load run measured; several runs of the same kind merge into one."""

    mode: str
    concurrency: int
    requests: int
    completed: int
    errors: int
    elapsed_s: float
    latency: LatencyRecorder
    rate_per_s: float | None = None
    first_error: str = ""
    server_cpu_s: float | None = None
    client_cpu_s: float | None = None
    send_lag: LatencyRecorder | None = None
    runs: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.completed:
            return None
        return self.server_cpu_s / self.completed * 1e3

    @property
    def client_cpu_ms_per_request(self) -> float | None:
        if self.client_cpu_s is None or not self.completed:
            return None
        return self.client_cpu_s / self.completed * 1e3

    @classmethod
    def merge(cls, results: Sequence[LoadResult]) -> LoadResult:
        first = results[0]

        def total(values: list[float | None]) -> float | None:
            return None if any(v is None for v in values) else sum(v or 0.0 for v in values)

        lags = [r.send_lag for r in results if r.send_lag is not None]
        return cls(
            mode=first.mode,
            concurrency=first.concurrency,
            requests=sum(r.requests for r in results),
            completed=sum(r.completed for r in results),
            errors=sum(r.errors for r in results),
            elapsed_s=sum(r.elapsed_s for r in results),
            latency=LatencyRecorder.merged(r.latency for r in results),
            rate_per_s=first.rate_per_s,
            first_error=next((r.first_error for r in results if r.first_error), ""),
            server_cpu_s=total([r.server_cpu_s for r in results]),
            client_cpu_s=total([r.client_cpu_s for r in results]),
            send_lag=LatencyRecorder.merged(lags) if lags else None,
            runs=sum(r.runs for r in results),
        )

    def to_dict(self) -> dict[str, Any]:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        out: dict[str, Any] = {
            "mode": self.mode,
            "concurrency": self.concurrency,
            "requests": self.requests,
            "completed": self.completed,
            "errors": self.errors,
            "runs": self.runs,
            "elapsed_s": round(self.elapsed_s, 4),
            "throughput_per_s": round(self.throughput, 2),
            "latency_ms": self.latency.summary_ms(),
            "server_cpu_ms_per_request": ms(self.server_cpu_ms_per_request),
            "client_cpu_ms_per_request": ms(self.client_cpu_ms_per_request),
        }
        if self.rate_per_s is not None:
            out["rate_per_s"] = round(self.rate_per_s, 2)
        if self.send_lag is not None:
            out["send_lag_ms"] = self.send_lag.summary_ms()
        if self.first_error:
            out["first_error"] = self.first_error
        out.update(self.extra)
        return out


class _Meter:
    """Counts completions and errors, and the CPU the server and this client spend meanwhile."""

    def __init__(self, server: ProcessCpu | None) -> None:
        self._server = server
        self._lock = threading.Lock()
        self.completed = 0
        self.errors = 0
        self.first_error = ""
        self.last_done = 0.0
        self.restart()

    def restart(self) -> None:
        """Take the CPU baselines now (after the worker threads were started)."""
        self._server0 = self._server.seconds() if self._server else None
        self._client0 = time.process_time()

    def ok(self, done: float = 0.0) -> None:
        with self._lock:
            self.completed += 1
            self.last_done = max(self.last_done, done)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            if not self.first_error:
                self.first_error = f"{type(exc).__name__}: {exc}"[:500]

    def cpu(self) -> tuple[float | None, float]:
        server = None
        if self._server is not None and self._server0 is not None:
            now = self._server.seconds()
            server = None if now is None else now - self._server0
        return server, time.process_time() - self._client0


def _claimer(requests: int) -> Callable[[], int | None]:
    lock = threading.Lock()
    state = [0]

    def claim() -> int | None:
        with lock:
            i = state[0]
            if i >= requests:
                return None
            state[0] = i + 1
            return i

    return claim


def run_closed_loop(
    call: Call, requests: int, concurrency: int, server: ProcessCpu | None = None
) -> LoadResult:
    """`concurrency` threads, each sending its next request when the previous one answered."""
    latency = LatencyRecorder()
    claim = _claimer(requests)
    gate = threading.Barrier(concurrency + 1)
    meter = _Meter(server)

    def worker() -> None:
        gate.wait()
        while claim() is not None:
            t0 = time.perf_counter()
            try:
                call()
            except Exception as exc:
                meter.failed(exc)
                continue
            latency.record(time.perf_counter() - t0)
            meter.ok()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    meter.restart()
    gate.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    server_cpu, client_cpu = meter.cpu()
    return LoadResult(
        mode="closed",
        concurrency=concurrency,
        requests=requests,
        completed=meter.completed,
        errors=meter.errors,
        elapsed_s=elapsed,
        latency=latency,
        first_error=meter.first_error,
        server_cpu_s=server_cpu,
        client_cpu_s=client_cpu,
    )


def warm_up(call: Call, requests: int, concurrency: int = 1) -> LoadResult:
    """Unrecorded calls that open connections, fill caches and start the server's threads."""
    return run_closed_loop(call, requests, concurrency)


def arrival_offsets(
    rate_per_s: float, requests: int, arrivals: str = "uniform", seed: int = 0
) -> list[float]:
    """Intended send times (seconds from the start): evenly spaced, or a seeded Poisson process."""
    if rate_per_s <= 0:
        raise ValueError("the arrival rate must be positive")
    if arrivals == "uniform":
        return [i / rate_per_s for i in range(requests)]
    if arrivals == "poisson":
        rng = random.Random(seed)
        t, out = 0.0, []
        for _ in range(requests):
            out.append(t)
            t += rng.expovariate(rate_per_s)
        return out
    raise ValueError("arrivals must be 'uniform' or 'poisson'")


def run_open_loop(
    call: Call,
    rate_per_s: float,
    requests: int,
    workers: int = 32,
    server: ProcessCpu | None = None,
    arrivals: str = "uniform",
    seed: int = 0,
) -> LoadResult:
    """Requests sent on a fixed schedule whatever the answers do; latency counts from the
    INTENDED send time, so time a request waited for a free worker behind a stalled server is
    charged to it (no coordinated omission). `send_lag` shows how late requests really left."""
    offsets = arrival_offsets(rate_per_s, requests, arrivals, seed)
    latency, lag = LatencyRecorder(), LatencyRecorder()
    claim = _claimer(requests)
    gate = threading.Barrier(workers + 1)
    meter = _Meter(server)
    start = 0.0

    def worker() -> None:
        gate.wait()
        while (i := claim()) is not None:
            intended = start + offsets[i]
            delay = intended - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            try:
                call()
            except Exception as exc:
                meter.failed(exc)
                continue
            done = time.perf_counter()
            latency.record(done - intended)
            lag.record(max(0.0, sent - intended))
            meter.ok(done)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    meter.restart()
    start = time.perf_counter() + 0.005  # let every worker pass the gate first
    gate.wait()
    for t in threads:
        t.join()
    elapsed = max(meter.last_done, time.perf_counter()) - start
    server_cpu, client_cpu = meter.cpu()
    return LoadResult(
        mode=f"open-{arrivals}",
        concurrency=workers,
        requests=requests,
        completed=meter.completed,
        errors=meter.errors,
        elapsed_s=elapsed,
        latency=latency,
        rate_per_s=rate_per_s,
        first_error=meter.first_error,
        server_cpu_s=server_cpu,
        client_cpu_s=client_cpu,
        send_lag=lag,
    )


def run_sequential(calls: Mapping[str, Call], requests: int) -> dict[str, LoadResult]:
    """One request at a time, alternating between targets request by request (rotating the
    order each round), so every target sees the same machine state; latency only (no CPU split)."""
    names = list(calls)
    recorders = {n: LatencyRecorder() for n in names}
    meters = {n: _Meter(None) for n in names}
    for i in range(requests):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            try:
                calls[name]()
            except Exception as exc:
                meters[name].failed(exc)
                continue
            recorders[name].record(time.perf_counter() - t0)
            meters[name].ok()
    return {
        n: LoadResult(
            mode="sequential-interleaved",
            concurrency=1,
            requests=requests,
            completed=meters[n].completed,
            errors=meters[n].errors,
            elapsed_s=sum(recorders[n].samples),
            latency=recorders[n],
            first_error=meters[n].first_error,
        )
        for n in names
    }
