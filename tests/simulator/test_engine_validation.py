"""The engine reduced to M/M/c, M/M/c/K and M/M/c+M agrees with the exact formulas."""

from __future__ import annotations

import pytest

from simulator.engine import Kernel, simulate
from simulator.kernels.fast_station import reason_not_reducible
from simulator.loading import default_scenario, mmc_scenario
from simulator.queueing import erlang_a, erlang_c, erlang_c_wait, mmck
from simulator.statistics import littles_law_holds, replicate, summarise

KERNELS: list[Kernel] = ["auto", "simpy"]


def _runs(kernel: Kernel, customers: int, reps: int, **kw: float | int | None) -> list:  # type: ignore[type-arg]
    n = customers if kernel == "auto" else customers // 4
    sc = mmc_scenario(warmup=n // 10, customers=n, seed=11, **kw)  # type: ignore[arg-type]
    runs = replicate(sc, reps, kernel)
    assert all(littles_law_holds(r) for r in runs)
    return runs


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("c", "rho"), [(1, 0.5), (3, 0.75), (10, 0.85), (40, 0.9)])
def test_mmc_wait_inside_ci(kernel: Kernel, c: int, rho: float) -> None:
    lam = rho * c
    runs = _runs(kernel, 16_000, 8, servers=c, arrival_rate=lam, service_rate=1.0)
    est = summarise(runs, ["total.wait.mean", "total.wait.le.0"])
    assert est["total.wait.mean"].contains(erlang_c_wait(c, lam, 1.0))
    assert est["total.wait.le.0"].contains(1 - erlang_c(c, lam, 1.0))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("c", "k", "lam"), [(1, 3, 0.9), (4, 8, 4.4)])
def test_mmck_blocking_inside_ci(kernel: Kernel, c: int, k: int, lam: float) -> None:
    runs = _runs(kernel, 16_000, 8, servers=c, arrival_rate=lam, service_rate=1.0, capacity=k)
    exact = mmck(c, k, lam, 1.0)
    est = summarise(runs, ["total.abandonment.rate", "total.wait.mean"])
    assert est["total.abandonment.rate"].contains(exact.blocking)
    assert est["total.wait.mean"].contains(exact.mean_wait)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("c", "lam", "theta"), [(2, 2.4, 1.0), (8, 8.0, 0.2)])
def test_erlang_a_abandonment_inside_ci(kernel: Kernel, c: int, lam: float, theta: float) -> None:
    runs = _runs(
        kernel, 16_000, 8, servers=c, arrival_rate=lam, service_rate=1.0, abandonment_rate=theta
    )
    exact = erlang_a(c, lam, 1.0, theta)
    est = summarise(runs, ["total.abandonment.rate", "total.wait.mean"])
    assert est["total.abandonment.rate"].contains(exact.abandonment)
    assert est["total.wait.mean"].contains(exact.mean_wait)


def test_reduced_scenarios_take_the_fast_kernel_and_full_ones_do_not() -> None:
    assert reason_not_reducible(mmc_scenario(4, 3.0, 1.0, 100)) is None
    assert reason_not_reducible(default_scenario()) == "more than one region"
    assert simulate(mmc_scenario(4, 3.0, 1.0, 500)).data["kernel"] == "fast"
    with pytest.raises(ValueError, match="single window pool"):
        simulate(default_scenario(["run.horizon_days=1"]), kernel="fast")


def test_kernels_agree_on_bookkeeping() -> None:
    sc = mmc_scenario(3, 2.4, 1.0, 3000, seed=5)
    for kernel in KERNELS:
        res = simulate(sc, kernel=kernel)
        total = res.data["total"]
        assert total["visits"] == 3000
        assert total["completed"] == 3000
        assert res.data["arrivals"] == 3000
        util = res.data["resources"]["clerks.SH"]["utilisation"]
        assert util == pytest.approx(0.8, abs=0.05)
        assert littles_law_holds(res)


def test_fast_kernel_horizon_and_time_warmup() -> None:
    sc = mmc_scenario(2, 1.5, 1.0, 10_000, seed=2).model_copy(deep=True)
    sc = sc.model_copy(
        update={
            "run": sc.run.model_copy(
                update={"horizon_days": 2.0, "warmup_days": 0.5, "max_arrivals": None}
            )
        }
    )
    res = simulate(sc)
    assert res.data["observed_min"] == pytest.approx(1.5 * 1440)
    assert res.data["total"]["throughput_per_open_hour"] == pytest.approx(90, rel=0.1)
    assert littles_law_holds(res)
