"""The lab's SLA report: per operation and phase, availability, HDR percentiles, errors by
status, time to recover; the `links` section (docs: LAB_REPORT_SCHEMA, `yrd-lab-report/1`)."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from nodes.lab.load import OK, Sample
from nodes.lab.probes import LINK_PREFIX

SCHEMA = "yrd-lab-report/1"
CST = dt.timezone(dt.timedelta(hours=8))
HDR_MAX_US = 3_600_000_000  # an hour: nothing the lab times can be longer
MAX_LINK_SAMPLES = 5000

DEFINITIONS = {
    "latency": "from the request's INTENDED send time (open loop, coordinated omission "
    "corrected) to its answer, successful requests only; percentiles from an HDR histogram "
    "(1 us .. 1 h, 3 significant digits)",
    "availability": "successful / attempted requests whose intended send time lies in the "
    "phase; a reply that is incomplete (an aggregation missing a region) or wrong is a failure",
    "phase": "an interval between two fault events (a fault starting or ending), named by the "
    "faults active in it",
    "time_to_recover_s": "from the fault's end to the intended send time of the first request "
    "R (sent at or after the end) that starts a sustained run of successes: R and every later "
    "request of the operation up to recovery_window_s after R, and at least "
    "recovery_min_requests requests in all (the run extends past the window until it has "
    "them), succeeded; its resolution is the operation's inter-arrival time; null when the "
    "operation was not impacted (no failure among requests sent during the fault) or never "
    "recovered before the run ended (`impacted` tells which)",
    "availability_after_recovery": "availability of the requests sent from the recovery "
    "point until the next fault started (or the run ended), leaving out those sent within one "
    "client timeout before that next fault (it may have hit them)",
    "send_lag_ms": "how late requests actually left after their intended send time (the "
    "load generator's own lag, already inside every latency figure); when its p99 nears the "
    "latency p99, that tail is the generator's or the machine's (see `machine`), not the "
    "federation's",
    "links": "Echo round trips through each directed link's proxy, sent by the source node's "
    "identity, only while no fault was active (the steady network the simulator wants); "
    "count and errors are of those probes",
    "acknowledged_writes_lost": "case submissions answered 'accepted' with a case id that the "
    "owner region cannot show afterwards (must be 0)",
}


@dataclass(frozen=True)
class Event:
    """A fault starting or ending, at `t_s` seconds from the run's start (as it happened)."""

    t_s: float
    fault: str
    kind: str
    what: str  # "start" or "end"
    index: int  # which fault of the scenario


@dataclass
class Window:
    """A fault's interval as it happened (end None: lasted to the end of the run)."""

    label: str
    start_s: float
    end_s: float | None = None


@dataclass(frozen=True)
class Phase:
    index: int
    start_s: float
    end_s: float
    faults: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.index}: " + (" + ".join(self.faults) or "no fault")


@dataclass
class ReportInput:
    """Everything the run gathered, handed to `build_report`."""

    scenario: dict[str, Any]
    topology: str
    duration_s: float
    samples: list[Sample]
    events: list[Event]
    recovery_window_s: float
    recovery_min_requests: int
    acknowledged: dict[str, Any]
    proxy_overhead: dict[str, Any]
    proxies: dict[str, Any]
    command: str
    configured_rtt_ms: dict[str, float] = field(default_factory=dict)
    timeout_s: float = 0.0  # the client's deadline: a request sent this long before a fault
    # may be hit by it
    extra: dict[str, Any] = field(default_factory=dict)


def windows(events: Sequence[Event]) -> list[Window]:
    out: dict[int, Window] = {}
    for e in sorted(events, key=lambda e: e.t_s):
        if e.what == "start":
            out[e.index] = Window(e.fault, e.t_s)
        elif e.index in out:
            out[e.index].end_s = e.t_s
    return [out[i] for i in sorted(out)]


def phases(events: Sequence[Event], duration_s: float) -> list[Phase]:
    cuts = sorted({0.0, duration_s, *(e.t_s for e in events if 0 < e.t_s < duration_s)})
    spans = windows(events)
    out = []
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        mid = (a + b) / 2
        active = tuple(
            w.label for w in spans if w.start_s <= mid and (w.end_s is None or mid < w.end_s)
        )
        out.append(Phase(i, a, b, active))
    return out


