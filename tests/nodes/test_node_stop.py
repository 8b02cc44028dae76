"""Node.stop under load (a region node in this process): the server drains, the pools that run
store work finish and end, every acknowledged write is committed, then the store closes."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.audit import verify_chain
from federation.errors import FailedPrecondition, FederationError
from federation.regions import Region
from federation.storage import open_store
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.ops.supervisor import Federation
from nodes.server.node import Node
from tests._support.nodes import make_federation, new_citizen
from tests._support.storage import drop_node_schemas

PASSWORD = "Lotus-pond-2024"
TOKENS = 160
WORKERS = 8
# the pools of a region node that run calls or store work (thread name prefixes)
POOLS = ("rpc", "verify-store", "licence-store", "desk", "watch")


def _jti(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    jti: str = claims["jti"]
    return jti


def _pool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.rsplit("_", 1)[0] in POOLS]


class InProcessNode:
    """A node on an event loop of its own thread, so the test can look inside it."""

    def __init__(self, config_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-node-loop")
        self.thread.start()
        config = load_config(config_path)

        async def build() -> Node:
            node = Node(config, asyncio.get_running_loop())
            await node.start()
            return node

        self.node = asyncio.run_coroutine_threadsafe(build(), self.loop).result(60)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.node.stop(), self.loop).result(120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sh_in_process(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Path, InProcessNode]]:
    """SH in this process, the hub and ZJ (login, tokens) as processes, on either store."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        directory = make_federation(tmp_path / "fed", store="postgresql", postgres_url=url)
    else:
        directory = make_federation(tmp_path / "fed")
    fed = Federation(directory, regions=(Region.HUB, Region.ZJ))
    fed.start()
    node: InProcessNode | None = None
    try:
        node = InProcessNode(directory / "sh.toml")
        yield directory, node
    finally:
        if node is not None:
            node.stop()  # idempotent: a no-op when the test stopped it
            node.close()
        fed.stop()
        if request.param == "postgresql":
            drop_node_schemas(url, url.rsplit("schema=", 1)[1])


def test_stop_under_load_commits_every_acknowledged_write_then_ends_the_pools(
    sh_in_process: tuple[Path, InProcessNode],
) -> None:
    directory, sh = sh_in_process
    acknowledged: list[str] = []
    lock = threading.Lock()
    first_answers = threading.Event()
    with FederationClient(directory, timeout_s=10.0) as client:
        subject = new_citizen()
        client.register("ZJ", "natural", subject, "测试人", PASSWORD)
        login = client.login("ZJ", subject, PASSWORD, ["SH"])
        tokens = iter(
            [
                client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
                for _ in range(TOKENS)
            ]
        )

        def verify() -> None:
            while True:
                with lock:
                    token = next(tokens, None)
                if token is None:
                    return
                try:
                    client.verify_token("SH", token)
                except FederationError:
                    continue  # refused because the node is stopping: not acknowledged
                with lock:
                    acknowledged.append(_jti(token))
                    if len(acknowledged) >= WORKERS:
                        first_answers.set()

        workers = [threading.Thread(target=verify) for _ in range(WORKERS)]
        for thread in workers:
            thread.start()
        first_answers.wait(60)  # verifications are now in flight: stop under them
        pools = _pool_threads()
        # two stops at once (SIGTERM while a supervisor also stops it): both return when done
        stoppers = [threading.Thread(target=sh.stop) for _ in range(2)]
        for thread in stoppers:
            thread.start()
        for thread in stoppers + workers:
            thread.join(120)

    assert acknowledged, "no verification was answered before the stop"
    names = {t.name.rsplit("_", 1)[0] for t in pools}
    # the rpc workers served the logins; on PostgreSQL every replay row is written on the
    # identity servicer's store pool (SQLite writes one inline when nothing else is writing)
    on_postgres = str(sh.node.config.store_url).startswith("postgresql")
    assert names >= ({"rpc", "verify-store"} if on_postgres else {"rpc"})
    assert [t.name for t in pools if t.is_alive()] == []
    with pytest.raises(FailedPrecondition):  # the store is closed, after the pools ended
        sh.node.rt.store.audit_head()
    sh.stop()  # once more, after the fact: returns at once

    store = open_store(load_config(directory / "sh.toml").store_url)
    try:
        entries = list(store.audit_entries())
        assert verify_chain(entries).ok
        audited = {
            e.detail["jti"]
            for e in entries
            if e.action == "identity.verify_token" and e.outcome == "granted"
        }
        assert set(acknowledged) <= audited, "an acknowledged verification lost its entry"
        for jti in acknowledged:  # and its replay row, committed in the same transaction
            assert store.remember_jti(Region.SH.entity_id, jti, 1e12, 1.0) is False, jti
    finally:
        store.close()
