"""PNG plots (matplotlib, Agg backend): queue length over time, waits, utilisation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plot_all", "plot_queues", "plot_utilisation", "plot_waits"]


def plot_queues(data: Mapping[str, Any], path: str | Path) -> Path:
    """Mean queue length per sampling interval for every window pool."""
    fig, ax = plt.subplots(figsize=(10, 4))
    for name, res in data["resources"].items():
        series = res["queue_series"]
        ys = series["mean_queue"]
        if not name.startswith("clerks.") or not ys:
            continue
        step = series["interval_min"] / 1440.0
        start = series["start_min"] / 1440.0
        ax.plot([start + (i + 0.5) * step for i in range(len(ys))], ys, lw=0.8, label=name)
    ax.set_xlabel("day")
    ax.set_ylabel("applicants waiting (interval mean)")
    ax.set_title("Queue length at the windows")
    if ax.lines:
        ax.legend(loc="upper right", fontsize="small")
    return _save(fig, path)


def plot_waits(data: Mapping[str, Any], path: str | Path) -> Path:
    """Empirical distribution of the wait for a clerk, per region."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for code, group in data["regions"].items():
        cdf = group["wait"].get("cdf")
        if cdf and cdf["x"]:
            ax.step(cdf["x"], cdf["p"], where="post", label=code)
    ax.set_xlabel("wait for a clerk (min)")
    ax.set_ylabel("P(wait <= x)")
    ax.set_ylim(0, 1.02)
    ax.set_title("Waiting time distribution")
    if ax.lines:
        ax.legend(loc="lower right")
    return _save(fig, path)


def plot_utilisation(data: Mapping[str, Any], path: str | Path) -> Path:
    """Time-weighted utilisation of every resource."""
    names = list(data["resources"])
    values = [data["resources"][n]["utilisation"] or 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(names)), 4))
    ax.bar(range(len(names)), [v if v == v else 0.0 for v in values], color="tab:blue")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize="small")
    ax.set_ylabel("busy / on duty")
    ax.set_ylim(0, 1.05)
    ax.set_title("Utilisation")
    return _save(fig, path)


def plot_all(data: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """All three plots into out_dir."""
    out = Path(out_dir)
    return [
        plot_queues(data, out / "queue_length.png"),
        plot_waits(data, out / "waits.png"),
        plot_utilisation(data, out / "utilisation.png"),
    ]


def _save(fig: Any, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p
