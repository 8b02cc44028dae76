"""SimPy model of remote virtual windows for cross-province demand."""

from simulator.cli import sim
from simulator.distributions import Distribution, load_empirical
from simulator.engine import Kernel, simulate
from simulator.kernels.simpy_model import YrdModel
from simulator.loading import default_scenario, load_scenario, mmc_scenario
from simulator.queueing import erlang_a, erlang_b, erlang_c, erlang_c_tail, erlang_c_wait, mmck
from simulator.recorder import RunResult
from simulator.records import CaseRecord, Summary, TimeWeighted
from simulator.scenario import REGIONS, Scenario, ScenarioError
from simulator.statistics import (
    Estimate,
    compare,
    confidence_interval,
    estimate_warmup,
    littles_law_holds,
    mser5,
    replicate,
    run_until_precision,
    summarise,
    with_warmup,
)
from simulator.sweep import sweep
from simulator.validation import run_validation

__all__ = [  # noqa: RUF022 - plain sorted(), as the API test checks
    "CaseRecord",
    "Distribution",
    "Estimate",
    "Kernel",
    "REGIONS",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Summary",
    "TimeWeighted",
    "YrdModel",
    "compare",
    "confidence_interval",
    "default_scenario",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_tail",
    "erlang_c_wait",
    "estimate_warmup",
    "littles_law_holds",
    "load_empirical",
    "load_scenario",
    "mmc_scenario",
    "mmck",
    "mser5",
    "replicate",
    "run_until_precision",
    "run_validation",
    "sim",
    "simulate",
    "summarise",
    "sweep",
    "with_warmup",
]
