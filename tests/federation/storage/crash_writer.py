"""Crash-test writer: store writes in a loop, printing `ack N` only after write N has returned.

Usage: python crash_writer.py STORE_URL   (killed with SIGKILL by test_crash_durability.py)
"""

from __future__ import annotations

import sys

from store_builders import case, event, licence

from federation.audit import AuditDraft
from federation.storage import SessionRecord, SubjectRecord, open_store

CASE_ID = "crash-case"


def main(url: str) -> None:
    store = open_store(url)
    store.create_case(case(CASE_ID), event(CASE_ID))
    print("ready", flush=True)
    i = 0
    while True:
        store.add_subject(SubjectRecord(f"s{i}", "natural", f"n{i}", "310000", "h", float(i)))
        store.add_session(SessionRecord(f"t{i}", f"s{i}", "h", "low", float(i), 1e12))
        store.revoke_session(f"t{i}", float(i))
        store.remember_jti("320000", f"j{i}", 1e12, 0.0)
        store.consume_quota("hub", "p", 10**9)
        store.append_audit(AuditDraft(float(i), "crash", "write", "ok", f"s{i}", {"i": i}))
        store.add_licence(licence(i))
        store.transition_case(CASE_ID, i + 1, f"step{i}", {"i": i}, event(CASE_ID, f"step{i}"))
        sys.stdout.write(f"ack {i}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main(sys.argv[1])
