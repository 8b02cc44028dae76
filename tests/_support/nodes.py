"""Test helpers shared by node tests: subjects, face templates, polling with a bound."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from federation.audit import AuditRecord
from federation.codes import make_citizen_id
from federation.storage import open_store
from nodes.config import load_config
from nodes.ops.provisioning import init_federation

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


def make_federation(directory: Path, **kwargs: object) -> Path:
    options: dict[str, object] = {
        "base_port": 0,
        "password_cost_log2": 10,
        "trust_list_refresh_s": 1.0,
        "revocation_poll_s": 0.5,
        "status_list_ttl_s": 2,
    }
    options.update(kwargs)
    init_federation(directory, **options)  # type: ignore[arg-type]
    return directory


def audit_since(fed_dir: Path, region: str, after_seq: int) -> list[AuditRecord]:
    """Audit entries of the node `region` (its short name: sh, js, ...) after `after_seq`."""
    store = open_store(load_config(fed_dir / f"{region}.toml").store_url)
    try:
        return list(store.audit_entries(after_seq))
    finally:
        store.close()


def audit_head(fed_dir: Path, region: str) -> int:
    """The sequence number of the newest audit entry at `region`."""
    store = open_store(load_config(fed_dir / f"{region}.toml").store_url)
    try:
        return store.audit_head()[0]
    finally:
        store.close()
