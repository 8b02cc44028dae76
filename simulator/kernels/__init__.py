"""Simulation kernels: the SimPy model (any scenario) and the fast single-station heap kernel."""

# simpy_model runs every scenario on SimPy (--kernel simpy): remote cases, staff schedules and
# the hub as processes, local and contact walk-ins (simpy_walk_in) and arrivals as event
# callbacks, on the heap-based pools of simpy_pool and the event loop of simpy_environment;
# fast_station runs a scenario reduced to one
# first-come-first-served window pool with two heaps instead of processes (--kernel fast).
# simulator.engine.simulate picks between them. Names load on first use, so the fast kernel
# never imports SimPy.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.kernels.fast_station import reason_not_reducible, run_fast_station
    from simulator.kernels.simpy_model import YrdModel, run_simpy_model

__all__ = ["YrdModel", "reason_not_reducible", "run_fast_station", "run_simpy_model"]

_HOME = {
    "YrdModel": "simulator.kernels.simpy_model",
    "reason_not_reducible": "simulator.kernels.fast_station",
    "run_fast_station": "simulator.kernels.fast_station",
    "run_simpy_model": "simulator.kernels.simpy_model",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'simulator.kernels' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
