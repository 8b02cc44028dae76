"""Verifier-side cache of issuers' signed status lists: fetched whole, kept for their TTL."""

from __future__ import annotations

import threading
from collections.abc import Callable

from federation.clock import Clock
from federation.licences import VerifiedStatusList, verify_status_list
from federation.licences.sealcert import RegionKeyResolver
from federation.licences.status_uri import PublicUrlOf, region_of_status_uri
from federation.regions import Region

FetchList = Callable[[Region, str], str]
"""(issuing region, uri) -> the signed status list token."""
Lookup = Callable[[bool], None]
"""Told of each lookup: True when the cache answered it, False when it fetched (metrics)."""


class StatusListCache:
    """One fetch per list per TTL, whatever the request rate (single flight per uri).

    An https uri is mapped to its region by the trust list (`public_urls`): one that is not on
    the region's listed public URL is refused before anything is fetched. The list itself comes
    over the federation (`fetch`), never from the uri's HTTPS address.
    """

    def __init__(
        self,
        fetch: FetchList,
        keys: RegionKeyResolver,
        clock: Clock,
        public_urls: PublicUrlOf | None = None,
        on_lookup: Lookup | None = None,
    ) -> None:
        self._fetch = fetch
        self._on_lookup = on_lookup
        self._keys = keys
        self._clock = clock
        self._public_urls = public_urls
        self._entries: dict[str, tuple[VerifiedStatusList, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.fetches = 0

    def _lock_for(self, uri: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uri, threading.Lock())

    def cached(self, uri: str) -> VerifiedStatusList | None:
        """The list if a fresh copy is held, else None: never fetches, never blocks."""
        cached = self._entries.get(uri)
        if cached is not None and self._clock.now() < cached[1]:
            self._looked_up(True)
            return cached[0]
        return None

    def get(self, uri: str) -> VerifiedStatusList:
        now = self._clock.now()
        cached = self._entries.get(uri)
        if cached is not None and now < cached[1]:
            self._looked_up(True)
            return cached[0]
        with self._lock_for(uri):
            cached = self._entries.get(uri)
            now = self._clock.now()
            if cached is not None and now < cached[1]:  # another caller fetched it meanwhile
                self._looked_up(True)
                return cached[0]
            self._looked_up(False)
            region = region_of_status_uri(uri, self._public_urls)
            token = self._fetch(region, uri)
            verified = verify_status_list(
                token, self._keys, now, expected_uri=uri, expected_region=region
            )
            self.fetches += 1
            self._entries[uri] = (verified, verified.cache_until(now))
            return verified

    def _looked_up(self, hit: bool) -> None:
        if self._on_lookup is not None:
            self._on_lookup(hit)
