"""Measured per-link latencies from a `yrd lab run` report, applied to a scenario's links."""

# The report's `links` section (LAB_REPORT_SCHEMA: "310000->320000": {samples_ms, errors, ...})
# becomes one empirical latency distribution per directed link, read from the report file
# itself (kind empirical, field links.<key>), so the scenario dump names its source and a
# sweep's worker processes read the same numbers. Only region-to-region links apply: the
# model's one hub step is face verification, whose 15 s is the check itself, not a network
# round trip, so hub links (100000) are listed as ignored and never replace hub.latency.

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from simulator.distributions import UNIT_MINUTES, Distribution, load_empirical
from simulator.scenario import LinkSpec, Scenario

__all__ = [
    "EXAMPLE",
    "HUB_CODE",
    "REGION_OF_CODE",
    "SCHEMA",
    "AppliedLatency",
    "LatencyReport",
    "LatencyReportError",
    "LinkUse",
    "MeasuredLink",
    "apply_measured",
    "load_report",
    "parse_report",
    "report_path",
]

#: Six-digit division codes of the four regional nodes -> the simulator's region names.
REGION_OF_CODE: dict[str, str] = {"310000": "SH", "320000": "JS", "330000": "ZJ", "340000": "AH"}
#: The national hub's code; links to or from it are read but not applied (see module comment).
HUB_CODE = "100000"
#: The report format this module reads (LAB_REPORT_SCHEMA); a report may omit it.
SCHEMA = "yrd-lab-report/1"
#: The word that names the shipped example report (like `default` for the scenario).
EXAMPLE = "example"
_EXAMPLE_FILE = "lab_report_example.json"
_NAMES = {**REGION_OF_CODE, HUB_CODE: "HUB"}
_MAX_SAMPLES = 100_000  # the schema says at most 5000; refuse anything absurd outright


class LatencyReportError(ValueError):
    """A lab report that cannot be used: ``message`` says what is wrong, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or "check the file against the `links` section of LAB_REPORT_SCHEMA"

    def as_json(self) -> dict[str, str]:
        """The CLI's JSON error object."""
        return {"error": "BAD_LATENCY_REPORT", "message": self.message, "hint": self.hint}


@dataclasses.dataclass(frozen=True, slots=True)
class MeasuredLink:
    """One directed region-to-region link of the report, validated (times in ms)."""

    key: str  # as in the report, e.g. "310000->320000"
    link: str  # the simulator's name, e.g. "SH->JS"
    operation: str
    samples_ms: tuple[float, ...]  # possibly a subsample of the successful calls
    successes: int  # successful calls (the report's count)
    errors: int

    @property
    def error_rate(self) -> float:
        """Failed attempts over all attempts."""
        return self.errors / (self.errors + self.successes)

    def summary(self) -> dict[str, Any]:
        """Count, mean and quantiles in ms, and the error rate."""
        values = np.asarray(self.samples_ms, dtype=float)
        return {
            "operation": self.operation,
            "count": self.successes,
            "samples": len(values),
            "errors": self.errors,
            "error_rate": self.error_rate,
            "mean_ms": math.fsum(self.samples_ms) / len(values),
            **{f"p{q}_ms": float(np.percentile(values, q)) for q in (50, 90, 99)},
        }


