"""Shared licence fixtures: one test world per session, a fresh nonce ledger per test."""

from __future__ import annotations

import pytest

from tests._support.licences import NonceLedger, World, make_world


@pytest.fixture(scope="session")
def world() -> World:
    return make_world()


@pytest.fixture(scope="session")
def sealed_driving(world: World) -> str:
    return world.seal(world.driving_licence())


@pytest.fixture(scope="session")
def sealed_business(world: World) -> str:
    return world.seal(world.business_licence())


@pytest.fixture
def ledger() -> NonceLedger:
    return NonceLedger()
