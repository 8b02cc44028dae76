"""The supervisor refuses a node whose address another node answers (two nodes, one port)."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import pytest

from federation.errors import Unavailable
from federation.regions import Region
from nodes.ops.ports import free_port, free_ports
from nodes.ops.provisioning import Layout, read_trust_list, write_trust_list
from nodes.ops.supervisor import Federation
from tests._support.nodes import make_federation


def test_free_ports_are_distinct_even_from_one_generator_state() -> None:
    # the same seed would draw the same first port each time; `avoid` forces another one
    first = free_port(random.Random(3))
    again = free_port(random.Random(3), avoid={first})
    assert again != first
    assert len(set(free_ports(12, random.Random(3)))) == 12


def test_provisioned_ports_are_all_distinct(tmp_path: Path) -> None:
    make_federation(tmp_path / "f")
    text = "".join(p.read_text() for p in sorted((tmp_path / "f").glob("*.toml")))
    used = [int(m) for m in re.findall(r"^\w*port = (\d+)$", text, flags=re.M)]
    assert len(used) == 5 + 4 + 5  # nodes, public HTTPS, metrics
    assert len(set(used)) == len(used)


def test_a_region_whose_address_another_node_answers_is_refused(tmp_path: Path) -> None:
    """The trust list gives ZJ the hub's address (as when both were given one port): the hub
    answers there, and the supervisor must not take that for ZJ being up (the handshake with
    ZJ's name fails against the hub's certificate)."""
    directory = tmp_path / "f"
    make_federation(directory)
    layout = Layout(directory)
    with Federation(directory, regions=(Region.HUB,)) as fed:
        trust = read_trust_list(layout)
        hub = trust.member(Region.HUB.entity_id)
        zj = replace(trust.member(Region.ZJ.entity_id), endpoint=hub.endpoint)
        write_trust_list(layout, replace(trust.with_member(zj), version=trust.version + 1))
        with pytest.raises(
            Unavailable, match=f"answered by another member, not {Region.ZJ.entity_id}"
        ):
            fed.start_node(Region.ZJ)
