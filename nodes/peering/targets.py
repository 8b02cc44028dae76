"""gRPC channel targets for a member's endpoint: one address, or a region's replicas in a list.

A trust-list member's `endpoint` (and a node's `hub_endpoint`) is `host:port`, or several
addresses separated by commas, one per replica of the region: `10.0.0.1:50051,10.0.0.2:50051`.
A list becomes one channel over a static `ipv4:`/`ipv6:` target with the `round_robin` policy,
so calls spread over every replica that is up and move off one that dies. Replicas of a list are
given by IP address (gRPC's static resolvers take no names); one DNS name that resolves to
several addresses is a single endpoint. The TLS name checked is the first address's host: a
region's replicas present its one certificate, whose SANs name every replica host.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from federation.errors import InvalidArgument

ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


@dataclass(frozen=True)
class ChannelTarget:
    """What to pass to grpc.secure_channel: the target and the options it needs."""

    target: str
    options: tuple[tuple[str, str | int], ...] = ()

    @property
    def replicas(self) -> int:
        return max(self.target.count(",") + 1, 1)


def split_endpoint(endpoint: str) -> tuple[str, ...]:
    """The addresses of an endpoint (`host:port` or a comma-separated list of them)."""
    addresses = tuple(a.strip() for a in endpoint.split(","))
    if not endpoint.strip() or any(not a for a in addresses):
        raise InvalidArgument(f"endpoint {endpoint!r} has an empty address")
    return addresses


def _host_port(address: str) -> tuple[str, str]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise InvalidArgument(f"address {address!r} is not host:port")
    return host, port


def channel_target(endpoint: str) -> ChannelTarget:
    """The channel target of an endpoint; a list of replicas balances with round_robin."""
    addresses = split_endpoint(endpoint)
    if len(addresses) == 1:
        return ChannelTarget(addresses[0])
    families: set[int] = set()
    for address in addresses:
        host, _ = _host_port(address)
        try:
            families.add(ipaddress.ip_address(host.strip("[]")).version)
        except ValueError:
            raise InvalidArgument(
                f"replica address {address!r} of {endpoint!r}: list replicas by IP address"
                " (or give one DNS name that resolves to all of them)"
            ) from None
    if len(families) != 1:
        raise InvalidArgument(f"endpoint {endpoint!r} mixes IPv4 and IPv6 replicas")
    scheme = "ipv4" if families == {4} else "ipv6"
    tls_name = _host_port(addresses[0])[0].strip("[]")
    return ChannelTarget(
        f"{scheme}:{','.join(addresses)}",
        (
            ("grpc.service_config", ROUND_ROBIN),
            ("grpc.ssl_target_name_override", tls_name),
            ("grpc.default_authority", tls_name),
        ),
    )
