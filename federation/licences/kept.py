"""Licences verified once: kept by their exact text, re-checked only in what can change."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from federation.licences.sealcert import RegionKeyResolver, recheck_certificate

if TYPE_CHECKING:
    from federation.licences.seal import VerifiedLicence

Verify = Callable[[str, RegionKeyResolver, float, int], "VerifiedLicence"]
DEFAULT_KEPT = 2048  # full licences of a few KB each: about 8 MB at most


class KeptLicences:
    """A bounded LRU of verified licences (thread-safe); refusals are never kept.

    A licence's seal, certificate, disclosures and the Licence rebuilt from them cannot
    change. What can is re-checked at every use: that the certifying region's key is still in
    the trust list, and that the seal is not from the future at `now`. Validity and status are
    the caller's to judge at each use, as before.
    """

    def __init__(self, size: int = DEFAULT_KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[str, int], VerifiedLicence] = OrderedDict()
        self._lock = threading.Lock()

    def verify(
        self, sd_jwt: str, region_key: RegionKeyResolver, now: float, skew_s: int, fresh: Verify
    ) -> VerifiedLicence:
        key = (sd_jwt, skew_s)
        with self._lock:
            known = self._kept.get(key)
            if known is not None:
                self._kept.move_to_end(key)
        if known is not None and known.metadata.sealed_at <= now + skew_s:
            recheck_certificate(known.metadata.certificate, region_key)
            return known
        verified = fresh(sd_jwt, region_key, now, skew_s)
        with self._lock:
            self._kept[key] = verified
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return verified

    def clear(self) -> None:
        """Forget every kept licence (benchmarks time the first verification with it)."""
        with self._lock:
            self._kept.clear()


__all__ = ["DEFAULT_KEPT", "KeptLicences", "Verify"]
