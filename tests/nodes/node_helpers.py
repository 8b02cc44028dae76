"""Test helpers shared by node tests: subjects, face templates, polling with a bound."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
from collections.abc import Callable
from typing import TypeVar

from federation.codes import make_citizen_id

T = TypeVar("T")
_seq = itertools.count(100)


def new_citizen(division: str = "330106") -> str:
    return make_citizen_id(division, dt.date(1980, 1, 1) + dt.timedelta(days=next(_seq)), 123)


def template(seed: int, dims: int = 128) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0.0, 1.0) for _ in range(dims)]


def eventually(check: Callable[[], T], timeout_s: float = 10.0, pause_s: float = 0.1) -> T:
    """Retry `check` until it stops raising (bounded); re-raise the last error."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return check()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(pause_s)
