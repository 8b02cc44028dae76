"""Scrape each node's Prometheus `/metrics` (config `metrics_port`) into the lab report.

Nodes expose the endpoint when their config sets `metrics_port`; the lab sets it (and
`trace_export`) when the node configuration knows those fields. Without them the report says
so instead of inventing figures.
"""

from __future__ import annotations

import math
import re
import tomllib
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from federation.regions import Region

if TYPE_CHECKING:
    from nodes.lab.controller import Lab
    from nodes.lab.report import Phase

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)(?:\s+\d+)?$")


def parse_prometheus_text(text: str) -> dict[str, float]:
    """Samples of the Prometheus text exposition format, `name{labels}` -> value.

    Comments (# HELP, # TYPE) are skipped; a value that is not a number (nor NaN/+Inf) is
    skipped rather than guessed.
    """
    out: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        try:
            value = float(match.group(2))
        except ValueError:
            continue
        out[match.group(1)] = value
    return out


def summarise(samples: dict[str, float]) -> dict[str, float]:
    """What goes in the report: every sample except histogram buckets (too many) and the
    `_created` timestamps, rounded."""
    return {
        k: (round(v, 6) if math.isfinite(v) else v)
        for k, v in sorted(samples.items())
        if "_bucket{" not in k and not _name(k).endswith("_created")
    }


def _name(sample: str) -> str:
    return sample.split("{", 1)[0]


def is_cumulative(sample: str) -> bool:
    """Counters and histogram sums/counts: what a run adds is after minus before."""
    return _name(sample).endswith(("_total", "_count", "_sum"))


def run_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per node: what the run added to every cumulative sample, and the gauges at its end."""
    out: dict[str, Any] = {}
    for code, end in after.items():
        start = before.get(code, {})
        if not end.get("available"):
            out[code] = end
            continue
        first = start.get("samples", {}) if start.get("available") else {}
        last = end["samples"]
        out[code] = {
            "available": True,
            "port": end["port"],
            "during_run": {
                k: round(v - first.get(k, 0.0), 6)
                for k, v in last.items()
                if is_cumulative(k) and v - first.get(k, 0.0)
            },
            "gauges_at_end": {k: v for k, v in last.items() if not is_cumulative(k)},
        }
    return out


def metrics_port(lab: Lab, region: Region) -> int | None:
    raw = tomllib.loads(lab.layout.config(region).read_text(encoding="utf-8"))
    port = raw.get("metrics_port")
    return int(port) if isinstance(port, int) and port > 0 else None


def scrape(host: str, port: int, timeout_s: float = 2.0) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout_s) as reply:
        body: bytes = reply.read()
    return body.decode("utf-8", errors="replace")


def scrape_all(lab: Lab, timeout_s: float = 2.0) -> dict[str, Any]:
    """Every node's metrics now, by region code; a node that does not answer says why."""
    out: dict[str, Any] = {}
    for region in Region:
        port = metrics_port(lab, region)
        if port is None:
            out[region.code] = {"available": False, "reason": "no metrics_port in its config"}
            continue
        try:
            samples = parse_prometheus_text(scrape("127.0.0.1", port, timeout_s))
        except (OSError, urllib.error.URLError) as exc:
            out[region.code] = {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
            continue
        out[region.code] = {"available": True, "port": port, "samples": summarise(samples)}
    return out


def phase_deltas(
    snapshots: Sequence[tuple[float, dict[str, Any]]], phases: Sequence[Phase]
) -> dict[str, Any]:
    """Per phase and node, what each counter (`_total`, `_count`) grew by, from the scrapes
    taken at its boundaries (the snapshot nearest each boundary; a node that could not be
    scraped at either end, e.g. killed or frozen then, is left out of that phase)."""

    def nearest(t: float) -> dict[str, Any]:
        return min(snapshots, key=lambda snap: abs(snap[0] - t))[1]

    out: dict[str, Any] = {}
    for phase in phases:
        first, last = nearest(phase.start_s), nearest(phase.end_s)
        nodes: dict[str, Any] = {}
        for code, end in last.items():
            start = first.get(code, {})
            if not (end.get("available") and start.get("available")):
                continue
            grew = {
                k: round(v - start["samples"].get(k, 0.0), 6)
                for k, v in end["samples"].items()
                if _name(k).endswith(("_total", "_count")) and v - start["samples"].get(k, 0.0)
            }
            nodes[code] = grew
        out[phase.name] = nodes
    return out
