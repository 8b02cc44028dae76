"""Assumed against measured link latencies: quantiles per link and the paired effect on outputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.distributions import UNIT_MINUTES, Distribution
from simulator.engine import Kernel, simulate
from simulator.measured_latency import AppliedLatency
from simulator.scenario import Scenario
from simulator.statistics import confidence_interval

__all__ = ["COMPARE_METRICS", "QUANTILES", "compare_latency", "link_quantiles", "plot_compare"]

#: Time in system, wait for a clerk, remote first response and throughput.
COMPARE_METRICS: tuple[str, ...] = (
    "total.sojourn.mean",
    "total.wait.mean",
    "total.first_response.mean",
    "total.throughput_per_open_hour",
)
QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.99)


def link_quantiles(dist: Distribution) -> dict[str, float]:
    """Mean and quantiles of a latency distribution, in ms."""
    per_ms = UNIT_MINUTES["ms"]
    qs = dist.ppf_minutes(np.asarray(QUANTILES, dtype=float)) / per_ms
    out = {"mean_ms": dist.mean_minutes() / per_ms}
    out.update({f"p{round(q * 100)}_ms": float(v) for q, v in zip(QUANTILES, qs, strict=True)})
    return out


def compare_latency(
    assumed: Scenario,
    measured: Scenario,
    applied: AppliedLatency,
    replications: int,
    metrics: Sequence[str] = COMPARE_METRICS,
    kernel: Kernel = "auto",
) -> dict[str, Any]:
    """Per-link quantiles of both scenarios and, per metric, both CIs and the paired difference.

    Replication r of both scenarios draws every random source from the same stream (common
    random numbers), so measured - assumed is estimated from paired differences.
    """
    links = []
    for use in applied.links:
        o, d = use.link.split("->")
        links.append(
            {
                "link": use.link,
                "source": use.source,
                "operation": use.measured["operation"] if use.measured else None,
                "samples": use.measured["samples"] if use.measured else None,
                "assumed": link_quantiles(assumed.materials.link(o, d).latency),
                "measured": link_quantiles(measured.materials.link(o, d).latency),
                "failure_prob": {
                    "assumed": assumed.materials.link(o, d).failure_prob,
                    "measured": measured.materials.link(o, d).failure_prob,
                },
            }
        )
    values: dict[str, tuple[list[float], list[float]]] = {m: ([], []) for m in metrics}
    for r in range(replications):
        base, variant = simulate(assumed, r, kernel), simulate(measured, r, kernel)
        for m in metrics:
            values[m][0].append(base.metric(m))
            values[m][1].append(variant.metric(m))
    effects = {}
    for m, (a, b) in values.items():
        diffs = [y - x for x, y in zip(a, b, strict=True)]
        effects[m] = {
            "assumed": confidence_interval(a).as_dict(),
            "measured": confidence_interval(b).as_dict(),
            "difference": confidence_interval(diffs).as_dict(),
        }
    return {
        "scenario": assumed.name,
        "replications": replications,
        "latency_from": applied.as_dict(),
        "links": links,
        "effects": effects,
    }


def plot_compare(
    result: dict[str, Any], assumed: Scenario, measured: Scenario, path: str | Path
) -> Path:
    """Left: P(latency <= x) per measured link, measured against assumed; right: the effects."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 6.2))
    u = np.linspace(0.0005, 0.9995, 400)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    per_ms = UNIT_MINUTES["ms"]
    assumed_links: dict[Distribution, list[str]] = {}
    for i, row in enumerate(r for r in result["links"] if r["source"] == "measured"):
        o, d = row["link"].split("->")
        x = measured.materials.link(o, d).latency.ppf_minutes(u) / per_ms
        label = f"{row['link']} measured (n={row['samples']})"
        left.plot(x, u, color=colours[i % len(colours)], linewidth=1.0, label=label)
        assumed_links.setdefault(assumed.materials.link(o, d).latency, []).append(row["link"])
    # Links that share an assumed distribution (usually default_link) get one dashed curve.
    for j, (dist, names) in enumerate(assumed_links.items()):
        x = dist.ppf_minutes(u) / per_ms
        which = f"{len(names)} links" if len(names) > 3 else ", ".join(names)
        style = ("--", ":", "-.")[j % 3]
        left.plot(x, u, color="black", linestyle=style, label=f"assumed ({which})")
    left.set_xscale("log")
    left.set_xlabel("round-trip latency (ms, log scale)")
    left.set_ylabel("P(latency <= x)")
    left.set_title("link latency: measured (solid) against assumed (dashed)", fontsize="medium")
    # Below the axes: inside, it would hide the curves it names.
    left.legend(fontsize="x-small", ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    names = list(result["effects"])
    rel, half = [], []
    for m in names:
        eff = result["effects"][m]
        base = abs(eff["assumed"]["mean"]) or 1.0
        rel.append(100.0 * eff["difference"]["mean"] / base)
        half.append(100.0 * eff["difference"]["half_width"] / base)
    right.barh(names, rel, xerr=half, color="tab:blue", capsize=4)
    right.axvline(0, color="black", linewidth=0.8)
    right.set_xlabel("measured - assumed, % of the assumed mean (paired 95% CI)")
    right.set_title(
        f"{result['scenario']}: effect over {result['replications']} replications (CRN)",
        fontsize="medium",
    )
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
