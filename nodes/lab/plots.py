"""Latency over time, one panel per operation, with the fault windows shaded and labelled."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nodes.lab.load import OK, Sample
from nodes.lab.probes import LINK_PREFIX
from nodes.lab.report import Window

LATE_S = 0.05  # a request that left this much after its intended time is drawn apart
COLOURS = ("tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:olive", "tab:cyan")


def plot_latency(
    samples: Sequence[Sample], spans: Sequence[Window], duration_s: float, path: Path, title: str
) -> Path:
    """Scatter of each request's latency (from its intended send time) against that time;
    requests that left late (the generator stalled) in grey, failures as crosses on the
    panel's top edge; each fault is a shaded, labelled band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = sorted({s.op for s in samples if not s.op.startswith(LINK_PREFIX)})
    fig, axes = plt.subplots(len(ops), 1, figsize=(11, 2.6 * len(ops)), sharex=True, squeeze=False)
    for ax, op in zip(axes[:, 0], ops, strict=True):
        mine = [s for s in samples if s.op == op]
        good = [s for s in mine if s.outcome == OK and s.latency_s - s.rtt_s <= LATE_S]
        late = [s for s in mine if s.outcome == OK and s.latency_s - s.rtt_s > LATE_S]
        bad = [s for s in mine if s.outcome != OK]
        ax.scatter([s.intended_s for s in good], [s.latency_s * 1e3 for s in good], s=6, label="ok")
        if late:  # the load generator (or the machine) stalled: not the federation's time
            ax.scatter(
                [s.intended_s for s in late],
                [s.latency_s * 1e3 for s in late],
                s=6,
                color="tab:gray",
                label=f"ok, left > {LATE_S * 1e3:.0f} ms late ({len(late)})",
            )
        ax.set_yscale("log")
        top = max([s.latency_s * 1e3 for s in mine] + [10.0]) * 1.5
        if bad:
            ax.scatter(
                [s.intended_s for s in bad],
                [top] * len(bad),
                marker="x",
                color="red",
                s=14,
                label=f"failed ({len(bad)})",
            )
        for i, w in enumerate(spans):
            end = duration_s if w.end_s is None else w.end_s
            ax.axvspan(w.start_s, end, color=COLOURS[i % len(COLOURS)], alpha=0.15)
            ax.text(w.start_s, top, w.label, fontsize=7, va="bottom", ha="left")
        ax.set_ylabel(f"{op}\nlatency ms")
        ax.legend(loc="upper right", fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    axes[-1, 0].set_xlabel("intended send time, s from the start of the run")
    axes[-1, 0].set_xlim(0, duration_s)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
