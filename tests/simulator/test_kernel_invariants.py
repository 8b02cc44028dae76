"""Queueing invariants both kernels keep on any reduced scenario (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.engine import Kernel, simulate
from simulator.loading import mmc_scenario
from simulator.statistics import littles_law_holds

EPS = 1e-9


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    servers=st.integers(1, 5),
    load=st.floats(0.2, 1.3),
    customers=st.integers(20, 1200),
    warmup=st.integers(0, 200),
    extra_places=st.none() | st.integers(0, 5),
    abandonment=st.none() | st.floats(0.1, 2.0),
    seed=st.integers(0, 2**16),
    kernel=st.sampled_from(["auto", "simpy"]),
)
def test_every_arrival_after_the_warmup_is_accounted_for_once(
    servers: int,
    load: float,
    customers: int,
    warmup: int,
    extra_places: int | None,
    abandonment: float | None,
    seed: int,
    kernel: Kernel,
) -> None:
    capacity = None if extra_places is None else servers + extra_places
    sc = mmc_scenario(
        servers, load * servers, 1.0, customers + warmup, warmup, seed, capacity, abandonment
    )
    res = simulate(sc, kernel=kernel)
    data, total = res.data, res.data["total"]
    outcomes = total["outcomes"]
    assert data["arrivals"] == customers + warmup
    assert total["visits"] == customers == sum(outcomes.values())
    assert total["completed"] == outcomes.get("served", 0)
    assert total["completed"] + total["abandonment"]["balked"] + total["abandonment"][
        "reneged"
    ] == (customers)
    if capacity is None:
        assert "balked" not in outcomes
    if abandonment is None:
        assert "reneged" not in outcomes
    if total["wait"]["count"]:
        assert total["wait"]["min"] >= 0
        assert total["wait"]["min"] <= total["wait"]["mean"] <= total["wait"]["max"] + EPS
    clerks = data["resources"]["clerks.SH"]
    assert -EPS <= clerks["utilisation"] <= 1 + EPS
    if capacity is not None:
        assert clerks["max_queue"] <= capacity - servers
    assert total["throughput_per_open_hour"] == total["throughput_per_clock_hour"]
    assert littles_law_holds(res)
