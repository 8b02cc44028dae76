"""SimPy model of remote virtual windows for cross-province demand."""

# Names resolve on first use (PEP 562), so `import simulator` (and with it `yrd sim --help`,
# which imports simulator.cli) costs almost nothing: pydantic, numpy, SimPy and scipy load
# only when something that needs them is used.

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from simulator._lazy import lazy_names as _lazy_names

if TYPE_CHECKING:
    from simulator.cli import sim
    from simulator.distributions import Distribution, load_empirical
    from simulator.engine import Kernel, simulate
    from simulator.kernels.simpy_model import YrdModel
    from simulator.latency_compare import compare_latency
    from simulator.loading import default_scenario, load_scenario, mmc_scenario
    from simulator.measured_latency import LatencyReportError, apply_measured, load_report
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
    "LatencyReportError",
    "REGIONS",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Summary",
    "TimeWeighted",
    "YrdModel",
    "apply_measured",
    "compare",
    "compare_latency",
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
    "load_report",
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

#: Public name -> the module that defines it.
_HOME: dict[str, str] = {
    "CaseRecord": "simulator.records",
    "Distribution": "simulator.distributions",
    "Estimate": "simulator.statistics",
    "Kernel": "simulator.engine",
    "LatencyReportError": "simulator.measured_latency",
    "REGIONS": "simulator.scenario",
    "RunResult": "simulator.recorder",
    "Scenario": "simulator.scenario",
    "ScenarioError": "simulator.scenario",
    "Summary": "simulator.records",
    "TimeWeighted": "simulator.records",
    "YrdModel": "simulator.kernels.simpy_model",
    "apply_measured": "simulator.measured_latency",
    "compare": "simulator.statistics",
    "compare_latency": "simulator.latency_compare",
    "confidence_interval": "simulator.statistics",
    "default_scenario": "simulator.loading",
    "erlang_a": "simulator.queueing",
    "erlang_b": "simulator.queueing",
    "erlang_c": "simulator.queueing",
    "erlang_c_tail": "simulator.queueing",
    "erlang_c_wait": "simulator.queueing",
    "estimate_warmup": "simulator.statistics",
    "littles_law_holds": "simulator.statistics",
    "load_empirical": "simulator.distributions",
    "load_report": "simulator.measured_latency",
    "load_scenario": "simulator.loading",
    "mmc_scenario": "simulator.loading",
    "mmck": "simulator.queueing",
    "mser5": "simulator.statistics",
    "replicate": "simulator.statistics",
    "run_until_precision": "simulator.statistics",
    "run_validation": "simulator.validation",
    "sim": "simulator.cli",
    "simulate": "simulator.engine",
    "summarise": "simulator.statistics",
    "sweep": "simulator.sweep",
    "with_warmup": "simulator.statistics",
}


__getattr__, __dir__ = _lazy_names(__name__, _HOME, globals())


class _Package(types.ModuleType):
    """Keeps public names ahead of same-named submodules (``simulator.sweep`` is the function).

    Importing a submodule sets it as an attribute of its package; eager imports used to
    overwrite that with the function right after, and this does the same for lazy ones.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _HOME and isinstance(value, types.ModuleType):
            return  # the submodule stays importable through sys.modules
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
