"""Fixtures that run real node processes on 127.0.0.1 with free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.regions import Region
from nodes.client import FederationClient
from nodes.ops.supervisor import Federation
from tests._support.nodes import make_federation


@pytest.fixture(scope="session")
def fed_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One five-node federation shared by the tests that only read and add (spans exported)."""
    directory = make_federation(tmp_path_factory.mktemp("fed") / "federation", traces=True)
    with Federation(directory):
        yield directory


@pytest.fixture(scope="session")
def client(fed_dir: Path) -> Iterator[FederationClient]:
    with FederationClient(fed_dir) as c:
        yield c


def _small_fed(parent: Path) -> Iterator[tuple[Path, Federation]]:
    directory = make_federation(parent / "federation", face_daily_limit=3)
    fed = Federation(directory, regions=(Region.HUB, Region.ZJ, Region.SH))
    fed.start()
    try:
        yield directory, fed
    finally:
        fed.stop()


@pytest.fixture
def small_fed(tmp_path: Path) -> Iterator[tuple[Path, Federation]]:
    """Hub, Zhejiang and Shanghai only, owned by one test (may be killed and restarted)."""
    yield from _small_fed(tmp_path)


@pytest.fixture(scope="module")
def shared_small_fed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, Federation]]:
    """`small_fed` provisioned identically, shared by the tests of one module: only for tests
    that stop, kill or reconfigure no node and depend on no state another test leaves."""
    yield from _small_fed(tmp_path_factory.mktemp("shared_small_fed"))
