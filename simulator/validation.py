"""Built-in validation: the engine reduced to M/M/c, M/M/c/K and M/M/c+M against exact values."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.engine import Kernel
from simulator.loading import mmc_scenario
from simulator.queueing import erlang_a, erlang_c, erlang_c_wait, mmck
from simulator.statistics import Estimate, littles_law_holds, replicate, summarise

__all__ = ["CASES", "Case", "Check", "kernel_sizes", "run_validation"]


@dataclass(frozen=True, slots=True)
class Case:
    """One reduced configuration (rates per minute)."""

    name: str
    servers: int
    arrival_rate: float
    service_rate: float
    capacity: int | None = None
    abandonment_rate: float | None = None

    def exact(self) -> dict[str, float]:
        """Metric path -> exact steady-state value."""
        c, lam, mu = self.servers, self.arrival_rate, self.service_rate
        if self.capacity is not None:
            k = mmck(c, self.capacity, lam, mu)
            return {"total.wait.mean": k.mean_wait, "total.abandonment.rate": k.blocking}
        if self.abandonment_rate is not None:
            a = erlang_a(c, lam, mu, self.abandonment_rate)
            return {"total.wait.mean": a.mean_wait, "total.abandonment.rate": a.abandonment}
        return {
            "total.wait.mean": erlang_c_wait(c, lam, mu),
            "total.wait.le.0": 1.0 - erlang_c(c, lam, mu),
        }


@dataclass(frozen=True, slots=True)
class Check:
    """Exact value against the simulated confidence interval."""

    case: str
    kernel: str
    metric: str
    exact: float
    estimate: Estimate
    littles_law: bool
    customers: int = 0  # arrivals per replication, warm-up included
    warmup: int = 0  # of which the first ones are left out of the statistics
    replications: int = 0

    @property
    def ok(self) -> bool:
        """Exact value inside the CI and Little's law held on every run."""
        return self.estimate.contains(self.exact) and self.littles_law


CASES: tuple[Case, ...] = (
    Case("M/M/1 rho=0.7", 1, 0.7, 1.0),
    Case("M/M/4 rho=0.8", 4, 3.2, 1.0),
    Case("M/M/20 rho=0.9", 20, 18.0, 1.0),
    Case("M/M/3/6", 3, 3.0, 1.0, capacity=6),
    Case("M/M/5+M", 5, 5.0, 1.0, abandonment_rate=0.5),
)


def kernel_sizes(checks: list[Check]) -> dict[str, dict[str, int]]:
    """Per kernel: customers per replication (and warm-up), and customers run in total."""
    sizes: dict[str, dict[str, int]] = {}
    seen: set[tuple[str, str]] = set()
    for c in checks:
        size = sizes.setdefault(
            c.kernel, {"customers": c.customers, "warmup": c.warmup, "total": 0}
        )
        if (c.case, c.kernel) not in seen:  # one case reports several metrics of the same runs
            seen.add((c.case, c.kernel))
            size["total"] += c.customers * c.replications
    return sizes


def run_validation(
    replications: int = 10,
    customers: int = 20_000,
    kernels: tuple[Kernel, ...] = ("auto", "simpy"),
    cases: tuple[Case, ...] = CASES,
    seed: int = 7,
) -> list[Check]:
    """Replicate every case with every kernel; the SimPy kernel gets a quarter of the work."""
    checks = []
    for case in cases:
        exact = case.exact()
        for kernel in kernels:
            n = customers if kernel != "simpy" else max(customers // 4, 1000)
            warmup = n // 10
            scenario = mmc_scenario(
                case.servers,
                case.arrival_rate,
                case.service_rate,
                n,
                warmup=warmup,
                seed=seed,
                capacity=case.capacity,
                abandonment_rate=case.abandonment_rate,
            )
            runs = replicate(scenario, replications, kernel)
            little = all(littles_law_holds(r) for r in runs)
            ran = max(int(r.data["arrivals"]) for r in runs)
            name = "fast" if kernel == "auto" else kernel
            for metric, est in summarise(runs, list(exact)).items():
                checks.append(
                    Check(
                        case.name, name, metric, exact[metric], est, little, ran, warmup, len(runs)
                    )
                )
    return checks
