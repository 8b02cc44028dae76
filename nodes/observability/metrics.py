"""One node's Prometheus series, in a registry of its own (never the process-global default).

Every series is named `yrd_...` with its unit in the name. Hot-path observations go through
label children cached per label tuple, so a call costs a dict lookup and one locked add; what
is cheap to read at scrape time (cases by state, face quota left, key caches) is read then by
the collectors in `nodes.observability.collectors`, not maintained on every call.
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# seconds: from a cached-token verification (~100 us) to a slow cross-region case (~seconds)
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class _Children:
    """Label children of one metric, created once per label tuple (labels() takes a lock)."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    def get(self, *labels: str) -> Any:
        child = self._children.get(labels)
        if child is None:
            with self._lock:
                child = self._children.get(labels)
                if child is None:
                    child = self._metric.labels(*labels)
                    self._children[labels] = child
        return child


class NodeMetrics:
    """The series of one node; `registry` is what its /metrics endpoint serves."""

    def __init__(self, entity_id: str) -> None:
        self.entity_id = entity_id
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.rpc_server_seconds = Histogram(
            "yrd_rpc_server_duration_seconds",
            "Served RPCs: time from the call reaching this node to its status, by method, "
            "calling entity and status code",
            ["method", "peer", "status"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.rpc_client_seconds = Histogram(
            "yrd_rpc_client_duration_seconds",
            "Calls this node made to its peers (regions, hub): time to the answer, by method, "
            "target entity and status code",
            ["method", "target", "status"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.rpc_in_flight = Gauge(
            "yrd_rpc_server_in_flight_calls",
            "Served RPCs in progress, by kind (unary, stream)",
            ["kind"],
            registry=reg,
        )
        self.audit_append_seconds = Histogram(
            "yrd_audit_append_duration_seconds",
            "Time to append one audit entry on its own (entries written with a store change "
            "are inside that write)",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.store_commit_seconds = Histogram(
            "yrd_store_commit_batch_duration_seconds",
            "Time to write and commit one group-commit batch (replay cache, audit appends)",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.store_commit_size = Histogram(
            "yrd_store_commit_batch_size_writes",
            "Writes per group-commit transaction",
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.status_list_hits = Counter(
            "yrd_status_list_cache_hits",
            "Status-list lookups answered from the verified cache",
            registry=reg,
        )
        self.status_list_misses = Counter(
            "yrd_status_list_cache_misses",
            "Status-list lookups that fetched and verified the issuer's list",
            registry=reg,
        )
        self._server = _Children(self.rpc_server_seconds)
        self._client = _Children(self.rpc_client_seconds)
        self._in_flight = _Children(self.rpc_in_flight)

    # --- hot path --------------------------------------------------------------------
    def served(self, method: str, peer: str, status: str, seconds: float) -> None:
        self._server.get(method, peer, status).observe(seconds)

    def called(self, method: str, target: str, status: str, seconds: float) -> None:
        self._client.get(method, target, status).observe(seconds)

    def in_flight(self, kind: str) -> Any:
        """The gauge child for `kind`: inc() when a call starts, dec() when it ends."""
        return self._in_flight.get(kind)

    def audit_appended(self, seconds: float) -> None:
        self.audit_append_seconds.observe(seconds)

    def batch_committed(self, writes: int, seconds: float) -> None:
        self.store_commit_seconds.observe(seconds)
        self.store_commit_size.observe(writes)

    def status_list_lookup(self, hit: bool) -> None:
        (self.status_list_hits if hit else self.status_list_misses).inc()


__all__ = ["BATCH_BUCKETS", "LATENCY_BUCKETS", "NodeMetrics"]
