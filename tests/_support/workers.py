"""Test helpers for nodes run as worker processes or replicas: a channel held by each worker,
a second replica of a region (config, trust list, process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks._sockets import OWN_CONNECTION, channels_per_worker
from federation.regions import Region
from nodes.config import load_config
from nodes.ops.ports import free_ports
from nodes.ops.provisioning import Layout, read_trust_list, write_trust_list
from nodes.peering.channels import secure_channel
from nodes.peering.targets import server_name_options
from nodes.tls import TlsMaterial


def channel_per_worker(
    endpoint: str,
    creds: grpc.ChannelCredentials,
    workers: list[int],
    region: Region,
    attempts: int = 64,
) -> dict[int, grpc.Channel]:
    """One connected channel held by each worker pid of `region`'s node."""
    options = server_name_options(region.entity_id)
    held = channels_per_worker(endpoint, creds, workers, 1, attempts, options=options)
    return {pid: channels[0] for pid, channels in held.items()}


def operator_credentials(directory: Path) -> grpc.ChannelCredentials:
    layout = Layout(directory.resolve())
    op = layout.operator_dir
    return TlsMaterial.load(layout.ca_cert, op / "tls.crt", op / "tls.key").channel_credentials()


def add_replica(directory: Path, region: Region) -> Path:
    """A second replica of `region`: a config sharing its store, certificate and keys on ports
    of its own, and the trust list re-signed to list both replicas as the member's endpoint."""
    layout = Layout(directory.resolve())
    source = layout.config(region)
    config = load_config(source)
    taken: set[int] = set()  # the federation's own ports, which its nodes may not have bound yet
    for member in Region:
        if layout.config(member).exists():
            other = load_config(layout.config(member))
            taken |= {other.port, other.public_port or 0, other.metrics_port or 0}
    port, public, metrics = free_ports(3, avoid=taken)
    lines = []
    for line in source.read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "port":
            line = f"port = {port}"
        elif key == "public_port":
            line = f"public_port = {public}"
        elif key == "metrics_port":  # a replica on the same host scrapes on a port of its own
            line = f"metrics_port = {metrics}"
        elif key == "access_log":
            line = f'access_log = "{config.node_dir / "access-replica.log"}"'
        lines.append(line)
    replica = directory / f"{region.short.lower()}-replica.toml"
    replica.write_text("\n".join(lines) + "\n")
    trust = read_trust_list(layout)
    member = trust.member(region.entity_id)
    listed = replace(member, endpoint=f"{config.endpoint},{config.host}:{port}")
    order = [m.entity_id for m in trust.members]
    updated = trust.with_member(listed)
    updated = replace(
        updated,
        version=trust.version + 1,
        members=tuple(sorted(updated.members, key=lambda m: order.index(m.entity_id))),
    )
    write_trust_list(layout, updated)
    return replica


def start_replica(
    directory: Path, config_path: Path, wait_s: float = 30.0
) -> subprocess.Popen[bytes]:
    """Run the replica's node (logs beside its config) until its own address answers SERVING."""
    log_path = config_path.with_suffix(".log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nodes.cli", "node", "serve", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    config = load_config(config_path)
    channel = secure_channel(
        config.endpoint, operator_credentials(directory), config.entity_id, OWN_CONNECTION
    )
    deadline = time.monotonic() + wait_s
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"replica exited: {log_path.read_text()[-2000:]}")
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return proc
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"replica not healthy: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
    finally:
        channel.close()


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
