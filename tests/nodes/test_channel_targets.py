"""Channel targets of member endpoints: one address as is, a replica list as round_robin, and
either way the TLS name checked is the member's entity name, not a host."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.errors import InvalidArgument
from nodes.peering.targets import channel_target, split_endpoint

ZJ = "yrd:zj:330000"
ZJ_NAME = "330000.zj.yrd.node.invalid"


def test_one_address_is_used_as_is_checking_the_members_name() -> None:
    target = channel_target("127.0.0.1:50052", ZJ)
    assert target.target == "127.0.0.1:50052"
    assert dict(target.options) == {
        "grpc.ssl_target_name_override": ZJ_NAME,
        "grpc.default_authority": ZJ_NAME,
    }
    assert channel_target("node.example.gov.cn:443", ZJ).target == "node.example.gov.cn:443"


def test_replicas_become_one_round_robin_target_checking_the_members_name() -> None:
    target = channel_target("10.0.0.1:50052, 10.0.0.2:50053", ZJ)
    assert target.target == "ipv4:10.0.0.1:50052,10.0.0.2:50053"
    options = dict(target.options)
    policy = json.loads(str(options["grpc.service_config"]))
    assert policy == {"loadBalancingConfig": [{"round_robin": {}}]}
    assert options["grpc.ssl_target_name_override"] == ZJ_NAME
    assert options["grpc.default_authority"] == ZJ_NAME
    assert target.replicas == 2


def test_ipv6_replicas() -> None:
    target = channel_target("[::1]:1,[::1]:2", ZJ)
    assert target.target == "ipv6:[::1]:1,[::1]:2"
    assert dict(target.options)["grpc.ssl_target_name_override"] == ZJ_NAME


def test_an_entity_id_that_names_no_server_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="cannot name a TLS server"):
        channel_target("127.0.0.1:1", "yrd:ZJ:330000")


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("a.example:1,b.example:2", "by IP address"),
        ("10.0.0.1:1,[::1]:2", "mixes IPv4 and IPv6"),
        ("10.0.0.1:1,", "empty address"),
        ("", "empty address"),
        ("10.0.0.1:1,10.0.0.2", "not host:port"),
        ("10.0.0.1:1,10.0.0.2:x", "not host:port"),
    ],
)
def test_bad_replica_lists_are_refused_with_the_reason(endpoint: str, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        channel_target(endpoint, ZJ)


@settings(deadline=None)  # a loaded machine must not fail a pure check on time
@given(st.lists(st.tuples(st.ip_addresses(v=4), st.integers(1, 65535)), min_size=1, max_size=6))
def test_every_listed_ipv4_replica_is_in_the_target(replicas: list[tuple[object, int]]) -> None:
    endpoint = ",".join(f"{host}:{port}" for host, port in replicas)
    target = channel_target(endpoint, ZJ)
    assert split_endpoint(target.target.removeprefix("ipv4:")) == split_endpoint(endpoint)
    assert target.replicas == len(replicas)
