"""Scenario loading, overrides and validation that fails before running."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from simulator.loading import (
    apply_overrides,
    default_scenario,
    load_scenario,
    mmc_scenario,
    read_raw,
)
from simulator.scenario import ScenarioError


def _error(overrides: list[str]) -> str:
    with pytest.raises(ScenarioError) as info:
        default_scenario(overrides)
    return str(info.value)


def test_default_scenario_is_valid_and_marked() -> None:
    sc = default_scenario()
    assert sc.region_codes() == ("SH", "JS", "ZJ", "AH")
    assert sc.regions["JS"].arrivals.cross_per_hour == pytest.approx(14.6)
    text = (Path(__file__).parents[2] / "simulator/scenarios/yrd_default.yaml").read_text()
    for marker in ("[S]", "[D]", "[A]"):
        assert marker in text


def test_scenario_is_frozen() -> None:
    sc = default_scenario()
    with pytest.raises(Exception, match="frozen"):
        sc.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("override", "key", "problem"),
    [
        (
            "regions.SH.arrivals.cross_per_hour=-1",
            "regions.SH.arrivals.cross_per_hour",
            "greater than or equal to 0",
        ),
        ("hub.failure_prob=1.5", "hub.failure_prob", "less than or equal to 1"),
        ("behaviour.green_share=-0.1", "behaviour.green_share", "greater than or equal to 0"),
        ("regions.XX.arrivals.local_per_hour=1", "regions.XX", "'SH', 'JS', 'ZJ' or 'AH'"),
        ("regions.SH.od.JS=0.5", "regions.SH.od", "sums to 1.15"),
        ("regions.SH.od.XY=0", "regions.SH.od.XY", "'SH', 'JS', 'ZJ' or 'AH'"),
        ("regions.SH.clerks.shifts.1.start=11:00", "regions.SH.clerks", "shifts overlap"),
        ("case.session.mean=-3", "case.session.mean", "greater than 0"),
        ("case.decision.approve=0.5", "case.decision", "must be 1"),
        ("regions.SH.calendar.close=08:00", "regions.SH.calendar", "after open"),
        ("case.intake.sd=1", "case.intake", "exactly one of sd or cv"),
        ("run.warmup_days=9", "run", "warmup_days"),
        ("materials.links.SH-JS.failure_prob=0.1", "materials.links", "FROM->TO"),
    ],
)
def test_bad_input_names_key_and_problem(override: str, key: str, problem: str) -> None:
    message = _error([override])
    line = next(ln for ln in message.splitlines() if ln.strip().startswith(key))
    assert problem in line


def test_several_problems_reported_together() -> None:
    message = _error(["hub.failure_prob=2", "case.session.mean=-1"])
    assert "hub.failure_prob" in message and "case.session.mean" in message


def test_od_destination_must_be_modelled(tmp_path: Path) -> None:
    raw = read_raw("default")
    del raw["regions"]["AH"]
    path = tmp_path / "three.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ScenarioError, match=r"regions\.SH\.od\.AH: region AH is not modelled"):
        load_scenario(path)


def test_overrides_parse_yaml_values_and_clock_strings() -> None:
    raw = apply_overrides(
        {"a": {"b": 1}, "s": [{"start": "09:00"}]},
        ["a.b=2.5", "a.c=[1, 2]", "s.0.start=10:30", "a.d=true"],
    )
    assert raw == {"a": {"b": 2.5, "c": [1, 2], "d": True}, "s": [{"start": "10:30"}]}
    with pytest.raises(ScenarioError, match="key=value"):
        apply_overrides({}, ["nonsense"])
    with pytest.raises(ScenarioError, match="not an index"):
        apply_overrides({"s": []}, ["s.3=1"])


def test_toml_and_yaml_load_the_same(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(
        """
name = "tiny"
[regions.SH.arrivals]
local_per_hour = 6.0
[regions.SH.clerks]
shifts = [{start = "09:00", end = "17:00", staff = 2}]
[run]
horizon_days = 1
"""
    )
    sc = load_scenario(toml)
    yml = tmp_path / "s.yaml"
    yml.write_text(yaml.safe_dump(sc.model_dump(mode="json", by_alias=True)))
    assert load_scenario(yml) == sc


def test_missing_file_and_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ScenarioError, match="cannot parse"):
        load_scenario(bad)


def test_mmc_scenario_checks_its_inputs() -> None:
    assert mmc_scenario(3, 2.0, 1.0, 100).name == "M/M/3"
    with pytest.raises(ScenarioError, match="capacity"):
        mmc_scenario(3, 2.0, 1.0, 100, capacity=2)
    with pytest.raises(ScenarioError, match="warmup_arrivals"):
        mmc_scenario(3, 2.0, 1.0, 100, warmup=100)
