"""What a node tells its operators: Prometheus metrics, OpenTelemetry traces, JSON access log."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AccessLog": "access_log",
        "AioPeerCallObserver": "rpc_client",
        "AioPeerStreamObserver": "rpc_client",
        "CasesByState": "collectors",
        "ContextThreadPool": "context_pool",
        "FaceQuotaLeft": "collectors",
        "JsonLinesSpanExporter": "span_files",
        "KeyCaches": "collectors",
        "MetricsServer": "metrics_server",
        "NodeMetrics": "metrics",
        "NodeTracing": "tracing",
        "Observability": "node_observability",
        "ObservingInterceptor": "rpc_server",
        "PathStep": "trace_files",
        "PeerCallObserver": "rpc_client",
        "Span": "trace_files",
        "critical_path": "trace_files",
        "load_spans": "trace_files",
        "trace_tree": "trace_files",
    },
)
