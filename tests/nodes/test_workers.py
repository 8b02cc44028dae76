"""`yrd node serve --workers N`: worker processes on one port, a replay race across them,
supervision (restart, graceful stop, a worker that cannot start)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from benchmarks._sockets import child_pids
from federation.audit import verify_chain
from federation.regions import Region
from federation.storage import open_store
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.ops.supervisor import Federation
from nodes.pb.v1 import identity_pb2, identity_pb2_grpc
from tests._support.nodes import eventually, make_federation, new_citizen
from tests._support.workers import channel_per_worker, operator_credentials

PASSWORD = "Lotus-pond-2024"
SERVE = [sys.executable, "-m", "nodes.cli", "node", "serve"]
RACES = 6


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Federation]]:
    """Hub and Zhejiang as usual; Shanghai as two worker processes on one port."""
    directory = make_federation(tmp_path_factory.mktemp("workers") / "federation")
    config = directory / "sh.toml"
    config.write_text(config.read_text() + "processes = 2\n")
    fed = Federation(directory, regions=(Region.HUB, Region.ZJ, Region.SH))
    fed.start()
    try:
        yield directory, fed
    finally:
        fed.stop()


def _workers(fed: Federation) -> list[int]:
    workers = eventually(lambda: _exactly(child_pids(fed.procs[Region.SH].pid), 2))
    return workers


def _exactly(pids: list[int], count: int) -> list[int]:
    assert len(pids) == count, pids
    return pids


def test_every_worker_answers_health_on_the_shared_port(
    two_workers: tuple[Path, Federation],
) -> None:
    directory, fed = two_workers
    endpoint = load_config(directory / "sh.toml").endpoint
    channels = channel_per_worker(
        endpoint, operator_credentials(directory), _workers(fed), Region.SH
    )
    for channel in channels.values():
        channel.close()
    assert len(channels) == 2  # each reached over its own connection, health SERVING


def test_a_token_raced_to_both_workers_is_accepted_once_and_both_are_audited(
    two_workers: tuple[Path, Federation],
) -> None:
    directory, fed = two_workers
    sh = load_config(directory / "sh.toml")
    workers = _workers(fed)
    channels = channel_per_worker(sh.endpoint, operator_credentials(directory), workers, Region.SH)
    stubs = [identity_pb2_grpc.IdentityServiceStub(channels[pid]) for pid in workers]
    with FederationClient(directory) as client:
        subject = new_citizen()
        client.register("ZJ", "natural", subject, "测试人", PASSWORD)
        login = client.login("ZJ", subject, PASSWORD, ["SH"])
        tokens = [
            client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
            for _ in range(RACES)
        ]
    store = open_store(sh.store_url)
    start_seq = store.audit_head()[0]
    for token in tokens:
        answers = race(stubs, token)
        assert sorted(code.name for code, _ in answers) == ["OK", "UNAUTHENTICATED"], answers
        refusal = next(message for code, message in answers if code != grpc.StatusCode.OK)
        assert "already used here (replay)" in refusal
    for channel in channels.values():
        channel.close()
    try:
        entries = list(store.audit_entries())
        assert verify_chain(entries).ok  # both processes appended to one unbroken chain
        new = [e for e in entries if e.seq > start_seq]
        granted = [e.detail["jti"] for e in new if e.action == "identity.verify_token"]
        refused = [
            e
            for e in new
            if e.outcome == "refused:UNAUTHENTICATED" and "replay" in e.detail.get("reason", "")
        ]
        assert len(granted) == len(set(granted)) == RACES  # each token accepted exactly once
        assert len(refused) == RACES  # and each replay audited as refused
        for jti in granted:
            assert sum(jti in e.detail["reason"] for e in refused) == 1
    finally:
        store.close()


def race(
    stubs: list[identity_pb2_grpc.IdentityServiceStub], token: str
) -> list[tuple[grpc.StatusCode, str]]:
    """Offer `token` through every stub at once (released together by a barrier)."""
    barrier = threading.Barrier(len(stubs))
    answers: list[tuple[grpc.StatusCode, str]] = []

    def offer(stub: identity_pb2_grpc.IdentityServiceStub) -> None:
        request = identity_pb2.VerifyTokenRequest(token=token)
        barrier.wait(5)
        try:
            stub.VerifyToken(request, timeout=10)
            answers.append((grpc.StatusCode.OK, ""))
        except grpc.RpcError as exc:
            answers.append((exc.code(), exc.details() or ""))

    threads = [threading.Thread(target=offer, args=(stub,)) for stub in stubs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return answers


def test_a_killed_worker_is_restarted_and_sigterm_drains_them_all(
    two_workers: tuple[Path, Federation],
) -> None:
    directory, fed = two_workers
    parent = fed.procs[Region.SH]
    before = _workers(fed)
    os.kill(before[0], signal.SIGKILL)
    after = eventually(
        lambda: _changed(child_pids(parent.pid), before[0]), timeout_s=30.0, pause_s=0.2
    )
    assert before[1] in after
    with FederationClient(directory) as client:
        eventually(lambda: _serving(client), timeout_s=20.0)
        # the restarted worker serves too (once it listens): each answers a connection of its own
        endpoint = load_config(directory / "sh.toml").endpoint
        creds = operator_credentials(directory)
        channels = eventually(
            lambda: channel_per_worker(endpoint, creds, after, Region.SH, attempts=16),
            timeout_s=30.0,
        )
        for channel in channels.values():
            channel.close()
    assert fed.stop_node(Region.SH) == 0  # SIGTERM to the parent: both drain, exit 0
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in after)


def _changed(pids: list[int], dead: int) -> list[int]:
    assert len(pids) == 2 and dead not in pids, pids
    return pids


def _serving(client: FederationClient) -> None:
    assert client.health("SH") == "SERVING"


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def _variant(directory: Path, name: str, port: int) -> Path:
    """A copy of SH's config on another port, without the public HTTPS port (its store, keys
    and caches are shared with the running SH, which stays safe: they are made for that)."""
    lines = [
        line
        for line in (directory / "sh.toml").read_text().splitlines()
        if line.split("=", 1)[0].strip() not in ("port", "public_port")
    ]
    path = directory / f"{name}.toml"
    path.write_text("\n".join([*lines, f"port = {port}"]) + "\n")
    return path


def test_a_worker_that_cannot_start_fails_the_node_naming_it(
    two_workers: tuple[Path, Federation],
) -> None:
    directory, _ = two_workers
    with socket.socket() as squatter:  # holds the port without SO_REUSEPORT
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        config = _variant(directory, "sh-taken", squatter.getsockname()[1])
        done = subprocess.run(
            [*SERVE, "--config", str(config), "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "worker 0 of 2" in done.stderr and "could not start" in done.stderr
    assert "READY" not in done.stdout


def test_the_hub_refuses_workers(two_workers: tuple[Path, Federation]) -> None:
    directory, _ = two_workers
    done = subprocess.run(
        [*SERVE, "--config", str(directory / "hub.toml"), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "the hub runs as one process" in done.stdout + done.stderr


def test_port_0_is_chosen_once_by_the_parent_and_shared_by_the_workers(
    two_workers: tuple[Path, Federation],
) -> None:
    directory, _ = two_workers
    config = _variant(directory, "sh-port0", 0)
    proc = subprocess.Popen(
        [*SERVE, "--config", str(config), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()  # READY <entity> <host:port> ... workers 2
        assert ready[0] == "READY" and ready[-2:] == ["workers", "2"], ready
        endpoint = ready[2]
        assert int(endpoint.rsplit(":", 1)[1]) > 0
        workers = eventually(lambda: _exactly(child_pids(proc.pid), 2))
        channels = channel_per_worker(endpoint, operator_credentials(directory), workers, Region.SH)
        for channel in channels.values():
            channel.close()
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: passed on, both drain
        code = proc.wait(30)
    assert code == 0
