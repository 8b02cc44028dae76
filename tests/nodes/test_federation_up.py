"""`yrd federation up`: five node processes until SIGTERM, then a graceful stop of all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from federation.regions import Region
from nodes.client import FederationClient
from tests._support.nodes import make_federation


def test_up_runs_all_nodes_and_stops_them_on_sigterm(tmp_path: Path) -> None:
    directory = make_federation(tmp_path / "federation")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nodes.cli", "federation", "up", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the JSON object ends with a closing brace line
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("}"):
                break
        running = json.loads("".join(lines))["running"]
        assert set(running) == {r.short for r in Region}
        with FederationClient(directory) as client:
            for region in Region:
                assert client.health(region) == "SERVING"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for pid in running.values():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            raise AssertionError(f"node process {pid} outlived `federation up`")
        for region in Region:
            log = (directory / region.short.lower() / "node.log").read_text()
            assert "shutting down" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
