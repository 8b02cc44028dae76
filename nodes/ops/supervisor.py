"""Run the hub and the four regions as separate processes; stop them gracefully together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from federation.errors import Unavailable
from federation.regions import Region
from nodes.client import FederationClient
from nodes.errors import WrongPeer
from nodes.ops.provisioning import Layout


class Federation:
    """Node processes of one federation directory (used by `yrd federation up`, demo, tests)."""

    def __init__(self, directory: Path, regions: Iterable[Region] = tuple(Region)) -> None:
        self.layout = Layout(directory.resolve())
        self.regions = tuple(regions)
        self.procs: dict[Region, subprocess.Popen[bytes]] = {}

    def log_path(self, region: Region) -> Path:
        """Where a node's stdout and stderr go (appended across runs)."""
        return self.layout.node_dir(region) / "node.log"

    def spawn(self, region: Region) -> subprocess.Popen[bytes]:
        log = open(self.log_path(region), "ab")  # noqa: SIM115 - owned by the child
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nodes.cli",
                "node",
                "serve",
                "--config",
                str(self.layout.config(region)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        self.procs[region] = proc
        return proc

    def start_node(self, region: Region, wait_s: float = 30.0) -> subprocess.Popen[bytes]:
        proc = self.spawn(region)
        self._wait_healthy(region, proc, wait_s)
        return proc

    def _wait_healthy(self, region: Region, proc: subprocess.Popen[bytes], wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        with FederationClient(self.layout.root, timeout_s=1.0) as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise Unavailable(
                        f"{region.short} node exited with {proc.returncode}; "
                        f"see {self.log_path(region)}:\n{self.tail(region)}"
                    )
                try:
                    if client.health(region) == "SERVING":
                        return
                except WrongPeer as exc:  # the handshake met another member's certificate
                    raise Unavailable(
                        f"{client.endpoint(region)} is answered by another member, not "
                        f"{region.entity_id} (its TLS certificate does not name "
                        f"{region.entity_id}): the port is taken by another node; free it or "
                        f"choose other ports (see {self.log_path(region)}): {exc}\n"
                        f"{self.tail(region)}"
                    ) from None
                except Exception:
                    pass
                time.sleep(0.1)
        raise Unavailable(
            f"{region.short} node not healthy after {wait_s:.0f} s; "
            f"see {self.log_path(region)}:\n{self.tail(region)}"
        )

    def tail(self, region: Region, lines: int = 20) -> str:
        try:
            return "\n".join(
                self.log_path(region).read_text(errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return ""

    def start(self) -> None:
        try:
            if Region.HUB in self.regions:  # regions fetch the trust list from the hub
                self.start_node(Region.HUB)
            others = [r for r in self.regions if r is not Region.HUB]
            for region in others:
                self.spawn(region)
            for region in others:
                self._wait_healthy(region, self.procs[region], 30.0)
        except BaseException:
            self.stop()
            raise

    def stop_node(self, region: Region, timeout_s: float = 10.0) -> int | None:
        proc = self.procs.pop(region, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return proc.returncode

    def kill_node(self, region: Region) -> None:
        """SIGKILL: the crash case, no chance to flush anything."""
        proc = self.procs.pop(region)
        proc.kill()
        proc.wait(5)

    def stop(self) -> dict[Region, int | None]:
        order = sorted(self.procs, key=lambda r: r is Region.HUB)  # hub last
        return {region: self.stop_node(region) for region in order}

    def wait(self) -> tuple[Region, int] | None:
        """Block until a signal arrives or a node exits; then stop them all.

        Returns the first node that exited on its own, with its exit code (None after a signal):
        one dead node stops the federation rather than leaving it half up.
        """
        stopping = False

        def _stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        died: tuple[Region, int] | None = None
        while not stopping and died is None:
            for region, proc in self.procs.items():
                code = proc.poll()
                if code is not None:
                    died = (region, code)
                    break
            else:
                time.sleep(0.2)
        self.stop()
        return died

    def __enter__(self) -> Federation:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
