"""Which worker process holds a connection, read from /proc (Linux): lets a benchmark or a
test spread its connections evenly over a node's worker processes sharing one port."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

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


def worker_of(channel_port: int, workers: list[int]) -> int | None:
    """The worker pid holding the server end of our connection from local port `channel_port`."""
    for pid in workers:
        inodes = socket_inodes(pid)
        for _, remote, inode in tcp_connections():
            if remote == channel_port and inode in inodes:
                return pid
    return None


def channels_per_worker(
    endpoint: str,
    creds: grpc.ChannelCredentials,
    workers: list[int],
    per_worker: int = 1,
    attempts: int = 64,
    options: Sequence[tuple[str, Any]] = (),
) -> dict[int, list[grpc.Channel]]:
    """`per_worker` connected channels held by each worker pid (the kernel picks a worker per
    connection: open connections until every worker holds enough; the rest are closed)."""
    port = int(endpoint.rsplit(":", 1)[1])
    mine = socket_inodes(os.getpid())
    seen = {local for local, remote, inode in tcp_connections() if remote == port and inode in mine}
    found: dict[int, list[grpc.Channel]] = {pid: [] for pid in workers}
    for _ in range(attempts * per_worker):
        channel = grpc.secure_channel(endpoint, creds, options=[*options, *OWN_CONNECTION])
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        mine = socket_inodes(os.getpid())
        new = {
            local
            for local, remote, inode in tcp_connections()
            if remote == port and inode in mine and local not in seen
        }
        seen |= new
        owner = worker_of(next(iter(new)), workers) if len(new) == 1 else None
        if owner is None or len(found[owner]) >= per_worker:
            channel.close()
        else:
            found[owner].append(channel)
        if all(len(held) >= per_worker for held in found.values()):
            return found
    for held in found.values():
        for channel in held:
            channel.close()
    raise RuntimeError(
        f"{attempts * per_worker} connections did not give every worker of {workers}"
        f" {per_worker} of them"
    )
