"""Series read at scrape time: cases by state, face quota left, decoded-key cache hits.

These cost nothing per call: a scrape runs one grouped count query, one quota read per region
and reads `functools.lru_cache` statistics. A read that fails (the store is closing) leaves its
series out of that scrape instead of failing the whole scrape.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("yrd.metrics")

CaseCounts = Callable[[], Mapping[str, int]]
"""() -> number of cases this node owns, by state."""
QuotaLeft = Callable[[str], int]
"""region code -> face verifications the region has left today at the hub."""

# process-wide caches of decoded trust-list keys and verified home attestations (lru_cache):
# (cache label, module, function); a cache that a refactor renamed is left out, not an error
KEY_CACHES = (
    ("ed25519", "federation.crypto.jose", "_public_key"),
    ("p256", "federation.crypto.jose", "_p256_key"),
    ("home_attestation", "federation.identity.homes", "_verified_with"),
)


class CasesByState(Collector):
    """`yrd_cases` gauge: cases owned by this region, by state, counted at scrape time."""

    def __init__(self, counts: CaseCounts) -> None:
        self._counts = counts

    def describe(self) -> Iterable[Any]:
        return [GaugeMetricFamily("yrd_cases", "Cases owned by this region, by state")]

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily(
            "yrd_cases", "Cases owned by this region, by state", labels=["state"]
        )
        try:
            counts = self._counts()
        except Exception as exc:
            log.warning("cases by state not readable for this scrape: %s", exc)
            return
        for state, count in sorted(counts.items()):
            family.add_metric([state], count)
        yield family


class FaceQuotaLeft(Collector):
    """`yrd_face_quota_remaining_calls` gauge at the hub: today's verifications left per region."""

    def __init__(self, left: QuotaLeft, regions: Iterable[str]) -> None:
        self._left = left
        self._regions = tuple(sorted(regions))

    def describe(self) -> Iterable[Any]:
        return [GaugeMetricFamily("yrd_face_quota_remaining_calls", "")]

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily(
            "yrd_face_quota_remaining_calls",
            "Face verifications each region may still make today (China time) at the hub",
            labels=["region"],
        )
        try:
            for region in self._regions:
                family.add_metric([region], self._left(region))
        except Exception as exc:
            log.warning("face quotas not readable for this scrape: %s", exc)
            return
        yield family


def _cache_info(module: str, name: str) -> Any:
    fn = getattr(importlib.import_module(module), name, None)
    info = getattr(fn, "cache_info", None)
    return info() if info is not None else None


class KeyCaches(Collector):
    """`yrd_key_cache_hits_total` / `_misses_total`: decoded keys and attestations reused."""

    def __init__(self, caches: Iterable[tuple[str, str, str]] = KEY_CACHES) -> None:
        self._caches = tuple(caches)

    def describe(self) -> Iterable[Any]:
        return [
            CounterMetricFamily("yrd_key_cache_hits", ""),
            CounterMetricFamily("yrd_key_cache_misses", ""),
        ]

    def collect(self) -> Iterator[Any]:
        hits = CounterMetricFamily(
            "yrd_key_cache_hits",
            "Lookups answered by a process-wide cache of decoded keys or verified attestations",
            labels=["cache"],
        )
        misses = CounterMetricFamily(
            "yrd_key_cache_misses",
            "Lookups that decoded a key or verified an attestation (then cached)",
            labels=["cache"],
        )
        for label, module, name in self._caches:
            info = _cache_info(module, name)
            if info is None:
                continue
            hits.add_metric([label], info.hits)
            misses.add_metric([label], info.misses)
        yield hits
        yield misses


__all__ = ["KEY_CACHES", "CaseCounts", "CasesByState", "FaceQuotaLeft", "KeyCaches", "QuotaLeft"]
