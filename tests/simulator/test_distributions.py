"""Parametric and empirical distributions, sampled by inversion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simulator.distributions import Distribution, load_empirical
from simulator.loading import default_scenario
from simulator.scenario import ScenarioError
from simulator.streams import Streams

U = (np.arange(200_000) + 0.5) / 200_000


@pytest.mark.parametrize(
    ("spec", "mean_min"),
    [
        ({"kind": "constant", "value": 3}, 3.0),
        ({"kind": "exponential", "mean": 2}, 2.0),
        ({"kind": "lognormal", "mean": 9.5, "cv": 0.8}, 9.5),
        ({"kind": "lognormal", "mean": 20, "sd": 12}, 20.0),
        ({"kind": "gamma", "mean": 4, "cv": 0.5}, 4.0),
        ({"kind": "uniform", "low": 1, "high": 3, "unit": "d"}, 2 * 1440.0),
        ({"kind": "triangular", "low": 0, "mode": 1, "high": 5}, 2.0),
        ({"kind": "constant", "value": 15, "unit": "s"}, 0.25),
    ],
)
def test_quantile_function_has_the_stated_mean(spec: dict[str, object], mean_min: float) -> None:
    dist = Distribution.model_validate(spec)
    assert float(np.mean(dist.ppf_minutes(U))) == pytest.approx(mean_min, rel=0.01)
    assert dist.mean_minutes() == pytest.approx(mean_min, rel=0.01)


def test_empirical_samples_and_percentiles(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text(
        json.dumps(
            {
                "exchange": {"samples_ms": [10, 20, 30, 40]},
                "face": {"percentiles_ms": {"p50": 100, "p90": 200, "p99": 400, "max": 500}},
            }
        )
    )
    probs, values = load_empirical(str(path), "exchange")
    assert values.min() * 60_000 == pytest.approx(10)
    assert values.max() * 60_000 == pytest.approx(40)
    d = Distribution(kind="empirical", path=str(path), field="face")
    q = d.ppf_minutes(np.array([0.5, 0.9, 1.0])) * 60_000
    assert q.tolist() == pytest.approx([100, 200, 500])
    assert probs[0] == 0 and probs[-1] == 1


def test_empirical_problems_fail_at_validation(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"p50": 3}))
    with pytest.raises(ValueError, match="samples_ms"):
        Distribution(kind="empirical", path=str(path))
    with pytest.raises(ScenarioError, match=r"materials\.default_link\.latency"):
        default_scenario(
            [
                "materials.default_link.latency.kind=empirical",
                f"materials.default_link.latency.path={tmp_path / 'missing.json'}",
                "materials.default_link.latency.mean=null",
                "materials.default_link.latency.sd=null",
                "materials.default_link.latency.unit=ms",
            ]
        )


def test_empirical_latency_feeds_a_scenario(tmp_path: Path) -> None:
    path = tmp_path / "exchange.json"
    path.write_text(json.dumps({"samples_ms": list(range(5, 50))}))
    sc = default_scenario(
        [
            f"materials.default_link.latency={{kind: empirical, path: {path}}}",
            "run.horizon_days=1",
        ]
    )
    assert sc.materials.default_link.latency.kind == "empirical"


def test_streams_are_independent_per_source_and_reproducible() -> None:
    a = Streams(1).sampler("service", Distribution(kind="exponential", mean=1))
    b = Streams(1).sampler("service", Distribution(kind="exponential", mean=1))
    c = Streams(1).sampler("patience", Distribution(kind="exponential", mean=1))
    xs = [a() for _ in range(5000)]
    assert xs == [b() for _ in range(5000)]
    assert xs[:10] != [c() for _ in range(10)]
    # A different distribution on the same source keeps the same uniforms (monotone coupling).
    d = Streams(1).sampler("service", Distribution(kind="exponential", mean=2))
    assert [d() for _ in range(10)] == pytest.approx([2 * x for x in xs[:10]])
    other_rep = Streams(1, replication=1).sampler(
        "service", Distribution(kind="exponential", mean=1)
    )
    assert other_rep() != xs[0]
