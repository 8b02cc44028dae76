"""Open-loop load: every request leaves at its intended time, whatever earlier ones are doing.

One dispatcher thread fires non-blocking gRPC futures on a pre-computed schedule, so a stalled
node never holds back later requests (no worker pool to run dry), and each latency counts from
the request's INTENDED send time: the time it would have waited behind a stalled sender is
charged to it, which is the coordinated-omission correction (no after-the-fact
`record_corrected_value` is needed because nothing is omitted in the first place).
"""

from __future__ import annotations

import gc
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import grpc

from nodes.lab.workload import Operation

OK = "OK"


@dataclass(frozen=True)
class Sample:
    """One request's fate. Times are seconds from the run's start."""

    op: str
    intended_s: float
    latency_s: float  # done - intended: what the caller saw, queueing behind the sender included
    rtt_s: float  # done - actually sent: the round trip alone (link probes report this)
    outcome: str  # OK, a gRPC status name, or what the reply's check said
    ack: str = ""  # the id of an acknowledged write (a case), if any
    trace_id: str = ""  # the W3C trace id the request carried, if traced


def arrival_times(
    rate_per_s: float, duration_s: float, arrivals: str, rng: random.Random
) -> list[float]:
    """Intended send times in [0, duration_s): evenly spaced, or a seeded Poisson process."""
    if rate_per_s <= 0:
        return []
    if arrivals == "uniform":
        return [i / rate_per_s for i in range(int(duration_s * rate_per_s))]
    out, t = [], rng.expovariate(rate_per_s)
    while t < duration_s:
        out.append(t)
        t += rng.expovariate(rate_per_s)
    return out


def build_schedule(
    rates: Mapping[str, float], duration_s: float, arrivals: str, seed: int
) -> list[tuple[float, str, int]]:
    """(intended time, operation, its request index), merged over operations, in time order."""
    rng = random.Random(seed)
    schedule = [
        (t, op, i)
        for op in sorted(rates)
        for i, t in enumerate(arrival_times(rates[op], duration_s, arrivals, rng))
    ]
    schedule.sort()
    return schedule


class OpenLoop:
    """Sends `schedule` against `ops` from `start` (a `time.perf_counter()` instant)."""

    def __init__(
        self,
        schedule: list[tuple[float, str, int]],
        ops: Mapping[str, Operation],
        timeout_s: float,
    ) -> None:
        self.schedule = schedule
        self.ops = ops
        self.timeout_s = timeout_s
        self.samples: list[Sample] = []
        self.sent = 0
        self.start = 0.0
        self.max_send_lag_s = 0.0
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, start: float) -> None:
        """Dispatch every scheduled request, then wait (bounded) for the answers."""
        self.start = start
        for t, name, i in self.schedule:
            wait = start + t - time.perf_counter()
            if wait > 0 and self._stop.wait(wait):
                break
            op = self.ops[name]
            sent = time.perf_counter()
            self.max_send_lag_s = max(self.max_send_lag_s, sent - start - t)
            with self._lock:
                self._pending += 1
            future = op.method.future(
                op.request(i), timeout=self.timeout_s, metadata=op.metadata(i)
            )
            future.add_done_callback(
                lambda f, op=op, t=t, i=i, sent=sent: self._done(f, op, t, i, sent)
            )
            self.sent += 1
        deadline = time.monotonic() + self.timeout_s + 5.0
        with self._idle:
            while self._pending and time.monotonic() < deadline:
                self._idle.wait(0.2)

    def _done(
        self, future: grpc.Future, op: Operation, intended: float, i: int, sent: float
    ) -> None:
        done = time.perf_counter()
        ack = ""
        try:
            reply = future.result()
            outcome = op.check(reply) or OK
            if outcome == OK:
                ack = op.acknowledged(reply) or ""
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            outcome = code.name if code is not None else "UNKNOWN"
        except Exception as exc:  # a reply the check could not read is still an outcome
            outcome = f"CLIENT_{type(exc).__name__}"
        sample = Sample(
            op.name,
            intended,
            done - (self.start + intended),
            done - sent,
            outcome,
            ack,
            op.trace_id(i),
        )
        with self._idle:
            self.samples.append(sample)
            self._pending -= 1
            if not self._pending:
                self._idle.notify_all()

    def progress(self) -> dict[str, int]:
        with self._lock:
            ok = sum(1 for s in self.samples if s.outcome == OK)
            return {
                "sent": self.sent,
                "answered": len(self.samples),
                "ok": ok,
                "failed": len(self.samples) - ok,
                "in_flight": self._pending,
            }


class GcPauses:
    """The garbage collector's pauses in this process while the load ran: a long one stalls
    the sender, and the report should say whether that is what a lagging sender was."""

    def __init__(self) -> None:
        self.count = 0
        self.total_s = 0.0
        self.max_s = 0.0
        self._began = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        pause = time.perf_counter() - self._began
        self.count += 1
        self.total_s += pause
        self.max_s = max(self.max_s, pause)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def to_dict(self) -> dict[str, float]:
        return {
            "collections": self.count,
            "total_ms": round(self.total_s * 1e3, 3),
            "max_pause_ms": round(self.max_s * 1e3, 3),
        }
