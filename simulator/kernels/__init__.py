"""Simulation kernels: the SimPy model (any scenario) and the fast single-station heap kernel."""

# simpy_model runs every scenario on SimPy (--kernel simpy): remote cases, staff schedules and
# the hub as processes, local and contact walk-ins (simpy_walk_in) and arrivals as event
# callbacks, on the heap-based pools of simpy_pool and the event loop of simpy_environment;
# fast_station runs a scenario reduced to one
# first-come-first-served window pool with two heaps instead of processes (--kernel fast).
# simulator.engine.simulate picks between them. Names load on first use, so the fast kernel
# never imports SimPy.

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator._lazy import lazy_names as _lazy_names

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


__getattr__, __dir__ = _lazy_names(__name__, _HOME, globals())
