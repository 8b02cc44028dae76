"""Lab-report latencies: the `links` parser, units, and runs that sample the measured links."""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.distributions import UNIT_MINUTES
from simulator.engine import simulate
from simulator.loading import build_scenario, default_scenario
from simulator.measured_latency import (
    LatencyReportError,
    apply_measured,
    load_report,
    parse_report,
)


def _entry(samples: list[Any], **extra: Any) -> dict[str, Any]:
    return {"operation": "echo", "unit": "ms", "errors": 0, "samples_ms": samples, **extra}


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


# ----------------------------------------------------------------------------- the parser

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=16), inner),
    max_leaves=20,
)
codes = st.sampled_from(["310000", "320000", "330000", "340000", "100000", "999999", "31"])
link_keys = st.builds(lambda a, b: f"{a}->{b}", codes, codes) | st.text(max_size=16)
entries = st.fixed_dictionaries(
    {},
    optional={
        "operation": st.sampled_from(["echo", "", 3]),
        "unit": st.sampled_from(["ms", "s", None]),
        "count": st.integers(-1, 4) | st.booleans(),
        "errors": st.integers(-1, 4) | st.text(max_size=2),
        "samples_ms": st.lists(
            st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 50) | st.text(),
            max_size=4,
        )
        | json_values,
    },
)
valid_entries = st.builds(_entry, st.lists(st.floats(0, 1e6), min_size=1, max_size=5))
reports = st.fixed_dictionaries(
    {},
    optional={
        "links": st.dictionaries(link_keys, valid_entries | entries | json_values, max_size=4)
        | json_values,
        "generated_at": json_values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=reports | json_values)
def test_parser_never_fails_with_anything_but_its_own_error(doc: Any) -> None:
    try:
        report = parse_report(doc)
    except LatencyReportError as exc:
        assert exc.message and exc.hint
        return
    for link in report.links.values():
        assert link.samples_ms and all(math.isfinite(x) and x >= 0 for x in link.samples_ms)
        assert 0 <= link.error_rate < 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_any_file_content_gives_the_documented_error_or_a_report(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("r") / "report.json"
    path.write_bytes(data)
    with pytest.raises(LatencyReportError):
        load_report(path)  # nothing this short holds a valid links section


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "a lab report is a JSON object"),
        ({"schema": "yrd-lab-report/1"}, "no `links` section"),
        ({"links": {}}, "non-empty object"),
        ({"links": {"310000->990000": _entry([1.0])}}, "two different region codes"),
        ({"links": {"310000->310000": _entry([1.0])}}, "two different region codes"),
        ({"links": {"SH->JS": _entry([1.0])}}, "two different region codes"),
        ({"links": {"310000->320000": _entry([])}}, "non-empty list"),
        ({"links": {"310000->320000": _entry([], count=3)}}, "non-empty list"),
        ({"links": {"310000->320000": _entry([1.0, -0.5])}}, "samples_ms[1] = -0.5"),
        ({"links": {"310000->320000": _entry([1.0, True])}}, "not a number"),
        ({"links": {"310000->320000": _entry([10**400])}}, "must be finite"),
        ({"schema": "yrd-lab-report/2", "links": {}}, "this simulator reads"),
        ({"links": {"310000->320000": _entry([1.0], unit="s")}}, "milliseconds"),
        ({"links": {"310000->320000": _entry([1.0, 2.0], count=1)}}, "count is 1"),
        ({"links": {"310000->320000": _entry([1.0], errors=-1)}}, "whole number"),
        ({"links": {"310000->320000": {"samples_ms": [1.0]}}}, "operation must say"),
        ({"links": {"100000->310000": _entry([])}}, "non-empty list"),
    ],
)
def test_invalid_sections_are_refused_with_a_precise_message(doc: Any, message: str) -> None:
    with pytest.raises(LatencyReportError, match=None) as info:
        parse_report(doc)
    assert message in info.value.message


