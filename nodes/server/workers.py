"""Worker processes of one node: N processes share host:port (SO_REUSEPORT) under one parent.

The parent starts `yrd node serve --worker-index I` N times, waits for each to print READY
(exiting with status 1, naming the worker, when one cannot start), then restarts a worker that
dies (after pauses that grow while it keeps dying) and forwards SIGTERM/SIGINT for a graceful
drain of them all. Each worker is a whole node (own event
loop, thread pool, store connections, trust view, health service) on the same listening port;
the kernel spreads incoming connections over the workers (not calls: one HTTP/2 connection
stays with the worker that accepted it).

What every worker runs, and why that is safe: trust-list refresh, catalogue refresh and
revocation polling keep in-memory views each worker needs for itself (files they cache are
replaced atomically under a per-process temporary name); SQLite WAL checkpoints are PASSIVE
and never block a writer, whoever runs them; the audit chain, replay rows and idempotent
writes are serialised by the store (SQLite's one write lock taken by BEGIN IMMEDIATE, or
PostgreSQL's unique keys and an advisory transaction lock). What one worker runs: the public
HTTPS endpoint (worker 0; a second bind of its port would fail). The hub, which alone re-signs
its trust list and catalogue files, is always one process (see NodeConfig.processes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from nodes.config import NodeConfig

log = logging.getLogger("yrd.node")

READY_TIMEOUT_S = 60.0
GRACE_S = 15.0
POLL_S = 0.1
# a worker that dies this soon after becoming ready is restarted after a growing pause
STABLE_AFTER_S = 10.0
RESTART_PAUSES_S = (0.2, 0.5, 1.0, 2.0, 5.0)


class WorkerStartFailed(RuntimeError):
    """A worker process exited (or hung) before it was ready to serve."""


@dataclass
class Worker:
    """One worker process and what the parent knows of it."""

    index: int
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    ready: threading.Event = field(default_factory=threading.Event)
    ready_line: str = ""


def reserve_port(host: str) -> socket.socket:
    """A bound (not listening) SO_REUSEPORT socket holding a free port for the workers to share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return sock


def label_worker_logs(index: int) -> None:
    """Prefix this worker's log lines with its number (the workers share the parent's stderr)."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s [worker {index}] %(name)s %(levelname)s %(message)s")
        )


def die_with_parent() -> None:
    """Ask Linux to send this worker SIGTERM if its supervising parent dies (even by kill -9)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the parent was already gone before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


class WorkerSupervisor:
    """Starts and supervises `count` worker processes of the node configured at `config_path`."""

    def __init__(self, config_path: Path, config: NodeConfig, count: int) -> None:
        self.config_path = config_path
        self.config = config
        self.count = count
        self.workers: dict[int, Worker] = {}
        self.restarts = 0
        self._stopping = threading.Event()
        self._reserved: socket.socket | None = None
        self.port = config.port

    def _command(self, index: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "nodes.cli",
            "node",
            "serve",
            "--config",
            str(self.config_path),
            "--worker-index",
            str(index),
            "--workers",
            str(self.count),
            "--port",
            str(self.port),
        ]

    def _spawn(self, index: int) -> Worker:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(self._command(index), stdout=subprocess.PIPE, env=env)
        worker = Worker(index, proc)
        thread = threading.Thread(
            target=self._relay, args=(worker,), name=f"worker-{index}-stdout", daemon=True
        )
        thread.start()
        self.workers[index] = worker
        return worker

    @staticmethod
    def _relay(worker: Worker) -> None:
        """Notice the worker's READY line; pass anything else it prints on to our stdout."""
        stream: IO[bytes] | None = worker.proc.stdout
        if stream is None:
            return
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not worker.ready.is_set() and line.startswith("READY "):
                worker.ready_line = line
                worker.ready.set()
                continue
            print(f"[worker {worker.index}] {line}", flush=True)

    def _name(self, worker: Worker) -> str:
        return f"worker {worker.index} of {self.count} (pid {worker.proc.pid})"

    def _await_ready(self, worker: Worker) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not worker.ready.wait(POLL_S):
            code = worker.proc.poll()
            if code is not None:
                worker.ready.wait(0.5)  # its READY line may still be in the pipe
                if worker.ready.is_set():
                    return
                raise WorkerStartFailed(
                    f"{self._name(worker)} of {self.config.entity_id} could not start:"
                    f" it exited with code {code} (its log is above)"
                )
            if self._stopping.is_set():
                return
            if time.monotonic() > deadline:
                raise WorkerStartFailed(
                    f"{self._name(worker)} of {self.config.entity_id} was not ready after"
                    f" {READY_TIMEOUT_S:.0f} s"
                )

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping.set()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; 0 after a clean drain, 1 if a worker could not start."""
        previous = {
            s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            return self._run()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if self._reserved is not None:
                self._reserved.close()

    def _run(self) -> int:
        if self.port == 0:  # the workers must share one port: choose it here, and hold it
            self._reserved = reserve_port(self.config.host)
            self.port = int(self._reserved.getsockname()[1])
        try:
            for index in range(self.count):
                self._spawn(index)
            for worker in list(self.workers.values()):
                self._await_ready(worker)
        except WorkerStartFailed as exc:
            log.error("%s", exc)
            print(f"error: {exc}", file=sys.stderr, flush=True)
            self._stop_all()
            return 1
        if not self._stopping.is_set():
            first = self.workers[0].ready_line.removeprefix("READY ")
            print(f"READY {first} workers {self.count}", flush=True)
            log.info("%s serving with %d workers", self.config.entity_id, self.count)
        self._supervise()
        return self._stop_all()

    def _supervise(self) -> None:
        pauses: dict[int, int] = {}
        while not self._stopping.wait(POLL_S):
            for index, worker in list(self.workers.items()):
                code = worker.proc.poll()
                if code is None:
                    continue
                lived = time.monotonic() - worker.started
                step = 0 if lived > STABLE_AFTER_S else pauses.get(index, -1) + 1
                pauses[index] = step
                pause = RESTART_PAUSES_S[min(step, len(RESTART_PAUSES_S) - 1)]
                log.warning(
                    "%s exited with code %s after %.1f s; restarting it in %.1f s",
                    self._name(worker),
                    code,
                    lived,
                    pause,
                )
                if self._stopping.wait(pause):
                    return
                # not awaited: the others keep being watched; one that cannot start again
                # (its store unreachable, say) is retried after ever longer pauses
                self.restarts += 1
                self._spawn(index)

    def _stop_all(self) -> int:
        """SIGTERM every live worker, wait for their drain, SIGKILL stragglers; 0 if all clean."""
        for worker in self.workers.values():
            if worker.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        clean = True
        for worker in self.workers.values():
            try:
                code = worker.proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.error("%s did not drain in %.0f s; killing it", self._name(worker), GRACE_S)
                worker.proc.kill()
                code = worker.proc.wait(5)
            clean = clean and code in (0, -signal.SIGTERM)
        return 0 if clean else 1


def serve_workers(config_path: Path, config: NodeConfig, count: int) -> int:
    """Run `count` worker processes of the node until SIGTERM/SIGINT; the exit status."""
    return WorkerSupervisor(config_path, config, count).run()
