"""Provisioned loopback ports lie below the kernel's ephemeral range, where no client takes them."""

from __future__ import annotations

import random
import socket

from nodes.ops import ports
from nodes.ops.ports import free_port


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    low = ports._ephemeral_low()
    chosen = {free_port(random.Random(seed)) for seed in range(20)}
    for port in chosen:
        if low is not None:
            assert low - ports._SPAN <= port < low
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_taken_port_is_not_chosen() -> None:
    rng_state = random.Random(7)
    first = free_port(random.Random(7))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        again = free_port(rng_state)  # the same generator would draw `first` first
    assert again != first