def latency_stats(samples: Sequence[Sample]) -> dict[str, Any]:
    """Availability, HDR percentiles of successes (ms) and errors by status."""
    hist = HdrHistogram(1, HDR_MAX_US, 3)
    errors: Counter[str] = Counter()
    for s in samples:
        if s.outcome == OK:
            hist.record_value(max(1, min(HDR_MAX_US, round(s.latency_s * 1e6))))
        else:
            errors[s.outcome] += 1
    ok = hist.get_total_count()
    lags = [max(0.0, s.latency_s - s.rtt_s) * 1e3 for s in samples]
    out: dict[str, Any] = {
        "attempted": len(samples),
        "ok": ok,
        "availability": round(ok / len(samples), 4) if samples else None,
        "errors_by_status": dict(sorted(errors.items())),
    }
    if lags:
        out["send_lag_ms"] = {
            "p99": round(float(np.percentile(lags, 99)), 3),
            "max": round(max(lags), 3),
        }
    if ok:
        out["latency_ms"] = {
            name: round(hist.get_value_at_percentile(q) / 1e3, 3)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9))
        } | {
            "max": round(hist.get_max_value() / 1e3, 3),
            "mean": round(hist.get_mean_value() / 1e3, 3),
        }
    return out


def time_to_recover(
    samples: Sequence[Sample], end_s: float, window_s: float, min_requests: int
) -> float | None:
    """See DEFINITIONS["time_to_recover_s"]; `samples` of one operation."""
    after = sorted((s for s in samples if s.intended_s >= end_s), key=lambda s: s.intended_s)
    for i, first in enumerate(after):
        if first.outcome != OK:
            continue
        run = [
            s
            for k, s in enumerate(after[i:])
            if k < min_requests or s.intended_s <= first.intended_s + window_s
        ]
        if len(run) >= min_requests and all(s.outcome == OK for s in run):
            return round(first.intended_s - end_s, 3)
    return None


def recovery(
    samples: Sequence[Sample],
    spans: Sequence[Window],
    window_s: float,
    min_requests: int,
    grace_s: float = 0.0,
) -> list[dict[str, Any]]:
    out = []
    for n, w in enumerate(spans):
        later_starts = [v.start_s for v in spans[n + 1 :] if v.start_s > (w.end_s or 0)]
        next_start = min(later_starts, default=float("inf")) - grace_s
        during = [s for s in samples if w.start_s <= s.intended_s < (w.end_s or float("inf"))]
        row: dict[str, Any] = {
            "fault": w.label,
            "start_s": round(w.start_s, 3),
            "end_s": None if w.end_s is None else round(w.end_s, 3),
            "impacted": any(s.outcome != OK for s in during),
            "availability_during": latency_stats(during)["availability"],
            "time_to_recover_s": None,
        }
        if w.end_s is not None and row["impacted"]:
            ttr = time_to_recover(samples, w.end_s, window_s, min_requests)
            row["time_to_recover_s"] = ttr
            if ttr is not None:
                later = [s for s in samples if w.end_s + ttr <= s.intended_s < next_start]
                row["availability_after_recovery"] = latency_stats(later)["availability"]
        out.append(row)
    return out


def quiet(t: float, spans: Sequence[Window]) -> bool:
    """No fault active at `t`."""
    return not any(w.start_s <= t and (w.end_s is None or t < w.end_s) for w in spans)


def links_section(
    samples: Sequence[Sample], spans: Sequence[Window], seed: int = 0
) -> dict[str, Any]:
    """Round trips of the link probes sent while no fault was active (LAB_REPORT_SCHEMA)."""
    by_link: dict[str, list[Sample]] = {}
    for s in samples:
        if s.op.startswith(LINK_PREFIX) and quiet(s.intended_s, spans):
            by_link.setdefault(s.op[len(LINK_PREFIX) :], []).append(s)
    out = {}
    rng = random.Random(seed)
    for key in sorted(by_link):
        rtts = [s.rtt_s * 1e3 for s in by_link[key] if s.outcome == OK]
        entry: dict[str, Any] = {
            "operation": "echo",
            "unit": "ms",
            "count": len(rtts),
            "errors": len(by_link[key]) - len(rtts),
        }
        if rtts:
            for q in (50, 90, 99):
                entry[f"p{q}_ms"] = round(float(np.percentile(rtts, q)), 3)
        else:
            entry |= {"p50_ms": None, "p90_ms": None, "p99_ms": None}
        kept = rtts if len(rtts) <= MAX_LINK_SAMPLES else rng.sample(rtts, MAX_LINK_SAMPLES)
        entry["samples_ms"] = [round(v, 3) for v in kept]
        out[key] = entry
    return out