@pytest.mark.parametrize(
    "text", ['{"links": {"310000->320000": {"operation": "echo", "samples_ms": [NaN]}}}', "{"]
)
def test_non_finite_constants_and_broken_json_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(LatencyReportError, match="not JSON"):
        load_report(path)


def test_duplicate_links_are_refused(tmp_path: Path) -> None:
    entry = json.dumps(_entry([1.0]))
    path = tmp_path / "r.json"
    path.write_text(f'{{"links": {{"310000->320000": {entry}, "310000->320000": {entry}}}}}')
    with pytest.raises(LatencyReportError, match="duplicate"):
        load_report(path)


def test_codes_map_to_regions_and_hub_links_are_ignored(tmp_path: Path) -> None:
    doc = {
        "generated_at": "2026-12-02T11:00:00+08:00",
        "links": {
            "340000->330000": _entry([2.0, 4.0], errors=2),
            "310000->100000": _entry([9.0]),
            "320000->310000": _entry([], count=0, errors=24),  # every probe failed
        },
    }
    path = _write(tmp_path / "r.json", doc)
    report = load_report(path)
    assert set(report.links) == {"AH->ZJ"}
    assert report.links["AH->ZJ"].error_rate == 0.5
    # count may exceed the samples kept (a subsample): the error rate uses the count.
    doc["links"]["340000->330000"]["count"] = 8
    assert load_report(_write(tmp_path / "s.json", doc)).links["AH->ZJ"].error_rate == 0.2
    assert set(report.ignored) == {"310000->100000", "320000->310000"}
    assert "no successful samples" in report.ignored["320000->310000"]
    assert report.generated_at == doc["generated_at"]
    assert report.sha256 == __import__("hashlib").sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- units


def test_milliseconds_become_scenario_minutes_and_other_link_settings_stay(tmp_path: Path) -> None:
    samples = [10.0, 20.0, 30.0, 40.0]
    report = load_report(
        _write(tmp_path / "r.json", {"links": {"310000->320000": _entry(samples)}})
    )
    base = default_scenario(
        ["materials.default_link.timeout_s=7", "materials.default_link.retries=3"]
    )
    sc, applied = apply_measured(base, report)
    link = sc.materials.link("SH", "JS")
    # Minutes: 25 ms mean is 25 / 60000 min; the 0.5 quantile sits between 20 and 30 ms.
    assert link.latency.mean_minutes() == pytest.approx(25.0 * UNIT_MINUTES["ms"], rel=1e-3)
    median = float(link.latency.ppf_minutes(np.array([0.5]))[0]) / UNIT_MINUTES["ms"]
    assert 20.0 <= median <= 30.0
    assert (link.timeout_s, link.retries, link.failure_prob) == (
        7.0,
        3,
        base.materials.default_link.failure_prob,
    )
    assert sc.materials.link("SH", "ZJ") == base.materials.default_link
    assert applied.measured == ("SH->JS",)
    assert "SH->ZJ" in applied.assumed and "SH->JS" not in applied.assumed
    failing = apply_measured(
        base,
        load_report(
            _write(tmp_path / "e.json", {"links": {"310000->320000": _entry(samples, errors=1)}})
        ),
        True,
    )[0]
    assert failing.materials.link("SH", "JS").failure_prob == pytest.approx(1 / 5)


# ----------------------------------------------------------------------------- the model


def _latency_only_scenario() -> dict[str, Any]:
    """SH sends every case to JS; nothing but one licence fetch takes time (clerks never queue)."""
    always = {"open": "00:00", "close": "24:00", "days": [0, 1, 2, 3, 4, 5, 6]}
    staff = {"shifts": [{"start": "00:00", "end": "24:00", "staff": 50}], "days": always["days"]}
    zero = {"kind": "constant", "value": 0}
    return {
        "name": "latency-only",
        "regions": {
            "SH": {
                "arrivals": {"cross_per_hour": 6.0},
                "od": {"JS": 1.0},
                "calendar": always,
                "clerks": staff,
            },
            "JS": {"calendar": always, "reviewers": staff},
        },
        "hub": {"latency": zero, "failure_prob": 0.0},
        "materials": {
            "licences_per_case": 1,
            "default_link": {
                "latency": {"kind": "constant", "value": 10, "unit": "s"},
                "failure_prob": 0.0,
                "timeout_s": 600,
                "retries": 0,
            },
        },
        "case": {
            "formal_share": 1.0,
            "intake": zero,
            "session": zero,
            "decision": {"approve": 1.0, "return": 0.0, "reject": 0.0},
        },
        "run": {"horizon_days": 20, "seed": 7},
    }


