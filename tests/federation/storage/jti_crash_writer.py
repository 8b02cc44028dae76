"""Crash-test writer for group commit: 16 threads verify jtis (replay row + audit entry) at once.

Each thread prints `ack JTI` only after its remember_jti returned True. Some jtis are tried by
two threads so that duplicates can land in one batch.

Usage: python jti_crash_writer.py STORE_URL   (killed with SIGKILL by test_crash_durability.py)
"""

from __future__ import annotations

import sys
import threading

from federation.audit import AuditDraft
from federation.storage import open_store

THREADS = 16
AUDIENCE = "310000"


def main(url: str) -> None:
    store = open_store(url)
    out = threading.Lock()
    print("ready", flush=True)

    def verify(worker: int) -> None:
        n = 0
        while True:
            # workers 2k and 2k+1 try the same jtis: one of each pair accepts, one sees a replay
            jti = f"j{worker // 2}-{n}"
            n += 1
            draft = AuditDraft(
                float(n), "crash", "identity.verify_token", "granted", "s", {"jti": jti}
            )
            if store.remember_jti(AUDIENCE, jti, 1e12, 0.0, audit=draft):
                with out:
                    sys.stdout.write(f"ack {jti}\n")
                    sys.stdout.flush()

    threads = [threading.Thread(target=verify, args=(w,), daemon=True) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1])
