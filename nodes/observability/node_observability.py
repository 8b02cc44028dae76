"""What one node observes, built from its config: metrics, tracing, access log, or nothing.

Each part is created only when configured (`metrics_port`, `trace_export`, `access_log`), so
a node with all three off installs no interceptor, wraps no channel and imports neither
prometheus_client nor OpenTelemetry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodes.config import NodeConfig

if TYPE_CHECKING:
    from nodes.observability.access_log import AccessLog
    from nodes.observability.metrics import NodeMetrics
    from nodes.observability.metrics_server import MetricsServer
    from nodes.observability.tracing import NodeTracing

log = logging.getLogger("yrd.node")


def for_worker(path: Path, worker: int) -> Path:
    """Worker 0 writes `path` itself, worker N `<stem>-N<suffix>`: processes never share a file."""
    return path if worker == 0 else path.with_name(f"{path.stem}-{worker}{path.suffix}")


class Observability:
    """The node's metrics registry, tracer and access log; their endpoint and shutdown.

    A node run as several worker processes observes each on its own (`worker` > 0): metrics
    on `metrics_port + worker` (a registry is per process), and its own access log and span
    file (`for_worker`), so that no two processes append to one file.
    """

    def __init__(self, config: NodeConfig, worker: int = 0) -> None:
        self._config = config
        self.worker = worker
        self.metrics: NodeMetrics | None = None
        self.tracing: NodeTracing | None = None
        self.access: AccessLog | None = None
        self.server: MetricsServer | None = None
        if config.metrics_port is not None:
            from nodes.observability.collectors import KeyCaches
            from nodes.observability.metrics import NodeMetrics

            self.metrics = NodeMetrics(config.entity_id)
            self.metrics.registry.register(KeyCaches())
        if config.trace_export:
            from nodes.observability.tracing import NodeTracing

            export = config.trace_export
            if export.startswith("file:"):
                export = f"file:{for_worker(Path(export[5:]), worker)}"
            self.tracing = NodeTracing(config.entity_id, export)
        if config.access_log is not None:
            from nodes.observability.access_log import AccessLog

            self.access = AccessLog(for_worker(config.access_log, worker))

    @property
    def observes_calls(self) -> bool:
        return self.metrics is not None or self.tracing is not None or self.access is not None

    def watch_cases(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Serve `yrd_cases{state}` from `counts()` at each scrape (region nodes)."""
        if self.metrics is not None:
            from nodes.observability.collectors import CasesByState

            self.metrics.registry.register(CasesByState(counts))

    def watch_face_quotas(self, left: Callable[[str], int], regions: Iterable[str]) -> None:
        """Serve `yrd_face_quota_remaining_calls{region}` from `left(region)` (the hub)."""
        if self.metrics is not None:
            from nodes.observability.collectors import FaceQuotaLeft

            self.metrics.registry.register(FaceQuotaLeft(left, regions))

    # --- interceptors ---------------------------------------------------------------
    def server_interceptors(self) -> list[Any]:
        """To put first in the server's interceptor list ([] when nothing is observed)."""
        if not self.observes_calls:
            return []
        from nodes.observability.rpc_server import ObservingInterceptor

        return [ObservingInterceptor(self.metrics, self.tracing, self.access)]

    def peer_interceptors(self, target: str) -> list[Any]:
        """For a synchronous channel to `target` (an entity id, or what the channel is for)."""
        if self.metrics is None and self.tracing is None:
            return []
        from nodes.observability.rpc_client import PeerCallObserver

        return [PeerCallObserver(target, self.metrics, self.tracing)]

    def aio_peer_interceptors(self, target: str) -> list[Any]:
        """For a `grpc.aio` channel to `target`."""
        if self.metrics is None and self.tracing is None:
            return []
        from nodes.observability.rpc_client import AioPeerCallObserver, AioPeerStreamObserver

        return [
            AioPeerCallObserver(target, self.metrics, self.tracing),
            AioPeerStreamObserver(target, self.metrics, self.tracing),
        ]

    # --- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        """Bind the metrics endpoint (port 0: any free port; `metrics_url` says which)."""
        if self.metrics is None or self.server is not None:
            return
        from nodes.observability.metrics_server import MetricsServer

        port = self._config.metrics_port
        assert port is not None
        if port:  # a fixed port: one per worker process; 0 stays "any free port" for each
            port += self.worker
        self.server = MetricsServer(self.metrics.registry, self._config.host, port)
        self.server.start()
        log.info("%s metrics on %s", self._config.entity_id, self.server.url)

    @property
    def metrics_url(self) -> str:
        return self.server.url if self.server is not None else ""

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.tracing is not None:
            self.tracing.shutdown()
        if self.access is not None:
            self.access.close()


__all__ = ["Observability", "for_worker"]
