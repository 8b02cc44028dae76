"""A node's view of the trust list: verified, cached on disk, refreshed from the hub."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from federation.clock import Clock
from federation.crypto.jose import Jwk, SigningKey
from federation.errors import FederationError, Unavailable
from federation.trust.trustlist import TrustList, newer, sign_trust_list, verify_trust_list
from nodes.peering.disk_cache import write_atomic

log = logging.getLogger("yrd.trust")

Fetch = Callable[[int], str]
"""(known version) -> the hub's signed trust list; raises on failure."""


class TrustView:
    """The current verified trust list; never rolls back to an older version."""

    def __init__(self, anchor: Jwk, cache_path: Path, clock: Clock) -> None:
        self._anchor = anchor
        self._cache = cache_path
        self._clock = clock
        self._current: TrustList | None = None
        self._signed = ""
        self._lock = threading.Lock()
        self.last_refresh_ok: float | None = None
        self.last_error = ""

    def current(self) -> TrustList:
        current = self._current
        if current is None:
            raise Unavailable(
                "no trust list yet: the hub is unreachable and there is no cached copy"
            )
        return current

    @property
    def signed(self) -> str:
        return self._signed

    def offer(self, signed: str) -> bool:
        """Verify a signed list and adopt it if newer; returns True when adopted."""
        candidate = verify_trust_list(signed, self._anchor, self._clock.now())
        with self._lock:
            if not newer(candidate, self._current):
                return False
            self._current = candidate
            self._signed = signed
        write_atomic(self._cache, signed)
        log.info("trust list version %d adopted", candidate.version)
        return True

    def load_cache(self) -> bool:
        if not self._cache.exists():
            return False
        try:
            return self.offer(self._cache.read_text(encoding="utf-8").strip())
        except FederationError as exc:
            log.warning("ignoring cached trust list %s: %s", self._cache, exc)
            return False

    def refresh(self, fetch: Fetch) -> bool:
        known = self._current.version if self._current else 0
        try:
            adopted = self.offer(fetch(known))
        except Exception as exc:  # keep serving on the cached copy
            self.last_error = str(exc)
            log.warning("trust list refresh failed, serving version %s: %s", known, exc)
            return False
        self.last_refresh_ok = self._clock.now()
        self.last_error = ""
        return adopted


class HubTrustSource:
    """The hub's side: the signed list on disk, re-read when it changes, re-signed before expiry."""

    def __init__(
        self,
        signed_path: Path,
        anchor_key: SigningKey,
        view: TrustView,
        clock: Clock,
        lifetime_s: int,
    ) -> None:
        self._path = signed_path
        self._anchor_key = anchor_key
        self._view = view
        self._clock = clock
        self._lifetime = lifetime_s
        self._mtime = 0.0

    def reload(self) -> None:
        mtime = self._path.stat().st_mtime
        if mtime != self._mtime:
            self._mtime = mtime
            self._view.offer(self._path.read_text(encoding="utf-8").strip())
        current = self._view.current()
        now = self._clock.now()
        if current.expires_at - now < self._lifetime / 2:
            renewed = replace(
                current,
                version=current.version + 1,
                issued_at=int(now),
                expires_at=int(now) + self._lifetime,
            )
            signed = sign_trust_list(renewed, self._anchor_key)
            write_atomic(self._path, signed)
            self._mtime = self._path.stat().st_mtime
            self._view.offer(signed)
