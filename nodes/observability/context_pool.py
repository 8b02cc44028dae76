"""A worker pool whose tasks run in a copy of the submitter's context (contextvars).

`loop.run_in_executor` and `Executor.submit` run a function in the worker thread's own
context, so whatever the event loop had current (the served call's span) would be lost on the
hop to a synchronous servicer, and its peer calls would start new traces. Copying the context
per task is cheap (contexts are immutable mappings) and also keeps per-call variables of one
task from leaking into the next task on the same thread.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class ContextThreadPool(ThreadPoolExecutor):
    """`ThreadPoolExecutor` that runs each task in `contextvars.copy_context()` of its submitter."""

    def submit(  # type: ignore[override]
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> Future[T]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


__all__ = ["ContextThreadPool"]
