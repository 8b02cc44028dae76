"""A serving node's start-up heap is frozen out of the collector's full passes, garbage first."""

from __future__ import annotations

import gc
import weakref

from nodes.server.node import freeze_startup_heap


class _Node:
    """A stand-in object of start-up: anything the collector tracks."""

    def __init__(self) -> None:
        self.peer: _Node | None = None


def test_start_up_garbage_is_collected_and_the_rest_frozen() -> None:
    kept = [_Node() for _ in range(100)]
    cycle = _Node()
    cycle.peer = cycle  # garbage only a collection frees
    gone = weakref.ref(cycle)
    del cycle
    before = gc.get_freeze_count()
    try:
        freeze_startup_heap()
        assert gone() is None  # collected, not frozen for ever
        assert gc.get_freeze_count() >= before + len(kept)
        walked = {id(obj) for obj in gc.get_objects()}  # what a full pass still visits
        assert not any(id(obj) in walked for obj in kept)
    finally:
        gc.unfreeze()
