"""The lab: the federation under an emulated WAN, timed faults, open-loop load, SLA report."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DEFAULT_TOPOLOGY": "topology",
        "Fault": "scenario",
        "Lab": "controller",
        "LinkProxy": "proxy",
        "LinkSpec": "topology",
        "LoadMix": "scenario",
        "OpenLoop": "load",
        "ProxyFarm": "proxy",
        "Scenario": "scenario",
        "Topology": "topology",
        "build_report": "report",
        "load_scenario": "scenario",
        "load_topology": "topology",
        "run_scenario": "runner",
    },
)
