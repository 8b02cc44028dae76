"""The lab: a fresh federation whose every node-to-node link runs through its own WAN proxy."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import tomllib
from pathlib import Path
from types import TracebackType
from typing import Any

from federation.errors import FailedPrecondition
from federation.regions import Region
from nodes.lab.proxy import ProxyFarm
from nodes.lab.proxy_host import ProxyHost
from nodes.lab.scenario import Fault
from nodes.lab.topology import LinkSpec, Topology, link_key, parse_link_key
from nodes.ops.provisioning import Layout, init_federation
from nodes.ops.supervisor import Federation

HOST = "127.0.0.1"


def _endpoint_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


def route_through_proxies(layout: Layout, region: Region, ports: dict[str, int]) -> None:
    """Point a node's hub endpoint and every peer at its own link proxies (config rewrite)."""
    path = layout.config(region)
    text = path.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    if "peer_endpoints" in raw:
        raise FailedPrecondition(f"{path} is already routed through a lab (peer_endpoints set)")
    peers = {other: ports[link_key(region, other)] for other in Region if other is not region}
    lines = []
    for line in text.splitlines():
        if line.startswith("hub_endpoint =") and region is not Region.HUB:
            line = f'hub_endpoint = "{HOST}:{peers[Region.HUB]}"'
        lines.append(line)
    # a table must come after the flat keys: append it at the end of the document
    lines += ["", "[peer_endpoints]"]
    lines += [f'"{other.code}" = "{HOST}:{port}"' for other, port in peers.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Lab:
    """Nodes of a fresh federation in `directory` plus one proxy per directed link.

    The proxy of link A->B listens on its own port, relays to B's node, and shapes A->B bytes
    with the topology's A->B spec and B->A bytes with the B->A spec. Node A reaches B (and its
    hub) only through it: A's config lists the proxy under `peer_endpoints`.
    """

    def __init__(
        self,
        directory: Path,
        topology: Topology,
        proxy_process: bool = True,
        **init_options: Any,
    ) -> None:
        """`proxy_process`: run the proxies in a child process (default), not on a thread of
        this one; `init_options` go to `init_federation`."""
        self.directory = directory.resolve()
        self.layout = Layout(self.directory)
        self.topology = topology
        self.current: dict[str, LinkSpec] = dict(topology.links)
        self.init_options = {
            "base_port": 0,
            "password_cost_log2": 10,
            "trust_list_refresh_s": 5.0,
            "revocation_poll_s": 2.0,
            "status_list_ttl_s": 30,
            **init_options,
        }
        self.proxy_process = proxy_process
        self.farm: ProxyFarm | ProxyHost | None = None
        self.federation: Federation | None = None
        self.ports: dict[str, int] = {}
        self.node_endpoints: dict[Region, str] = {}
        self.frozen: set[Region] = set()
        self._lock = threading.Lock()

    def provision(self) -> None:
        """A new federation (replacing a stopped one in the directory), routed via proxies."""
        trust = init_federation(self.directory, force=True, **self.init_options)
        self.node_endpoints = {
            Region(m.region_code): m.endpoint
            for m in trust.members
            if m.endpoint and {"hub", "region"} & set(m.roles)
        }
        self.farm = ProxyHost() if self.proxy_process else ProxyFarm()
        avoid = self.node_ports()
        for a, b in itertools.permutations(Region, 2):
            key = link_key(a, b)
            self.ports[key] = self.farm.add(
                key,
                _endpoint_port(self.node_endpoints[b]),
                self.current[key],
                self.current[link_key(b, a)],
                avoid=avoid,
            )
        for region in Region:
            route_through_proxies(self.layout, region, self.ports)

    def node_ports(self) -> frozenset[int]:
        """Every port the nodes' configs name (gRPC, public HTTPS, metrics): not for proxies."""
        ports = set()
        for region in Region:
            raw = tomllib.loads(self.layout.config(region).read_text(encoding="utf-8"))
            ports |= {int(v) for k, v in raw.items() if k.endswith("port") and isinstance(v, int)}
        return frozenset(ports)

    def start(self) -> None:
        if self.farm is None:
            self.provision()
        self.federation = Federation(self.directory)
        self.federation.start()

    def stop(self) -> None:
        for region in list(self.frozen):
            self.thaw(region)
        if self.federation is not None:
            self.federation.stop()
        if self.farm is not None:
            self.farm.close()

    def __enter__(self) -> Lab:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- links ----------------------------------------------------------------------------
    def proxy_endpoint(self, source: Region, target: Region) -> str:
        return f"{HOST}:{self.ports[link_key(source, target)]}"

    def set_link(self, key: str, spec: LinkSpec) -> None:
        """Change one direction; both proxies that carry it (A->B and B->A) follow."""
        assert self.farm is not None
        a, b = parse_link_key(key)
        with self._lock:
            self.current[key] = spec
            ab, ba = link_key(a, b), link_key(b, a)
            self.farm.set_specs(ab, self.current[ab], self.current[ba])
            self.farm.set_specs(ba, self.current[ba], self.current[ab])

    def links_of(self, region: Region) -> list[str]:
        return [k for k in self.current if region in parse_link_key(k)]

    def partition(self, region: Region, healed: bool = False, reset: bool = False) -> None:
        """Cut (or heal) every link to and from `region`. Partitions are not counted: healing
        one heals a link another overlapping partition also cut."""
        for key in self.links_of(region):
            self.set_link(key, self.current[key].with_changes(partitioned=not healed))
        if reset and not healed:
            assert self.farm is not None
            for key in self.links_of(region):
                self.farm.reset(key)

    # --- nodes ----------------------------------------------------------------------------
    def pid(self, region: Region) -> int:
        assert self.federation is not None
        return self.federation.procs[region].pid

    def kill(self, region: Region) -> None:
        assert self.federation is not None
        self.federation.kill_node(region)

    def restart(self, region: Region) -> None:
        assert self.federation is not None
        self.federation.start_node(region)

    def revive(self) -> list[Region]:
        """Start every node that is not running (killed for good by the schedule): what it
        acknowledged before the crash must be there after it."""
        assert self.federation is not None
        dead = [r for r in Region if r not in self.federation.procs]
        for region in dead:
            self.federation.start_node(region)
        return dead

    def freeze(self, region: Region) -> None:
        os.kill(self.pid(region), signal.SIGSTOP)
        self.frozen.add(region)

    def thaw(self, region: Region) -> None:
        os.kill(self.pid(region), signal.SIGCONT)
        self.frozen.discard(region)

    # --- faults ---------------------------------------------------------------------------
    def begin(self, fault: Fault) -> dict[str, LinkSpec]:
        """Inject `fault`; returns the link specs it replaced (for `end`)."""
        region = fault.target
        saved: dict[str, LinkSpec] = {}
        if fault.kind == "partition" or (fault.kind == "hub_outage" and fault.mode == "partition"):
            self.partition(region, reset=fault.reset_connections)
        elif fault.kind in ("kill", "hub_outage"):
            self.kill(region)
        elif fault.kind == "freeze":
            self.freeze(region)
        elif fault.kind == "slow_link":
            assert fault.link is not None
            a, b = parse_link_key(fault.link)
            keys = [link_key(a, b)] + ([link_key(b, a)] if fault.both_ways else [])
            changes = {k: v for k, v in fault.link_changes().items() if v is not None}
            for key in keys:
                saved[key] = self.current[key]
                self.set_link(key, self.current[key].with_changes(**changes))
        return saved

    def end(self, fault: Fault, saved: dict[str, LinkSpec]) -> None:
        """Undo `fault`: heal, restart, thaw, or restore the saved link specs."""
        region = fault.target
        if fault.kind == "partition" or (fault.kind == "hub_outage" and fault.mode == "partition"):
            self.partition(region, healed=True)
        elif fault.kind in ("kill", "hub_outage"):
            self.restart(region)
        elif fault.kind == "freeze":
            self.thaw(region)
        elif fault.kind == "slow_link":
            for key, spec in saved.items():
                self.set_link(key, spec)

    def describe(self) -> dict[str, Any]:
        return {
            "dir": str(self.directory),
            "topology": self.topology.name,
            "nodes": {r.code: self.node_endpoints.get(r, "") for r in Region},
            "links": {
                key: {"proxy": f"{HOST}:{port}", **self.current[key].model_dump()}
                for key, port in sorted(self.ports.items())
            },
        }
