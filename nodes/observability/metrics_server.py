"""The read-only `/metrics` HTTP endpoint (Prometheus text exposition) of one node.

No authentication and no TLS: bind it to an internal interface only (the node's `host`, a
loopback or management network), never to the public side. It runs on its own daemon thread
(prometheus_client's WSGI server), so a scrape never waits for the event loop or a worker.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server


class MetricsServer:
    """Serves one registry on host:port (port 0: the OS picks one; `port` says which)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._registry = registry
        self.host = host
        self._requested = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self._server, self._thread = start_http_server(
                self._requested, addr=self.host, registry=self._registry
            )
        except OSError as exc:
            where = f"{self.host}:{self._requested}"
            raise OSError(f"metrics endpoint could not bind {where}: {exc}") from None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the metrics server is not started")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


__all__ = ["MetricsServer"]
