"""`yrd federation up`: five node processes until SIGTERM, then a graceful stop of all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
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


def _up(directory: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "nodes.cli", "federation", "up", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _endpoint(directory: Path, region: Region) -> tuple[str, int]:
    config = tomllib.loads((directory / f"{region.short.lower()}.toml").read_text())
    return str(config["host"]), int(config["port"])


def test_up_fails_loudly_when_a_node_cannot_bind_its_port(tmp_path: Path) -> None:
    directory = make_federation(tmp_path / "federation")
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        squatter.bind(_endpoint(directory, Region.JS))
        squatter.listen()
        proc = _up(directory)
        try:
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    finally:
        squatter.close()
    assert proc.returncode == 9, (out, err)
    js_log = directory / "js" / "node.log"
    for region in Region:  # says where each node logs before starting them
        log = directory / region.short.lower() / "node.log"
        assert f"starting {region.short}: log {log}" in err
    error = json.loads(err.strip().splitlines()[-1])
    assert error["error"] == "UNAVAILABLE"
    assert error["message"].startswith("JS node exited with")
    assert str(js_log) in error["message"]
    assert "bind to address" in error["message"]  # the tail of its log
    assert "running" not in out


def test_up_stops_everything_and_exits_non_zero_when_a_node_dies(tmp_path: Path) -> None:
    directory = make_federation(tmp_path / "federation")
    proc = _up(directory)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("}"):
                break
        started = json.loads("".join(lines))
        assert started["logs"]["ZJ"] == str(directory.resolve() / "zj" / "node.log")
        os.kill(started["running"]["ZJ"], signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 9
        error = json.loads(err.strip().splitlines()[-1])
        assert error["message"].startswith("ZJ node died (exit code -9); all nodes stopped")
        assert str(directory.resolve() / "zj" / "node.log") in error["message"]
        for short, pid in started["running"].items():
            if short == "ZJ":
                continue
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            raise AssertionError(f"{short} node {pid} outlived `federation up`")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
