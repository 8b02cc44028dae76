"""Fixtures of the adversarial suite: one small federation of real node processes per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from federation.regions import Region
from tests.adversarial import postgres
from tests.adversarial.harness import Harness, Tally
from tests.adversarial.setup import start_federation


def require_postgres() -> None:
    """Skip without a PostgreSQL server, or fail when YRD_REQUIRE_POSTGRES=1 (as CI sets)."""
    reason = postgres.unavailable_reason()
    if reason is None:
        return
    if postgres.REQUIRE_POSTGRES:
        pytest.fail(f"{reason} (YRD_REQUIRE_POSTGRES=1 turns this skip into a failure)")
    pytest.skip(f"{reason} (set YRD_REQUIRE_POSTGRES=1 to fail instead)")


@pytest.fixture(scope="module")
def adversary(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    """Hub and the regions a module names in `REGIONS` (default SH, JS, AH), owned by the module.

    A module with `STORE = "postgresql"` gets nodes on PostgreSQL, one schema each, all dropped
    afterwards (skipped without a server unless YRD_REQUIRE_POSTGRES=1).
    """
    regions = getattr(request.module, "REGIONS", (Region.HUB, Region.SH, Region.JS, Region.AH))
    store = getattr(request.module, "STORE", "sqlite")
    directory: Path = tmp_path_factory.mktemp("adversarial") / "federation"
    url = prefix = ""
    if store == "postgresql":
        require_postgres()
        url, prefix = postgres.new_federation_url()
    try:
        harness = start_federation(directory, regions, store=store, postgres_url=url)
        try:
            yield harness
        finally:
            harness.close()
            if harness.fed is not None:
                harness.fed.stop()
    finally:
        if prefix:
            postgres.drop_schemas(url, prefix)
            left = postgres.schemas_of(url, prefix)
            assert not left, f"schemas left behind: {left}"


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
        f"{'attack':<32}{'tried':>7}{'precise':>9}{'ok':>6}{'imprecise':>11}"
        f"{'crashes':>9}{'lost':>6}{'unaudited':>11}"
    )
    terminalreporter.write_line(header)
    for t in TALLIES:
        terminalreporter.write_line(
            f"{t.attack:<32}{t.tried:>7}{t.refused_precisely:>9}{t.ok:>6}{t.imprecise:>11}"
            f"{t.crashes:>9}{t.lost:>6}{t.unaudited:>11}"
        )
