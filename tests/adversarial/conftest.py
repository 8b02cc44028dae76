"""Fixtures of the adversarial suite: one small federation of real node processes per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.regions import Region
from tests.adversarial.harness import Harness
from tests.adversarial.setup import start_federation


@pytest.fixture(scope="module")
def adversary(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    """Hub and the regions a module names in `REGIONS` (default SH, JS, AH), owned by the module."""
    regions = getattr(request.module, "REGIONS", (Region.HUB, Region.SH, Region.JS, Region.AH))
    directory: Path = tmp_path_factory.mktemp("adversarial") / "federation"
    harness = start_federation(directory, regions)
    try:
        yield harness
    finally:
        harness.close()
        if harness.fed is not None:
            harness.fed.stop()
