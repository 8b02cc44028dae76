"""Group-committed token verification on a real node: kill -9 loses no acknowledged jti."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

from federation.audit import verify_chain
from federation.errors import FederationError
from federation.regions import Region
from federation.storage import open_store
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.ops.supervisor import Federation
from tests._support.nodes import new_citizen

PASSWORD = "Lotus-pond-2024"
TOKENS = 240
WORKERS = 8


def _jti(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    jti: str = claims["jti"]
    return jti


def test_kill_9_under_verification_load_loses_no_acknowledged_jti(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, fed = small_fed
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with FederationClient(directory, timeout_s=3.0) as client:
        subject = new_citizen()
        client.register("ZJ", "natural", subject, "测试人", PASSWORD)
        login = client.login("ZJ", subject, PASSWORD, ["SH"])
        tokens = [
            client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
            for _ in range(TOKENS)
        ]
        # every token is offered twice, by two workers, so replays race their first use
        offers = [t for t in tokens for _ in range(2)]
        taken = iter(offers)

        def verify_until_stopped() -> None:
            while not stop.is_set():
                with lock:
                    token = next(taken, None)
                if token is None:
                    return
                try:
                    client.verify_token("SH", token)
                except FederationError:
                    continue  # a replay, or the node is gone
                with lock:
                    acknowledged.append(_jti(token))

        workers = [threading.Thread(target=verify_until_stopped) for _ in range(WORKERS)]
        for thread in workers:
            thread.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            time.sleep(0.005)
        fed.kill_node(Region.SH)  # mid-load: verifications are in flight
        stop.set()
        for thread in workers:
            thread.join(10)
    assert len(acknowledged) >= 60
    assert len(set(acknowledged)) == len(acknowledged), "a token was accepted twice"

    store = open_store(load_config(directory / "sh.toml").store_url)
    try:
        entries = list(store.audit_entries())
        assert verify_chain(entries).ok
        audited = [
            e.detail["jti"]
            for e in entries
            if e.action == "identity.verify_token" and e.outcome == "granted"
        ]
        assert len(set(audited)) == len(audited), "a jti was audited as accepted twice"
        assert set(acknowledged) <= set(audited), "an acknowledged verification lost its entry"
        for jti in audited:  # each audited acceptance kept its replay row (same transaction)
            assert store.remember_jti(Region.SH.entity_id, jti, 1e12, 1.0) is False, jti
    finally:
        store.close()