@dataclasses.dataclass(frozen=True, slots=True)
class LatencyReport:
    """The usable part of a lab report: its source and the measured region links."""

    path: str
    sha256: str
    generated_at: str | None
    schema: str | None
    links: dict[str, MeasuredLink]  # by simulator link name
    ignored: dict[str, str]  # report key -> why it is not applied (hub link, no successes)

    def source(self) -> dict[str, Any]:
        """Provenance for run output."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "generated_at": self.generated_at,
            "schema": self.schema,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class LinkUse:
    """What one link of the scenario used: the measured or the assumed distribution."""

    link: str
    source: str  # "measured" or "assumed"
    mean_ms: float
    failure_prob: float
    measured: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class AppliedLatency:
    """The report applied to a scenario: which links were measured, which stayed assumed."""

    report: LatencyReport
    failure_from_report: bool
    links: tuple[LinkUse, ...]  # links the scenario's OD rows use, in canonical order
    unused: tuple[str, ...]  # measured links no OD row of the scenario uses

    @property
    def measured(self) -> tuple[str, ...]:
        """Used links that sample the report."""
        return tuple(u.link for u in self.links if u.source == "measured")

    @property
    def assumed(self) -> tuple[str, ...]:
        """Used links the report lacks: they keep the scenario's distribution."""
        return tuple(u.link for u in self.links if u.source == "assumed")

    def adjust(self, scenario: Scenario) -> Scenario:
        """Apply the same report the same way to another scenario (e.g. a sweep's points)."""
        return apply_measured(scenario, self.report, self.failure_from_report)[0]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record for summary.json."""
        return {
            "source": self.report.source(),
            "failure_from_report": self.failure_from_report,
            "measured": list(self.measured),
            "assumed": list(self.assumed),
            "unused": list(self.unused),
            "ignored": dict(self.report.ignored),
            "links": [u.as_dict() for u in self.links],
        }


def _no_constant(name: str) -> Any:
    raise LatencyReportError(f"JSON constant {name} is not allowed", "write finite numbers only")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise LatencyReportError(f"duplicate JSON member {name!r}", "give each key once")
        out[name] = value
    return out


def _count(entry: dict[str, Any], name: str, where: str) -> int | None:
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LatencyReportError(f"{where}.{name} must be a whole number >= 0, got {value!r}")
    return value


def _link(key: str, entry: Any) -> MeasuredLink:
    where = f"links[{key!r}]"
    if not isinstance(entry, dict):
        raise LatencyReportError(f"{where} must be an object, got {type(entry).__name__}")
    unit = entry.get("unit", "ms")
    if unit != "ms":
        raise LatencyReportError(
            f"{where}.unit is {unit!r}; the schema's samples_ms are milliseconds",
            'write "unit": "ms" with samples_ms in milliseconds',
        )
    operation = entry.get("operation")
    if not isinstance(operation, str) or not operation:
        raise LatencyReportError(
            f"{where}.operation must say what was timed", 'e.g. "echo" or "licence_leg"'
        )
    samples = entry.get("samples_ms")
    if not isinstance(samples, list) or not samples:
        raise LatencyReportError(
            f"{where}.samples_ms must be a non-empty list of round trips in ms",
            "a link without successful samples gives no latency distribution: write "
            '"count": 0 (it is then ignored) or leave it out; either keeps the assumed latency',
        )
    if len(samples) > _MAX_SAMPLES:
        raise LatencyReportError(f"{where}.samples_ms holds {len(samples)} values (> 100000)")
    values: list[float] = []
    for i, v in enumerate(samples):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise LatencyReportError(f"{where}.samples_ms[{i}] is not a number: {v!r}")
        try:
            x = float(v)
        except OverflowError:  # a JSON integer beyond any float
            x = math.inf
        if not math.isfinite(x) or x < 0:
            raise LatencyReportError(f"{where}.samples_ms[{i}] = {v!r}: must be finite and >= 0")
        values.append(x)
    # count may exceed the list: the lab keeps a uniform subsample of at most 5000 round trips.
    count = _count(entry, "count", where)
    if count is not None and count < len(values):
        raise LatencyReportError(
            f"{where}.count is {count} but samples_ms holds {len(values)} values",
            "count is the number of successful calls, at least the number of samples kept",
        )
    errors = _count(entry, "errors", where) or 0
    src, _, dst = key.partition("->")
    name = f"{_NAMES[src]}->{_NAMES[dst]}"
    return MeasuredLink(key, name, operation, tuple(values), count or len(values), errors)


def _no_successes(entry: Any) -> bool:
    """An explicit count of 0 with an empty sample list (not an error: a dead link)."""
    return (
        isinstance(entry, dict)
        and entry.get("samples_ms") == []
        and entry.get("count") == 0
        and not isinstance(entry.get("count"), bool)
    )


def parse_report(doc: Any, path: str = "<report>", sha256: str = "") -> LatencyReport:
    """Validate a decoded report's `links` section; LatencyReportError says what is wrong."""
    if not isinstance(doc, dict):
        raise LatencyReportError(f"{path}: a lab report is a JSON object")
    if "links" not in doc:
        raise LatencyReportError(
            f"{path}: no `links` section",
            "give the JSON report written by `yrd lab run` (it measures per-link latencies)",
        )
    schema = doc.get("schema")
    if schema is not None and schema != SCHEMA:
        raise LatencyReportError(
            f"{path}: schema is {schema!r}, this simulator reads {SCHEMA!r}",
            "regenerate the report with a `yrd lab run` of the same version",
        )
    links = doc["links"]
    if not isinstance(links, dict) or not links:
        raise LatencyReportError(f"{path}: `links` must be a non-empty object keyed 'FROM->TO'")
    known = sorted({*REGION_OF_CODE, HUB_CODE})
    measured: dict[str, MeasuredLink] = {}
    ignored: dict[str, str] = {}
    for key, entry in links.items():
        parts = key.split("->") if isinstance(key, str) else []
        if len(parts) != 2 or any(p not in known for p in parts) or parts[0] == parts[1]:
            raise LatencyReportError(
                f"{path}: link {key!r} is not 'FROM->TO' with two different region codes",
                f"region codes are {', '.join(known)} (100000 is the national hub)",
            )
        if _no_successes(entry):
            # The lab writes a link whose every probe failed (e.g. partitioned throughout) with
            # count 0 and no samples: nothing to sample, so the assumed latency stays.
            errors = entry.get("errors")
            ignored[key] = f"no successful samples (count 0, errors {errors!r})"
            continue
        try:
            link = _link(key, entry)
        except LatencyReportError as exc:
            raise LatencyReportError(f"{path}: {exc.message}", exc.hint) from None
        if HUB_CODE in parts:
            # Validated all the same: a malformed hub entry makes the whole report suspect.
            ignored[key] = "hub link: the model's hub step is face verification, not a round trip"
            continue
        measured[link.link] = link
    generated_at = doc.get("generated_at")
    return LatencyReport(
        path,
        sha256,
        generated_at if isinstance(generated_at, str) else None,
        schema,
        measured,
        ignored,
    )


