"""The lab's topology and scenario files: the shipped ones load, bad ones are refused clearly."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.errors import InvalidArgument
from federation.regions import Region
from nodes.lab.scenario import SCENARIOS, load_scenario
from nodes.lab.topology import DEFAULT_TOPOLOGY, link_key, load_topology, topology_from_dict


def test_the_default_topology_has_every_directed_link_with_half_the_rtt_each_way() -> None:
    topology = load_topology(DEFAULT_TOPOLOGY)
    assert set(topology.links) == {link_key(a, b) for a, b in itertools.permutations(Region, 2)}
    assert "yunthe.com" in topology.source  # the published figure it rests on is named
    sh_hub = topology.link(Region.SH, Region.HUB)
    assert sh_hub.delay_ms == topology.link(Region.HUB, Region.SH).delay_ms == 28.6 / 2
    assert all(not spec.partitioned and spec.loss == 0 for spec in topology.links.values())


@given(rtt=st.floats(0, 1000), jitter=st.floats(0, 50))
def test_a_pair_is_two_directed_links_of_half_its_rtt(rtt: float, jitter: float) -> None:
    topology = topology_from_dict(
        {"name": "t", "pairs": {"320000-340000": {"rtt_ms": rtt, "jitter_ms": jitter}}}
    )
    for a, b in ((Region.JS, Region.AH), (Region.AH, Region.JS)):
        assert topology.link(a, b).delay_ms == rtt / 2
        assert topology.link(a, b).jitter_ms == jitter
    assert topology.link(Region.SH, Region.ZJ).delay_ms == 0  # the default


def test_a_directed_override_changes_one_direction_only() -> None:
    topology = topology_from_dict(
        {
            "name": "t",
            "pairs": {"310000-320000": {"rtt_ms": 10}},
            "links": {"SH->JS": {"bandwidth_kbps": 512, "loss": 0.01}},
        }
    )
    assert topology.link(Region.SH, Region.JS).bandwidth_kbps == 512
    assert topology.link(Region.SH, Region.JS).delay_ms == 5
    assert topology.link(Region.JS, Region.SH).bandwidth_kbps is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('name = "t"\n[links."310000->310000"]\ndelay_ms = 1\n', "connects a node to itself"),
        ('name = "t"\n[links."310000-320000"]\ndelay_ms = 1\n', "FROM->TO"),
        ('name = "t"\n[links."310000->999999"]\ndelay_ms = 1\n', "999999"),
        ('name = "t"\n[default]\ndelay_ms = -1\n', "delay_ms"),
        ('name = "t"\n[default]\nloss = 1.0\n', "loss"),
        ('name = "t"\n[links."SH->JS"]\ncolour = "red"\n', "colour"),
        ('name = "t"\n[pairs."310000->320000"]\nrtt_ms = 3\n', "A-B"),
        ("name = \n", "not valid TOML"),
    ],
)
def test_bad_topologies_are_refused_with_the_file_and_the_problem(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InvalidArgument) as info:
        load_topology(path)
    assert str(path) in info.value.message and message in info.value.message


def test_the_shipped_scenarios_load_and_name_their_faults() -> None:
    ci = load_scenario(SCENARIOS / "ci-smoke.toml")
    assert ci.topology.resolve() == DEFAULT_TOPOLOGY.resolve()
    assert [f.label for f in ci.faults] == ["partition AH"]
    default = load_scenario(SCENARIOS / "default.toml")
    assert {f.kind for f in default.faults} == {
        "slow_link",
        "partition",
        "freeze",
        "kill",
        "hub_outage",
    }
    assert set(default.load.rates()) == {
        "token_verify",
        "licence_verify",
        "aggregation",
        "case_submit",
    }


SCENARIO_HEAD = 'name = "s"\nduration_s = 30\n[load]\ntoken_verify = 1\n'


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ('[[fault]]\nkind = "partition"\nregion = "AH"\nat_s = 5\n', "needs `duration_s`"),
        ('[[fault]]\nkind = "freeze"\nat_s = 5\nduration_s = 2\n', "needs `region`"),
        ('[[fault]]\nkind = "kill"\nregion = "XX"\nat_s = 5\n', "XX"),
        ('[[fault]]\nkind = "slow_link"\nat_s = 5\nduration_s = 2\n', "needs `link`"),
        (
            '[[fault]]\nkind = "slow_link"\nlink = "SH->JS"\nat_s = 5\nduration_s = 2\n',
            "changes delay_ms",
        ),
        ('[[fault]]\nkind = "kill"\nregion = "JS"\nat_s = 40\n', "after the run ends"),
        ('[[fault]]\nkind = "meteor"\nregion = "JS"\nat_s = 4\n', "kind"),
    ],
)
def test_bad_fault_schedules_are_refused(tmp_path: Path, faults: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO_HEAD + faults, encoding="utf-8")
    with pytest.raises(InvalidArgument) as info:
        load_scenario(path)
    assert message in info.value.message


def test_a_load_mix_that_sends_nothing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\nduration_s = 30\n[load]\n', encoding="utf-8")
    with pytest.raises(InvalidArgument, match="sends nothing"):
        load_scenario(path)
