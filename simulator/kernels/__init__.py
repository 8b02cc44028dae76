"""Simulation kernels: the SimPy process model (any scenario) and the fast single-station kernel."""

# simpy_model runs every scenario as SimPy processes (--kernel simpy) on the pools of simpy_pool
# and the event loop of simpy_environment; fast_station runs a scenario reduced to one
# first-come-first-served window pool with two heaps instead of processes (--kernel fast).
# simulator.engine.simulate picks between them.

from simulator.kernels.fast_station import reason_not_reducible, run_fast_station
from simulator.kernels.simpy_model import YrdModel, run_simpy_model

__all__ = ["YrdModel", "reason_not_reducible", "run_fast_station", "run_simpy_model"]
