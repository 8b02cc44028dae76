"""Every write a store acknowledged survives the writing process being killed with SIGKILL."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from crash_writer import CASE_ID
from store_builders import licence

from federation.audit import verify_chain

if TYPE_CHECKING:
    from tests._support.storage import Backend

WRITER = Path(__file__).with_name("crash_writer.py")
REPO = Path(__file__).resolve().parents[3]
ACKS = 150
DEADLINE_SECONDS = 30.0


def read_acks(proc: subprocess.Popen[str], wanted: int) -> int:
    """Read `ack N` lines until `wanted` arrived; return the highest acknowledged N."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + DEADLINE_SECONDS
    last = -1
    while last < wanted - 1:
        left = deadline - time.monotonic()
        assert left > 0, f"writer acknowledged only {last + 1} writes in {DEADLINE_SECONDS}s"
        if not sel.select(timeout=left):
            continue
        line = proc.stdout.readline()
        assert line, f"writer exited early with {proc.poll()}: {proc.stderr and proc.stderr.read()}"
        if line.startswith("ack "):
            last = int(line.split()[1])
    return last


def test_acknowledged_writes_survive_sigkill(backend: Backend) -> None:
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), backend.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        last = read_acks(proc, ACKS)
    finally:
        # killed mid-stream: the writer never stops between acknowledgements
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == -signal.SIGKILL

    store = backend.open()
    try:
        for i in range(last + 1):
            assert store.get_subject(f"s{i}") is not None, f"acknowledged subject {i} lost"
            found = store.get_session(f"t{i}")
            assert found is not None and found.revoked_at == float(i)
            assert store.remember_jti("320000", f"j{i}", 1e12, 1.0) is False
        assert store.consume_quota("hub", "p", 10**9).used >= last + 2
        entries = list(store.audit_entries())
        assert verify_chain(entries).ok
        assert [e.detail["i"] for e in entries[: last + 1]] == list(range(last + 1))
        for i in range(last + 1):
            assert store.get_licence(licence(i).identifier) == licence(i), f"licence {i} lost"
        # transition i moved the case to version i + 2 and appended event i + 2
        crashed = store.get_case(CASE_ID)
        assert crashed is not None and crashed.version >= last + 2
        assert crashed.data == {"i": crashed.version - 2}
        events = store.case_events(CASE_ID)
        assert [e.seq for e in events] == list(range(1, crashed.version + 1))
        assert [e.to_state for e in events[1 : last + 2]] == [f"step{i}" for i in range(last + 1)]
    finally:
        store.close()
    if backend.name == "sqlite":
        assert backend.raw("PRAGMA integrity_check") == [("ok",)]


JTI_WRITER = Path(__file__).with_name("jti_crash_writer.py")
JTI_ACKS = 400


def test_acknowledged_concurrent_verifications_survive_sigkill(backend: Backend) -> None:
    """16 threads group-committing jtis with their audit entries, killed mid-stream."""
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    proc = subprocess.Popen(
        [sys.executable, str(JTI_WRITER), backend.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    acked: list[str] = []
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while len(acked) < JTI_ACKS:
            left = deadline - time.monotonic()
            assert left > 0, f"writer acknowledged only {len(acked)} jtis in {DEADLINE_SECONDS}s"
            if not sel.select(timeout=left):
                continue
            line = proc.stdout.readline()
            assert line, f"writer exited early: {proc.poll()}: {proc.stderr and proc.stderr.read()}"
            if line.startswith("ack "):
                acked.append(line.split()[1])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(set(acked)) == len(acked), "a jti was accepted twice"

    store = backend.open()
    try:
        entries = list(store.audit_entries())
        assert verify_chain(entries).ok
        audited = [e.detail["jti"] for e in entries]
        assert len(set(audited)) == len(audited), "a jti was audited as accepted twice"
        assert set(acked) <= set(audited), "an acknowledged verification lost its audit entry"
        for jti in acked:
            assert store.remember_jti("310000", jti, 1e12, 1.0) is False, f"{jti} lost"
        # every audited jti has its replay row too (they committed together)
        for jti in set(audited) - set(acked):
            assert store.remember_jti("310000", jti, 1e12, 1.0) is False, f"{jti} row lost"
    finally:
        store.close()
    if backend.name == "sqlite":
        assert backend.raw("PRAGMA integrity_check") == [("ok",)]
