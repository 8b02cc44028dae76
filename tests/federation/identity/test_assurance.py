"""Tests for levels of assurance and their acr values."""

from __future__ import annotations

import pytest

from federation.errors import InvalidArgument
from federation.identity.assurance import Assurance


def test_levels_are_ordered() -> None:
    assert Assurance.LOW < Assurance.SUBSTANTIAL < Assurance.HIGH
    assert sorted([Assurance.HIGH, Assurance.LOW, Assurance.SUBSTANTIAL]) == list(Assurance)


@pytest.mark.parametrize(
    ("level", "acr"),
    [(Assurance.LOW, "urn:yrd:loa:low"), (Assurance.SUBSTANTIAL, "urn:yrd:loa:substantial"),
     (Assurance.HIGH, "urn:yrd:loa:high")],
)
def test_acr_round_trip(level: Assurance, acr: str) -> None:
    assert level.acr == acr
    assert Assurance.parse(acr) is level
    assert Assurance.parse(level.name.lower()) is level
    assert Assurance.parse(f"  {acr.upper()} ") is level


@pytest.mark.parametrize("text", ["", "medium", "urn:yrd:loa:", "urn:other:loa:low", "3", "LOWER"])
def test_unknown_levels_are_refused_with_the_choices(text: str) -> None:
    with pytest.raises(InvalidArgument, match="low, substantial or high"):
        Assurance.parse(text)
