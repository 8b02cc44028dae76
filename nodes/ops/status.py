"""`yrd federation status`: every node's health, versions, trust-list age and reachable peers."""

from __future__ import annotations

import time
from typing import Any

from federation.errors import FederationError
from federation.regions import Region, parse_region
from nodes.client import FederationClient


def _age(now: float, then: float) -> float | None:
    return round(now - then, 3) if then else None


def node_status(
    client: FederationClient, region: Region, probe_peers: bool = True, peer_timeout_s: float = 1.0
) -> dict[str, Any]:
    """One node's report; a node that does not answer is `"state": "down"` with the reason."""
    endpoint = client.endpoint(region)
    try:
        health = client.health(region)
    except FederationError as exc:
        return {
            "state": "down",
            "endpoint": endpoint,
            "error": exc.code_name,
            "message": exc.message,
        }
    state = "up" if health == "SERVING" else "unhealthy"
    try:
        reply = client.status(region, probe_peers=probe_peers, peer_timeout_s=peer_timeout_s)
    except FederationError as exc:  # answers health but not Status: an older node, say
        return {
            "state": state,
            "health": health,
            "endpoint": endpoint,
            "status_error": exc.code_name,
            "message": exc.message,
        }
    now = reply.now
    peers = {
        parse_region(p.region_code).short: {
            "entity_id": p.entity_id,
            "endpoint": p.endpoint,
            "reachable": p.reachable,
            **({"latency_ms": round(p.latency_ms, 3)} if p.reachable else {"error": p.error}),
        }
        for p in reply.peers
    }
    return {
        "state": state,
        "health": health,
        "endpoint": endpoint,
        "entity_id": reply.entity_id,
        "role": reply.role,
        "package_version": reply.package_version,
        "trust_list": {
            "version": reply.trust_list_version,
            "issued_at": reply.trust_list_issued_at,
            "expires_at": reply.trust_list_expires_at,
            "age_s": _age(now, reply.trust_list_issued_at),
            "refreshed_at": reply.trust_list_refreshed_at or None,
            "since_refresh_s": _age(now, reply.trust_list_refreshed_at),
            "refresh_error": reply.trust_list_refresh_error,
        },
        "catalogue_version": reply.catalogue_version,
        "peers": peers,
        "peers_reachable": sorted(short for short, p in peers.items() if p["reachable"]),
    }


def federation_status(
    client: FederationClient, probe_peers: bool = True, peer_timeout_s: float = 1.0
) -> dict[str, Any]:
    """Every node of the client's trust list (the directory's copy), hub first."""
    regions = [
        Region.HUB,
        *(parse_region(m.region_code) for m in client.trust_list.members if "region" in m.roles),
    ]
    nodes = {r.short: node_status(client, r, probe_peers, peer_timeout_s) for r in regions}
    down = sorted(short for short, n in nodes.items() if n["state"] != "up")
    return {"checked_at": time.time(), "all_up": not down, "down": down, "nodes": nodes}
