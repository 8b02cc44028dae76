"""JSON and CSV writers for run reports, replication summaries and sweeps."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["clean_json", "group_rows", "resource_rows", "write_csv", "write_json"]


def clean_json(obj: Any) -> Any:
    """Replace nan/inf (not JSON) by None, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write strict JSON (no NaN) with a trailing newline."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(clean_json(obj), indent=2, sort_keys=False) + "\n")
    return p


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write rows (union of keys as header, in first-seen order)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    with p.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return p


def _cell(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    return v


def _group_row(scope: str, key: str, g: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "scope": scope,
        "key": key,
        "visits": g["visits"],
        "completed": g["completed"],
        "open_hours": g["open_hours"],
        "throughput_per_open_hour": g["throughput_per_open_hour"],
        "throughput_per_clock_hour": g["throughput_per_clock_hour"],
        "balked": g["abandonment"]["balked"],
        "reneged": g["abandonment"]["reneged"],
        "abandonment_rate": g["abandonment"]["rate"],
        "rework_visits": g["rework_visits"],
        "first_time_success": g["first_time_success"],
    }
    for name in ("wait", "sojourn", "first_response", "result_time"):
        s = g[name]
        for stat in ("mean", "p50", "p90", "p95", "p99"):
            row[f"{name}_{stat}"] = s[stat]
        for t, share in s["le"].items():
            row[f"{name}_le_{t}"] = share
    return row


def group_rows(data: Mapping[str, Any], replication: int | None = None) -> list[dict[str, Any]]:
    """One row for the total, each region and each OD pair."""
    rows = [_group_row("total", "all", data["total"])]
    rows += [_group_row("region", k, g) for k, g in data["regions"].items()]
    rows += [_group_row("od", k, g) for k, g in data["od"].items()]
    if replication is not None:
        for row in rows:
            row["replication"] = replication
    return rows


def resource_rows(data: Mapping[str, Any], replication: int | None = None) -> list[dict[str, Any]]:
    """One row per staff pool or shared service."""
    rows = []
    for name, r in data["resources"].items():
        row = {k: v for k, v in r.items() if k != "queue_series"}
        row["resource"] = name
        if replication is not None:
            row["replication"] = replication
        rows.append(row)
    return rows


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, float]]:
    """(dotted path, number) for every number in a report, lists excluded."""
    for k, v in data.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping):
            yield from flatten(v, path + ".")
        elif isinstance(v, int | float) and not isinstance(v, bool):
            yield path, float(v)
