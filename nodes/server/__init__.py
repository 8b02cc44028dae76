"""The running node: the grpc.aio server, its interceptor and admission, its runtime state."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Node": "node",
        "NodeRuntime": "runtime",
        "WorkerSupervisor": "workers",
        "serve": "node",
        "serve_workers": "workers",
        "server_options": "node",
    },
)