def test_a_run_samples_the_measured_distribution(tmp_path: Path) -> None:
    rng = random.Random(12)
    # A skewed, two-mode sample in ms (15-60 s): far from the assumed constant 10 s.
    samples = [round(rng.lognormvariate(9.8, 0.3), 3) for _ in range(300)]
    samples += [round(rng.uniform(45_000, 60_000), 3) for _ in range(100)]
    doc = {"links": {"310000->320000": _entry(samples), "320000->310000": _entry([1.0])}}
    report = load_report(_write(tmp_path / "r.json", doc))
    base = build_scenario(_latency_only_scenario())
    assumed = simulate(base, 0, "simpy").data["total"]["sojourn"]
    assert assumed["mean"] == pytest.approx(10 / 60)  # the assumed constant, exactly
    sc, applied = apply_measured(base, report)
    assert applied.measured == ("SH->JS",) and applied.unused == ("JS->SH",)
    got = simulate(sc, 0, "simpy").data["total"]["sojourn"]
    # Each case's time in system is one draw of the link latency: its mean must match the
    # sample mean within the standard error of `count` draws from the sample (5 sigma).
    mean_min = statistics.fmean(samples) * UNIT_MINUTES["ms"]
    se_min = statistics.stdev(samples) * UNIT_MINUTES["ms"] / math.sqrt(got["count"])
    assert got["count"] > 1000
    assert abs(got["mean"] - mean_min) < 5 * se_min
    sd_min = statistics.pstdev(samples) * UNIT_MINUTES["ms"]
    assert got["sd"] == pytest.approx(sd_min, rel=0.15)
    assert min(samples) * UNIT_MINUTES["ms"] - 1e-12 <= got["min"]
    assert got["max"] <= max(samples) * UNIT_MINUTES["ms"] + 1e-12


def test_a_report_changed_after_loading_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.json", {"links": {"310000->320000": _entry([1.0, 2.0])}})
    report = load_report(path)
    _write(path, {"links": {"310000->320000": _entry([1.0, 3.0])}})
    with pytest.raises(LatencyReportError, match="changed since it was read"):
        apply_measured(default_scenario(), report)
    path.unlink()
    with pytest.raises(LatencyReportError, match="changed since it was read"):
        apply_measured(default_scenario(), report)


def test_every_sweep_point_samples_the_measured_link(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from simulator.cli import sim

    samples = [float(x) for x in range(20_000, 40_001, 500)]  # 20-40 s, mean 30 s
    report = _write(tmp_path / "r.json", {"links": {"310000->320000": _entry(samples)}})
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(_latency_only_scenario()))  # JSON is YAML
    args = ["sweep", str(scenario), "--grid", "run.seed=1,2", "-n", "1", "--workers", "1"]
    args += ["--metric", "total.sojourn.mean", "--metric", "total.sojourn.count"]
    out = CliRunner().invoke(sim, [*args, "--no-progress", "--latency-from", str(report)])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    mean_min = statistics.fmean(samples) * UNIT_MINUTES["ms"]
    sd_min = statistics.stdev(samples) * UNIT_MINUTES["ms"]
    assert [row["run.seed"] for row in rows] == ["1", "2"]
    for row in rows:
        n = row["total.sojourn.count.mean"]
        assert abs(row["total.sojourn.mean.mean"] - mean_min) < 5 * sd_min / math.sqrt(n)
