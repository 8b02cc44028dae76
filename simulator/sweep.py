"""Grid sweeps: each point runs its replications on a process pool or a Dask cluster."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any

from tqdm import tqdm

from simulator.engine import Kernel
from simulator.loading import apply_overrides, build_scenario
from simulator.scenario import Scenario, ScenarioError
from simulator.statistics import replicate, summarise

__all__ = ["DEFAULT_METRICS", "grid_points", "parse_grid", "run_point", "sweep"]

DEFAULT_METRICS: tuple[str, ...] = (
    "total.wait.mean",
    "total.wait.p90",
    "total.sojourn.mean",
    "total.abandonment.rate",
    "total.throughput_per_open_hour",
)


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """'key=v1,v2' items -> {key: [v1, v2]}."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ScenarioError(f"grid {item!r} must look like key=v1,v2")
        grid[key] = [v.strip() for v in values.split(",")]
    return grid


def grid_points(grid: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Cartesian product as lists of 'key=value' overrides."""
    keys = list(grid)
    return [
        [f"{k}={v}" for k, v in zip(keys, combo, strict=True)]
        for combo in itertools.product(*(grid[k] for k in keys))
    ]


def run_point(
    scenario: Scenario,
    overrides: list[str],
    replications: int,
    metrics: Sequence[str],
    kernel: Kernel = "auto",
) -> dict[str, Any]:
    """One grid point: replications (same seeds at every point: CRN) and their CIs."""
    runs = replicate(scenario, replications, kernel)
    row: dict[str, Any] = {o.partition("=")[0]: o.partition("=")[2] for o in overrides}
    for name, est in summarise(runs, metrics).items():
        row[f"{name}.mean"] = est.mean
        row[f"{name}.half_width"] = est.half_width
    row["replications"] = replications
    return row


def _scenarios(
    raw: Mapping[str, Any],
    points: list[list[str]],
    adjust: Callable[[Scenario], Scenario] | None,
) -> Iterator[Scenario]:
    for overrides in points:
        sc = build_scenario(apply_overrides(raw, overrides))
        yield sc if adjust is None else adjust(sc)


def sweep(
    raw: Mapping[str, Any],
    grid: Mapping[str, Sequence[str]],
    replications: int = 3,
    metrics: Sequence[str] = DEFAULT_METRICS,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    kernel: Kernel = "auto",
    adjust: Callable[[Scenario], Scenario] | None = None,
) -> list[dict[str, Any]]:
    """Run every grid point; every point is validated before anything runs.

    ``adjust`` (run in this process) changes each point's scenario after its overrides, e.g.
    to make links sample measured latencies (AppliedLatency.adjust).
    """
    points = grid_points(grid)
    scenarios = list(_scenarios(raw, points, adjust))
    bar = tqdm(total=len(points), desc="sweep", unit="point", disable=not progress)
    rows: list[dict[str, Any] | None] = [None] * len(points)
    try:
        if scheduler:
            _on_dask(scheduler, scenarios, points, replications, metrics, kernel, rows, bar)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures: dict[Future[dict[str, Any]], int] = {
                    pool.submit(run_point, sc, pt, replications, list(metrics), kernel): i
                    for i, (sc, pt) in enumerate(zip(scenarios, points, strict=True))
                }
                for fut in as_completed(futures):
                    rows[futures[fut]] = fut.result()
                    bar.update()
    finally:
        bar.close()
    return [r for r in rows if r is not None]


def _on_dask(
    address: str,
    scenarios: list[Scenario],
    points: list[list[str]],
    replications: int,
    metrics: Sequence[str],
    kernel: Kernel,
    rows: list[dict[str, Any] | None],
    bar: Any,
) -> None:
    from distributed import Client
    from distributed import as_completed as dask_completed

    # distributed ships no type hints for these entry points.

    with Client(address) as client:  # type: ignore[no-untyped-call]
        futures = [
            client.submit(run_point, sc, pt, replications, list(metrics), kernel, pure=False)
            for sc, pt in zip(scenarios, points, strict=True)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in dask_completed(futures):  # type: ignore[no-untyped-call]
            rows[index[fut.key]] = fut.result()
            bar.update()
