"""Bounded streaming summaries, MSER-5, confidence intervals, precision and CRN."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.loading import mmc_scenario
from simulator.records import BatchMeans, Summary, TimeWeighted
from simulator.statistics import (
    compare,
    confidence_interval,
    estimate_warmup,
    mser5,
    run_until_precision,
    with_warmup,
)


def test_summary_quantiles_close_to_numpy() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(1.0, 1.0, 50_000)
    x[:5000] = 0.0
    s = Summary((1.0, 5.0))
    for v in x.tolist():
        s.add(v)
    d = s.to_dict()
    assert d["count"] == x.size
    assert d["mean"] == pytest.approx(x.mean())
    for q in (0.5, 0.9, 0.95, 0.99):
        assert d[f"p{round(q * 100)}"] == pytest.approx(np.quantile(x, q), rel=0.05)
    assert d["le"]["1"] == pytest.approx(np.mean(x <= 1.0))
    assert s.quantile(0.05) == 0.0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e5), min_size=1, max_size=300))
def test_summary_merge_equals_one_pass(values: list[float]) -> None:
    one, a, b = Summary((3.0,)), Summary((3.0,)), Summary((3.0,))
    for v in values:
        one.add(v)
    half = len(values) // 2
    for v in values[:half]:
        a.add(v)
    for v in values[half:]:
        b.add(v)
    a.merge(b)
    one.flush()
    assert a.n == one.n and a.le_counts == one.le_counts
    assert a.quantile(0.9) == pytest.approx(one.quantile(0.9))
    assert one.lo <= one.quantile(0.5) <= one.hi


def test_memory_is_bounded() -> None:
    tw = TimeWeighted(0.0, width=1.0, max_points=64)
    for t in range(100_000):
        tw.set(float(t), float(t % 7))
    assert tw.series is not None and len(tw.series) < 64
    assert tw.mean(100_000.0) == pytest.approx(3.0, rel=0.01)
    bm = BatchMeans(max_points=64)
    bm.add_many(list(range(50_000)), [1.0] * 50_000)
    assert len(bm.means) < 64 and all(m == 1.0 for m in bm.means)
    s = Summary()
    s.add_many(np.ones(1_000_000))
    assert s.counts.size < 1000


def test_confidence_interval_matches_t_table() -> None:
    est = confidence_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    # t_{0.975,4} = 2.776
    assert est.half_width == pytest.approx(2.776 * math.sqrt(2.5) / math.sqrt(5), rel=1e-3)
    assert est.contains(3.0) and not est.contains(6.0)
    assert confidence_interval([2.0]).half_width == math.inf


def test_mser5_finds_an_initial_transient() -> None:
    rng = np.random.default_rng(3)
    series = np.concatenate([np.linspace(50, 10, 40), 10 + rng.normal(0, 1, 400)])
    cut = mser5(series.tolist())
    assert 25 * 5 <= cut <= 60 * 5
    assert mser5((10 + rng.normal(0, 1, 400)).tolist()) < 50 * 5


def test_mser_warmup_and_precision_loop() -> None:
    sc = mmc_scenario(2, 1.8, 1.0, 20_000, seed=4)
    warm = estimate_warmup(sc, pilots=2)
    assert 0 <= warm < 10_000
    assert with_warmup(sc, warm).run.warmup_arrivals == int(warm)
    runs, est = run_until_precision(sc, "total.wait.mean", 0.05, 3, 40)
    assert est.relative_precision <= 0.05 or len(runs) == 40
    assert est.n == len(runs)


def test_common_random_numbers_shrink_the_comparison_interval() -> None:
    base = mmc_scenario(3, 2.4, 1.0, 5_000, 500, seed=9)
    more = mmc_scenario(4, 2.4, 1.0, 5_000, 500, seed=9)
    paired = compare(base, more, "total.wait.mean", 6)
    assert paired.high < 0  # one more clerk: shorter waits, clearly
    other = mmc_scenario(4, 2.4, 1.0, 5_000, 500, seed=10)
    with pytest.raises(ValueError, match=r"same run\.seed"):
        compare(base, other, "total.wait.mean", 2)