def report_path(path: str | Path) -> Path:
    """The report file: a path, or the word `example` for the shipped lab report."""
    if str(path) == EXAMPLE:
        from importlib import resources

        return Path(str(resources.files("simulator.scenarios").joinpath(_EXAMPLE_FILE)))
    return Path(path)


def load_report(path: str | Path) -> LatencyReport:
    """Read and validate a lab report file (or `example`, see :func:`report_path`)."""
    p = report_path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise LatencyReportError(
            f"cannot read lab report {str(p)!r}: {exc.strerror or exc}",
            "give the path of a JSON report written by `yrd lab run --out`",
        ) from None
    try:
        doc = json.loads(data, object_pairs_hook=_unique, parse_constant=_no_constant)
    except LatencyReportError as exc:
        raise LatencyReportError(f"{p}: not JSON: {exc.message}", exc.hint) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise LatencyReportError(f"{p}: not JSON: {exc}", "give a JSON lab report") from None
    # Empirical distributions are cached by path: forget any earlier reading of this file.
    load_empirical.cache_clear()
    return parse_report(doc, str(p.resolve()), hashlib.sha256(data).hexdigest())


def _used_links(scenario: Scenario) -> list[tuple[str, str]]:
    codes = scenario.region_codes()
    return [(o, d) for o in codes for d in codes if d in scenario.region(o).od]


def _distribution(report: LatencyReport, measured: MeasuredLink) -> Distribution:
    """The link's empirical distribution, read back from the file and checked against the
    samples validated (and hashed) when the report was loaded."""
    changed = LatencyReportError(
        f"{report.path} changed since it was read (sha256 {report.sha256[:16]}...)",
        "run again, on a report file nothing writes to meanwhile",
    )
    field = f"links.{measured.key}"
    try:
        dist = Distribution(kind="empirical", path=report.path, field=field, unit="ms")
    except ValueError:
        raise changed from None
    _, minutes = load_empirical(report.path, field)
    expected = np.sort(np.asarray(measured.samples_ms, dtype=float)) * UNIT_MINUTES["ms"]
    # load_empirical pads the sorted values with the first and last once more.
    if minutes.size != expected.size + 2 or not np.array_equal(minutes[1:-1], expected):
        raise changed
    return dist


def apply_measured(
    scenario: Scenario, report: LatencyReport, failure_from_report: bool = False
) -> tuple[Scenario, AppliedLatency]:
    """The scenario with each measured link sampling the report; the rest keep their latency.

    A measured link keeps the scenario's timeout and retries (its own entry, else
    default_link); its failure_prob becomes the measured error rate only when asked.
    """
    materials = scenario.materials
    links = dict(materials.links)
    for name, measured in report.links.items():
        base = materials.links.get(name, materials.default_link)
        latency = _distribution(report, measured)
        update: dict[str, Any] = {"latency": latency}
        if failure_from_report:
            update["failure_prob"] = measured.error_rate
        links[name] = LinkSpec.model_validate({**base.model_dump(), **update})
    new_materials = materials.model_copy(update={"links": links})
    applied = scenario.model_copy(update={"materials": new_materials})
    used = _used_links(scenario)
    uses = []
    for o, d in used:
        name = f"{o}->{d}"
        spec = applied.materials.link(o, d)
        m = report.links.get(name)
        uses.append(
            LinkUse(
                name,
                "measured" if m else "assumed",
                spec.latency.mean_minutes() / UNIT_MINUTES["ms"],
                spec.failure_prob,
                m.summary() if m else None,
            )
        )
    used_names = {f"{o}->{d}" for o, d in used}
    unused = tuple(sorted(n for n in report.links if n not in used_names))
    return applied, AppliedLatency(report, failure_from_report, tuple(uses), unused)
