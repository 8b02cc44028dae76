"""Federation-wide logout: each region polls the others' revoked sessions (bounded delay)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from federation.clock import Clock
from federation.storage.base import Revocation, Store

log = logging.getLogger("yrd.revocations")

PollPeer = Callable[[str, float], tuple[list[Revocation], float]]
"""(issuer entity id, since) -> (revocations, the issuer's as_of time)."""


class RevocationTracker:
    """Knows which sessions are revoked: our own from the store, others' from polling."""

    def __init__(self, own_entity: str, store: Store, clock: Clock) -> None:
        self._own = own_entity
        self._store = store
        self._clock = clock
        self._remote: dict[tuple[str, str], float] = {}  # (issuer, sid) -> expires_at
        self._since: dict[str, float] = {}
        self._lock = threading.Lock()

    def is_revoked(self, issuer: str, session_id: str) -> bool:
        if issuer == self._own:
            session = self._store.get_session(session_id)
            return session is not None and session.revoked_at is not None
        return (issuer, session_id) in self._remote

    def is_revoked_now(self, issuer: str, session_id: str) -> bool | None:
        """`is_revoked` without reading the store: None for our own sessions (a store read)."""
        if issuer == self._own:
            return None
        return (issuer, session_id) in self._remote

    def poll(self, issuers: Iterable[str], fetch: PollPeer) -> None:
        for issuer in issuers:
            if issuer == self._own:
                continue
            since = self._since.get(issuer, 0.0)
            try:
                revocations, as_of = fetch(issuer, since)
            except Exception as exc:  # a peer being down must not stop the others
                log.debug("revocation poll of %s failed: %s", issuer, exc)
                continue
            with self._lock:
                for rev in revocations:
                    self._remote[(issuer, rev.session_id)] = rev.expires_at
                # overlap by a few seconds so a revocation committed during the poll is not missed
                self._since[issuer] = max(since, as_of - 5.0)
        self._expire()

    def _expire(self) -> None:
        now = self._clock.now()
        with self._lock:
            for key in [k for k, exp in self._remote.items() if exp < now]:
                del self._remote[key]
