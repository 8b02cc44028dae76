"""Fixtures of the adversarial suite: one small federation of real node processes per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from federation.regions import Region
from tests.adversarial.harness import Harness, Tally
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


TALLIES: list[Tally] = []


@pytest.fixture
def record() -> Callable[[Tally], Tally]:
    """Keep an attack's counts for the terminal summary and return them."""

    def keep(tally: Tally) -> Tally:
        TALLIES.append(tally)
        print(tally.explain())  # shown with the failure, so the defect is obvious
        return tally

    return keep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLIES:
        return
    terminalreporter.section("adversarial counts")
    header = (
        f"{'attack':<22}{'tried':>7}{'precise':>9}{'ok':>6}{'imprecise':>11}"
        f"{'crashes':>9}{'lost':>6}{'unaudited':>11}"
    )
    terminalreporter.write_line(header)
    for t in TALLIES:
        terminalreporter.write_line(
            f"{t.attack:<22}{t.tried:>7}{t.refused_precisely:>9}{t.ok:>6}{t.imprecise:>11}"
            f"{t.crashes:>9}{t.lost:>6}{t.unaudited:>11}"
        )
