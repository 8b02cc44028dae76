"""Backend fixtures for the store contract suite: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from federation.storage import Store, default_sqlite_url
from tests._support.storage import Backend


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", default_sqlite_url(tmp_path), tmp_path / "node.sqlite3")
    else:
        make_url: Callable[[], str] = request.getfixturevalue("postgres_url_factory")
        yield Backend("postgresql", make_url())


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.open()
    yield opened
    opened.close()