def link_calibration(links: dict[str, Any], configured: dict[str, float]) -> dict[str, Any]:
    """Measured p50 round trip against the topology's (A->B delay + B->A delay): what the
    emulation adds on top (the echo itself, the proxy, timer granularity, a busy machine)."""
    rows = {
        key: {
            "configured_rtt_ms": round(configured[key], 3),
            "measured_p50_ms": body["p50_ms"],
            "excess_p50_ms": round(body["p50_ms"] - configured[key], 3),
        }
        for key, body in links.items()
        if key in configured and body["p50_ms"] is not None
    }
    excess = [r["excess_p50_ms"] for r in rows.values()]
    return {
        "median_excess_p50_ms": round(float(np.median(excess)), 3) if excess else None,
        "links": rows,
    }


def build_report(data: ReportInput) -> dict[str, Any]:
    spans = windows(data.events)
    cut = phases(data.events, data.duration_s)
    links = links_section(data.samples, spans)
    ops = sorted({s.op for s in data.samples if not s.op.startswith(LINK_PREFIX)})
    operations: dict[str, Any] = {}
    for op in ops:
        mine = [s for s in data.samples if s.op == op]
        operations[op] = {
            "overall": latency_stats(mine),
            "phases": {
                p.name: latency_stats([s for s in mine if p.start_s <= s.intended_s < p.end_s])
                for p in cut
            },
            "recovery": recovery(
                mine, spans, data.recovery_window_s, data.recovery_min_requests, data.timeout_s
            ),
        }
    return {
        "schema": SCHEMA,
        "generated_at": dt.datetime.now(CST).isoformat(timespec="seconds"),
        "command": data.command,
        "topology": data.topology,
        "scenario": data.scenario,
        "definitions": DEFINITIONS,
        "timeline": [
            {"t_s": round(e.t_s, 3), "event": e.what, "fault": e.fault, "kind": e.kind}
            for e in sorted(data.events, key=lambda e: e.t_s)
        ],
        "phases": [
            {
                "name": p.name,
                "start_s": round(p.start_s, 3),
                "end_s": round(p.end_s, 3),
                "faults": list(p.faults),
            }
            for p in cut
        ],
        "operations": operations,
        "acknowledged_writes": data.acknowledged,
        "proxy_overhead": data.proxy_overhead,
        "links": links,
        "link_calibration": link_calibration(links, data.configured_rtt_ms),
        "proxies": data.proxies,
        **data.extra,
    }


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_samples(samples: Sequence[Sample], out_dir: Path) -> Path:
    """Every request as one CSV row, in send order: join `trace_id` with the nodes' access
    logs and span files to see where one slow or failed request spent its time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "samples.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        rows = csv.writer(f)
        rows.writerow(["op", "intended_s", "latency_ms", "rtt_ms", "outcome", "ack", "trace_id"])
        for s in sorted(samples, key=lambda s: s.intended_s):
            rows.writerow(
                [
                    s.op,
                    f"{s.intended_s:.6f}",
                    f"{s.latency_s * 1e3:.3f}",
                    f"{s.rtt_s * 1e3:.3f}",
                    s.outcome,
                    s.ack,
                    s.trace_id,
                ]
            )
    return path


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures (what the command prints): the file has everything."""
    ops = {}
    for op, body in report["operations"].items():
        ops[op] = {
            "availability": body["overall"]["availability"],
            "phases": {
                name: {
                    "availability": st["availability"],
                    **{k: st.get("latency_ms", {}).get(k) for k in ("p50", "p99")},
                }
                for name, st in body["phases"].items()
            },
            "time_to_recover_s": [r.get("time_to_recover_s") for r in body["recovery"]],
        }
    overhead = report["proxy_overhead"]
    return {
        "report": report.get("report_path"),
        "plots": report.get("plots", []),
        "timeline": report["timeline"],
        "operations": ops,
        "acknowledged_writes": report["acknowledged_writes"],
        "proxy_overhead": {
            k: overhead.get(k) for k in ("ratio_p50", "added_p50_us", "added_p99_us")
        },
        "links_p50_ms": {k: v["p50_ms"] for k, v in report["links"].items()},
        "links_median_excess_p50_ms": report["link_calibration"]["median_excess_p50_ms"],
        "critical_path": {
            k: report.get("critical_path", {}).get(k)
            for k in ("available", "reason", "case_id", "root_ms", "by_service_ms")
            if k in report.get("critical_path", {})
        },
        "metrics_scraped": {
            code: body.get("available") for code, body in report.get("metrics", {}).items()
        },
    }
