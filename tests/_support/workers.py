"""Test helpers for nodes run as worker processes or replicas: pids, and which worker a
connection landed on (read from /proc, Linux), so a test can aim at each worker in turn."""

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

from federation.regions import Region
from nodes.config import load_config
from nodes.ops.provisioning import Layout, free_port, read_trust_list, write_trust_list
from nodes.tls import TlsMaterial

# its own TCP connection per channel: gRPC would otherwise share one between equal channels
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def child_pids(parent: int) -> list[int]:
    """Pids of the live child processes of `parent` (its worker processes)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            children.append(int(entry.name))
    return sorted(children)


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def tcp_connections() -> list[tuple[int, int, int]]:
    """(local port, remote port, socket inode) of every TCP socket in this network namespace."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, inode = parts[1], parts[2], int(parts[9])
            local_port, remote_port = (int(a.rsplit(":", 1)[1], 16) for a in (local, remote))
            rows.append((local_port, remote_port, inode))
    return rows


def operator_credentials(directory: Path) -> grpc.ChannelCredentials:
    layout = Layout(directory.resolve())
    op = layout.operator_dir
    return TlsMaterial.load(layout.ca_cert, op / "tls.crt", op / "tls.key").channel_credentials()


def worker_of(channel_port: int, workers: list[int]) -> int | None:
    """The worker pid holding the server end of our connection from local port `channel_port`."""
    for pid in workers:
        inodes = socket_inodes(pid)
        for _, remote, inode in tcp_connections():
            if remote == channel_port and inode in inodes:
                return pid
    return None


def channel_per_worker(
    endpoint: str, creds: grpc.ChannelCredentials, workers: list[int], attempts: int = 64
) -> dict[int, grpc.Channel]:
    """One connected channel held by each worker pid (the kernel picks a worker per connection:
    open connections until every worker holds one; the rest are closed)."""
    port = int(endpoint.rsplit(":", 1)[1])
    mine = socket_inodes(os.getpid())
    seen = {local for local, remote, inode in tcp_connections() if remote == port and inode in mine}
    found: dict[int, grpc.Channel] = {}
    for _ in range(attempts):
        channel = grpc.secure_channel(endpoint, creds, options=OWN_CONNECTION)
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        mine = socket_inodes(os.getpid())
        new = {
            local
            for local, remote, inode in tcp_connections()
            if remote == port and inode in mine and local not in seen
        }
        seen |= new
        owner = worker_of(next(iter(new)), workers) if len(new) == 1 else None
        if owner is None or owner in found:
            channel.close()
        else:
            found[owner] = channel
        if len(found) == len(workers):
            return found
    for channel in found.values():
        channel.close()
    raise AssertionError(f"no connection reached every worker of {workers} in {attempts} tries")


def add_replica(directory: Path, region: Region) -> Path:
    """A second replica of `region`: a config sharing its store, certificate and keys on ports
    of its own, and the trust list re-signed to list both replicas as the member's endpoint."""
    layout = Layout(directory.resolve())
    source = layout.config(region)
    config = load_config(source)
    port, public = free_port(), free_port()
    lines = []
    for line in source.read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "port":
            line = f"port = {port}"
        elif key == "public_port":
            line = f"public_port = {public}"
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
    channel = grpc.secure_channel(
        load_config(config_path).endpoint, operator_credentials(directory), options=OWN_CONNECTION
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
