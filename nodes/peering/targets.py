"""gRPC channel targets for a member's endpoint: one address, or a region's replicas in a list.

A trust-list member's `endpoint` (and a node's `hub_endpoint`) is `host:port`, or several
addresses separated by commas, one per replica of the region: `10.0.0.1:50051,10.0.0.2:50051`.
A list becomes one channel over a static `ipv4:`/`ipv6:` target with the `round_robin` policy,
so calls spread over every replica that is up and move off one that dies. Replicas of a list are
given by IP address (gRPC's static resolvers take no names); one DNS name that resolves to
several addresses is a single endpoint.

The TLS name checked is the member's, not a host's: every channel is for one entity id, and its
server must present a certificate naming `entity_dns_name(entity_id)` (`yrd:zj:330000` ->
`330000.zj.yrd.node.invalid`), so a handshake answered by another member fails even though all
certificates chain to the same root. Replicas of a region share its certificate, so their hosts
need not be in it.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from federation.crypto.pki import entity_dns_name
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


def server_name_options(entity_id: str) -> tuple[tuple[str, str], ...]:
    """Channel options making the TLS handshake check the server is `entity_id`."""
    name = entity_dns_name(entity_id)
    return (("grpc.ssl_target_name_override", name), ("grpc.default_authority", name))


def channel_target(endpoint: str, entity_id: str) -> ChannelTarget:
    """The channel target of `entity_id`'s endpoint; a list of replicas balances with
    round_robin. The handshake accepts only a server whose certificate names `entity_id`."""
    addresses = split_endpoint(endpoint)
    names = server_name_options(entity_id)
    if len(addresses) == 1:
        return ChannelTarget(addresses[0], names)
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
    return ChannelTarget(
        f"{scheme}:{','.join(addresses)}", (("grpc.service_config", ROUND_ROBIN), *names)
    )
