"""The service catalogue at each node: the hub signs and keeps it, regions fetch and cache it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from federation.cases.catalogue import Catalogue, CatalogueItem, sign_catalogue, verify_catalogue
from federation.clock import Clock
from federation.crypto.jose import Jwk, SigningKey
from federation.errors import (
    FailedPrecondition,
    FederationError,
    IntegrityError,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from federation.jsontext import loads_untrusted
from federation.licences import ExchangePolicy
from nodes.peering.disk_cache import write_atomic

log = logging.getLogger("yrd.catalogue")


class NoCatalogueYet(Unavailable):
    """Nothing received and nothing cached: the one case where the starter policy applies."""


class CatalogueView:
    """The newest verified catalogue this node knows; never rolls back to an older version."""

    def __init__(self, hub_key: Callable[[str], Jwk], cache_path: Path, clock: Clock) -> None:
        self._hub_key = hub_key
        self._cache = cache_path
        self._clock = clock
        self._current: Catalogue | None = None
        self._rejected: str | None = None  # why the only catalogue we were offered failed
        self.signed = ""
        self._lock = threading.Lock()
        self.refresher: Callable[[], None] | None = None
        self._last_forced = 0.0

    def current(self) -> Catalogue:
        current = self._current
        if current is None:
            if self._rejected is not None:
                raise IntegrityError(
                    f"the service catalogue failed verification ({self._rejected}); "
                    "no decision is made until the hub sends a valid one"
                )
            raise NoCatalogueYet(
                "no service catalogue yet: the hub has not been reached and nothing is cached"
            )
        return current

    def exchange_policy(self, starter: Callable[[], ExchangePolicy]) -> ExchangePolicy:
        """The current catalogue's policy; `starter` only while no catalogue was ever offered.

        Fail closed: a catalogue that failed verification, or one whose policy cannot be
        built, refuses every decision instead of falling back to the starter policy.
        """
        try:
            catalogue = self.current()
        except NoCatalogueYet:
            return starter()
        try:
            return catalogue.exchange_policy()
        except FederationError as exc:
            raise FailedPrecondition(
                f"service catalogue version {catalogue.version} yields no exchange policy: "
                f"{exc.message}"
            ) from None

    def offer(self, signed: str) -> bool:
        try:
            catalogue = verify_catalogue(signed, self._hub_key, self._clock.now())
        except FederationError as exc:
            with self._lock:
                if self._current is None:
                    self._rejected = exc.message
            raise
        except Exception as exc:  # a corrupt token may break the parser in other ways
            with self._lock:
                if self._current is None:
                    self._rejected = f"unreadable: {type(exc).__name__}"
            raise IntegrityError(f"the service catalogue is unreadable: {exc}") from None
        with self._lock:
            if self._current is not None and catalogue.version <= self._current.version:
                return False
            self._current = catalogue
            self._rejected = None
            self.signed = signed
        write_atomic(self._cache, signed)
        log.info(
            "service catalogue version %d adopted (%d items)",
            catalogue.version,
            len(catalogue.items),
        )
        return True

    def item_now(self, code: str) -> CatalogueItem | None:
        """The item from the catalogue held now, or None (unknown, or no valid catalogue):
        never asks the hub, so an event loop may call it; `item` says why and may refresh."""
        try:
            return self.current().get(code)
        except FederationError:
            return None

    def item(self, code: str) -> CatalogueItem:
        """Look an item up; on a miss, ask the hub once (rate-limited) for a newer version."""
        try:
            return self.current().get(code)
        except NotFound:
            if self.refresher is None:
                raise
            now = self._clock.now()
            if now - self._last_forced < 1.0:
                raise
            self._last_forced = now
            self.refresher()
            return self.current().get(code)

    def load_cache(self) -> None:
        if self._cache.exists():
            try:
                self.offer(self._cache.read_text(encoding="utf-8", errors="replace").strip())
            except FederationError as exc:  # remembered: decisions fail closed until a good one
                log.error("the cached service catalogue is not valid: %s", exc)


class HubCatalogue:
    """The hub's authoritative catalogue: regions publish their own items into it."""

    def __init__(
        self, path: Path, key: Callable[[], SigningKey], view: CatalogueView, clock: Clock
    ) -> None:
        self._path = path
        self._key = key
        self._view = view
        self._clock = clock
        self._lock = threading.Lock()
        if path.exists():
            view.offer(path.read_text(encoding="utf-8").strip())
        else:
            self._publish(Catalogue(0, int(clock.now()), ()))

    def _publish(self, catalogue: Catalogue) -> str:
        signed = sign_catalogue(catalogue, self._key())
        write_atomic(self._path, signed)
        self._view.offer(signed)
        return signed

    def publish(self, region_code: str, items_json: str) -> Catalogue:
        raw = loads_untrusted(items_json, "items_json")
        if not isinstance(raw, list):
            raise InvalidArgument("items_json must be a JSON list of items")
        items = [CatalogueItem.from_dict(entry) for entry in raw]
        with self._lock:
            current = self._view.current()
            updated = current.with_region_items(region_code, items, self._clock.now())
            if updated is not current:
                self._publish(updated)
            return updated
