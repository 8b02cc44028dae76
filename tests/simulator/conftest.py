"""Shared fixtures for the simulator tests."""

from __future__ import annotations

import pytest

from simulator.loading import default_scenario
from simulator.scenario import Scenario


@pytest.fixture(scope="session")
def short_default() -> Scenario:
    """The shipped scenario over two working days."""
    return default_scenario(["run.horizon_days=2"])
