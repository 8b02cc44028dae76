"""Fail closed on audit, on real nodes: no grant without its entry, even across kill -9."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from node_helpers import eventually, new_citizen

from federation.crypto.jose import SigningKey
from federation.errors import FederationError, NotFound, Unavailable
from federation.licences import create_presentation
from federation.regions import Region
from federation.storage import open_store
from federation.storage.sqlite import parse_sqlite_url
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.demo.licences import DRIVING_FIELDS
from nodes.ops.supervisor import Federation

PASSWORD = "Lotus-pond-2024"
ITEM = "YRD-SH-RS-0101"  # owned by Shanghai; reads a resident identity card's name and code
ID_CARD_FIELDS = {
    "sex": "female",
    "ethnicity": "汉",
    "birth_date": "1990-09-09",
    "address": "杭州市西湖区 1 号",
}
NOTHING_GRANTED = "the audit log cannot be written; nothing was granted"


def _config(directory: Path, region: Region) -> Path:
    return directory / f"{region.short.lower()}.toml"


def _sqlite_path(directory: Path, region: Region) -> str:
    return parse_sqlite_url(load_config(_config(directory, region)).store_url)[0]


def _set_audit_frozen(directory: Path, region: Region, frozen: bool) -> None:
    """Make the node's audit table refuse inserts (as a full disk would), or undo it."""
    with sqlite3.connect(_sqlite_path(directory, region), timeout=10) as conn:
        if frozen:
            conn.execute(
                "CREATE TRIGGER audit_frozen BEFORE INSERT ON audit_log"
                " BEGIN SELECT RAISE(ABORT, 'audit log is read-only'); END"
            )
        else:
            conn.execute("DROP TRIGGER audit_frozen")


