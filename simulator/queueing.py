"""Exact queueing formulas (Erlang B/C, M/M/c/K, Erlang A) used to validate the engine."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ErlangA",
    "MMcK",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_tail",
    "erlang_c_wait",
    "mmck",
]


def _check_rates(servers: int, arrival_rate: float, service_rate: float) -> None:
    if servers < 1:
        raise ValueError(f"servers must be >= 1 (got {servers})")
    if arrival_rate < 0 or not math.isfinite(arrival_rate):
        raise ValueError(f"arrival_rate must be finite and >= 0 (got {arrival_rate})")
    if service_rate <= 0 or not math.isfinite(service_rate):
        raise ValueError(f"service_rate must be finite and > 0 (got {service_rate})")


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of M/M/c/c; the recursion stays stable for any c."""
    if servers < 0:
        raise ValueError(f"servers must be >= 0 (got {servers})")
    if offered_load < 0:
        raise ValueError(f"offered_load must be >= 0 (got {offered_load})")
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    return b


def erlang_c(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Probability that an arrival waits in M/M/c (1.0 when the system is unstable)."""
    _check_rates(servers, arrival_rate, service_rate)
    a = arrival_rate / service_rate
    if a >= servers:
        return 1.0
    b = erlang_b(servers, a)
    return servers * b / (servers - a * (1.0 - b))


def erlang_c_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean waiting time in queue of M/M/c (inf when unstable)."""
    _check_rates(servers, arrival_rate, service_rate)
    drain = servers * service_rate - arrival_rate
    if drain <= 0:
        return math.inf
    return erlang_c(servers, arrival_rate, service_rate) / drain


def erlang_c_tail(servers: int, arrival_rate: float, service_rate: float, t: float) -> float:
    """P(W > t) for the queueing delay W of M/M/c."""
    _check_rates(servers, arrival_rate, service_rate)
    if t < 0:
        return 1.0
    drain = servers * service_rate - arrival_rate
    if drain <= 0:
        return 1.0
    return erlang_c(servers, arrival_rate, service_rate) * math.exp(-drain * t)


def _normalise(log_terms: list[float]) -> list[float]:
    top = max(log_terms)
    weights = [math.exp(x - top) for x in log_terms]
    total = math.fsum(weights)
    return [w / total for w in weights]


@dataclass(frozen=True, slots=True)
class MMcK:
    """Steady state of M/M/c/K (K = places in the system, servers included)."""

    blocking: float
    mean_queue: float
    mean_in_system: float
    mean_wait: float
    mean_sojourn: float
    wait_probability: float


def mmck(servers: int, capacity: int, arrival_rate: float, service_rate: float) -> MMcK:
    """Exact M/M/c/K measures; waits are those of admitted customers."""
    _check_rates(servers, arrival_rate, service_rate)
    if capacity < servers:
        raise ValueError(f"capacity must be >= servers (got {capacity} < {servers})")
    if arrival_rate == 0:
        return MMcK(0.0, 0.0, 0.0, 0.0, 1.0 / service_rate, 0.0)
    log_a = math.log(arrival_rate / service_rate)
    log_rho = log_a - math.log(servers)
    log_terms: list[float] = []
    for n in range(capacity + 1):
        if n <= servers:
            log_terms.append(n * log_a - math.lgamma(n + 1))
        else:
            log_terms.append(servers * log_a - math.lgamma(servers + 1) + (n - servers) * log_rho)
    p = _normalise(log_terms)
    blocking = p[capacity]
    lq = math.fsum((n - servers) * p[n] for n in range(servers + 1, capacity + 1))
    ls = math.fsum(n * p[n] for n in range(capacity + 1))
    admitted = arrival_rate * (1.0 - blocking)
    # PASTA: an admitted arrival waits when it finds all servers busy and a free place.
    waiting = math.fsum(p[n] for n in range(servers, capacity)) / max(1.0 - blocking, 1e-300)
    return MMcK(
        blocking=blocking,
        mean_queue=lq,
        mean_in_system=ls,
        mean_wait=lq / admitted,
        mean_sojourn=ls / admitted,
        wait_probability=min(1.0, waiting),
    )


@dataclass(frozen=True, slots=True)
class ErlangA:
    """Steady state of M/M/c+M (exponential patience)."""

    abandonment: float
    mean_queue: float
    mean_wait: float
    wait_probability: float


def erlang_a(
    servers: int, arrival_rate: float, service_rate: float, abandonment_rate: float
) -> ErlangA:
    """Exact Erlang A; mean_wait is the mean time in queue over all arrivals (abandoners too)."""
    _check_rates(servers, arrival_rate, service_rate)
    if abandonment_rate < 0 or not math.isfinite(abandonment_rate):
        raise ValueError(f"abandonment_rate must be finite and >= 0 (got {abandonment_rate})")
    if abandonment_rate == 0:
        c_prob = erlang_c(servers, arrival_rate, service_rate)
        wq = erlang_c_wait(servers, arrival_rate, service_rate)
        return ErlangA(0.0, arrival_rate * wq, wq, c_prob)
    if arrival_rate == 0:
        return ErlangA(0.0, 0.0, 0.0, 0.0)
    log_lam = math.log(arrival_rate)
    log_terms = [0.0]
    n = 0
    # Birth-death chain: truncate once terms are negligible and decreasing.
    while True:
        n += 1
        death = min(n, servers) * service_rate + max(n - servers, 0) * abandonment_rate
        log_terms.append(log_terms[-1] + log_lam - math.log(death))
        if n > servers and log_terms[-1] < max(log_terms) - 60 and log_terms[-1] < log_terms[-2]:
            break
    p = _normalise(log_terms)
    lq = math.fsum((k - servers) * p[k] for k in range(servers + 1, len(p)))
    waiting = math.fsum(p[servers:])
    return ErlangA(
        abandonment=abandonment_rate * lq / arrival_rate,
        mean_queue=lq,
        mean_wait=lq / arrival_rate,
        wait_probability=waiting,
    )
