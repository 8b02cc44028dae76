"""Free loopback ports for nodes provisioned with `base_port=0`, chosen where no client takes them.

A port found by binding port 0 comes from the kernel's ephemeral range, the same range every
outgoing connection draws its local port from: between provisioning and the node's bind, a
connection can take it ("Address already in use"). Ports just below that range are never
handed to clients, so a node started later still finds its port free.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Collection
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_SPAN = 12_000  # ports below the ephemeral range to choose from
_TRIES = 200


def _ephemeral_low() -> int | None:
    try:
        low, _high = _RANGE_FILE.read_text(encoding="ascii").split()
        return int(low)
    except (OSError, ValueError):
        return None


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(rng: random.Random | None = None, avoid: Collection[int] = ()) -> int:
    """A loopback port that is free now, not in `avoid`, and outside the ephemeral range when the
    kernel says where that is; otherwise (or if none is found) one the OS picks by binding port 0.

    A port only counts as taken once something binds it: ports chosen for nodes that have not
    started yet are free to the kernel, so whoever picks several at once passes the earlier ones
    in `avoid` (or uses `free_ports`); two nodes given one port would have the second fail to
    bind while a client reaching that port talks to the first.
    """
    low = _ephemeral_low()
    if low is not None and low - _SPAN >= 1024:
        pick = rng or random.Random()
        for _ in range(_TRIES):
            port = pick.randrange(low - _SPAN, low)
            if port not in avoid and _bindable(port):
                return port
    for _ in range(_TRIES):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port
    raise OSError("no free loopback port outside the ones already chosen")


def free_ports(
    count: int, rng: random.Random | None = None, avoid: Collection[int] = ()
) -> list[int]:
    """`count` distinct free loopback ports, none in `avoid` (see `free_port`)."""
    chosen: list[int] = []
    for _ in range(count):
        chosen.append(free_port(rng, avoid={*avoid, *chosen}))
    return chosen