def _audit_verify(directory: Path, region: Region) -> dict[str, object]:
    config = _config(directory, region)
    done = subprocess.run(
        [sys.executable, "-m", "nodes.cli", "audit", "verify", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def _issue(client: FederationClient, holder: str, request_id: str, **kw: object):  # type: ignore[no-untyped-def]
    return client.issue_licence(
        "ZJ",
        request_id,
        "driving_licence",
        holder,
        "测试人",
        DRIVING_FIELDS,
        valid_until="2030-01-01",
        **kw,  # type: ignore[arg-type]
    )


def test_kill_9_under_issue_load_leaves_no_licence_without_its_audit_entry(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, fed = small_fed
    acknowledged: list[str] = []
    failures: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    with FederationClient(directory, timeout_s=3.0) as client:

        def issue_until_stopped(worker: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    doc = _issue(client, new_citizen(), f"kill9-{worker}-{n}")
                except FederationError as exc:
                    with lock:
                        failures.append(exc.message)
                    if stop.wait(0.05):
                        return
                    continue
                with lock:
                    acknowledged.append(doc.identifier)

        workers = [threading.Thread(target=issue_until_stopped, args=(w,)) for w in range(6)]
        for thread in workers:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        fed.kill_node(Region.ZJ)  # mid-load: requests are in flight
        time.sleep(0.3)
        stop.set()
        for thread in workers:
            thread.join(10)
    assert len(acknowledged) >= 40, failures[:3]

    store = open_store(load_config(_config(directory, Region.ZJ)).store_url)
    try:
        entries = list(store.audit_entries())
        audited = {
            e.detail["identifier"]
            for e in entries
            if e.action == "licence.issue" and e.outcome == "granted"
        }
        holders: set[str] = set()
        for entry in entries:
            if entry.action == "licence.issue":
                holders.add(entry.subject)
        stored = {
            record.identifier
            for holder in holders
            for record in store.licences_of_holder(holder)
        }
        indices = store.status_entries()
    finally:
        store.close()
    assert len(indices) == len(stored)  # every licence in the store belongs to an audited holder
    assert stored == audited  # every stored licence has its licence.issue entry, and vice versa
    assert set(acknowledged) <= stored  # every acknowledged issue survived the crash
    report = _audit_verify(directory, Region.ZJ)
    assert report["ok"] is True and report["entries"] == len(entries)
    fed.start_node(Region.ZJ)  # and the node comes back on the same store


def test_an_unwritable_audit_log_refuses_grants_and_releases_nothing(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, _fed = small_fed
    with FederationClient(directory) as client:
        holder = new_citizen("310104")
        client.register("SH", "natural", holder, "测试人", PASSWORD)
        wallet = SigningKey.generate()
        doc = _issue(client, holder, "frozen-0", holder_jwk=wallet.jwk.to_dict())
        card = client.issue_licence(
            "ZJ", "frozen-card", "resident_identity_card", holder, "测试人", ID_CARD_FIELDS
        )
        login = client.login("SH", holder, PASSWORD, ["ZJ"])

        def read_card() -> str:
            token = client.issue_token("SH", login.session_id, login.session_secret, "ZJ")
            return client.fetch_remote_licence(
                "SH", "ZJ", card.identifier, ITEM, "qualification check", token
            ).fields_json

        eventually(read_card)  # once ZJ's catalogue lists Shanghai's item
        consent = client.issue_token("SH", login.session_id, login.session_secret, "ZJ")
        verify_me = client.issue_token("SH", login.session_id, login.session_secret, "ZJ")
        shown = create_presentation(
            doc.sd_jwt, wallet, ["holder_name"], Region.ZJ.entity_id, time.time()
        )
        _set_audit_frozen(directory, Region.ZJ, True)
        try:
            with pytest.raises(Unavailable, match=NOTHING_GRANTED):
                _issue(client, holder, "frozen-1")
            with pytest.raises(Unavailable, match=NOTHING_GRANTED):  # a retry is a grant too
                _issue(client, holder, "frozen-0", holder_jwk=wallet.jwk.to_dict())
            with pytest.raises(Unavailable, match=NOTHING_GRANTED):
                client.fetch_remote_licence(
                    "SH", "ZJ", card.identifier, ITEM, "qualification check", consent
                )
            with pytest.raises(Unavailable, match=NOTHING_GRANTED):
                client.verify_token("ZJ", verify_me)
            with pytest.raises(Unavailable, match=NOTHING_GRANTED):
                client.verify_presentation("ZJ", shown)
            with pytest.raises(Unavailable, match=NOTHING_GRANTED):
                client.verify_licence("ZJ", doc.sd_jwt)
            # a refusal is still the refusal it was, though its audit entry cannot be written
            with pytest.raises(NotFound):
                client.get_licence("ZJ", "1.2.156.3005.2.unknown")
            with pytest.raises(NotFound):
                client.issue_licence("ZJ", "frozen-2", "no_such_type", holder, "X", {})
        finally:
            _set_audit_frozen(directory, Region.ZJ, False)
        # nothing was stored or consumed: the licence is new now, the token and nonce unused
        assert _issue(client, holder, "frozen-1").created
        assert client.verify_token("ZJ", verify_me).claims.sub == holder
        assert client.verify_presentation("ZJ", shown).verdict.verdict == "valid"
        assert json.loads(read_card())["holder_code"] == holder
    store = open_store(load_config(_config(directory, Region.ZJ)).store_url)
    try:
        entries = list(store.audit_entries())
    finally:
        store.close()
    issued = [e for e in entries if e.action == "licence.issue"]
    assert [(e.detail["request_id"], e.outcome) for e in issued] == [
        ("frozen-0", "granted"),
        ("frozen-card", "granted"),
        ("frozen-1", "granted"),
    ]
    assert _audit_verify(directory, Region.ZJ)["ok"] is True
    log = (directory / "zj" / "node.log").read_text(errors="replace")
    assert "AUDIT LOG NOT WRITABLE" in log and "could not be audited" in log
