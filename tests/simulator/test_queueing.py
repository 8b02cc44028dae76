"""Exact queueing formulas against textbook values and invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.queueing import erlang_a, erlang_b, erlang_c, erlang_c_tail, erlang_c_wait, mmck


def test_erlang_b_table_values() -> None:
    # Standard Erlang B table entries.
    assert erlang_b(10, 5.0) == pytest.approx(0.018385, abs=1e-6)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)


def test_mm1_closed_forms() -> None:
    lam, mu = 0.7, 1.0
    assert erlang_c(1, lam, mu) == pytest.approx(0.7)
    assert erlang_c_wait(1, lam, mu) == pytest.approx(lam / (mu * (mu - lam)))
    assert erlang_c_tail(1, lam, mu, 2.0) == pytest.approx(0.7 * math.exp(-0.3 * 2.0))


def test_mm2_closed_form() -> None:
    lam, mu = 1.6, 1.0
    rho = lam / (2 * mu)
    assert erlang_c(2, lam, mu) == pytest.approx(2 * rho**2 / (1 + rho))


def test_erlang_c_textbook_call_centre() -> None:
    # 10 agents, 8 Erlangs offered: P(wait) ~ 40.9% (textbook staffing example).
    assert erlang_c(10, 8.0, 1.0) == pytest.approx(0.4092, abs=5e-4)


def test_erlang_c_stable_for_large_c() -> None:
    p = erlang_c(500, 490.0, 1.0)
    assert 0 < p < 1
    assert math.isfinite(erlang_c_wait(500, 490.0, 1.0))
    assert erlang_c(100, 120.0, 1.0) == 1.0
    assert erlang_c_wait(100, 120.0, 1.0) == math.inf


def test_mmck_mm11_is_erlang_b() -> None:
    res = mmck(3, 3, 2.0, 1.0)
    assert res.blocking == pytest.approx(erlang_b(3, 2.0))
    assert res.mean_wait == 0


def test_mmck_mm1k_closed_form() -> None:
    lam, mu, k = 0.8, 1.0, 5
    rho = lam / mu
    p_k = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    assert mmck(1, k, lam, mu).blocking == pytest.approx(p_k)


def test_erlang_a_reduces_to_erlang_c() -> None:
    c_wait = erlang_c_wait(5, 4.0, 1.0)
    assert erlang_a(5, 4.0, 1.0, 1e-7).mean_wait == pytest.approx(c_wait, rel=1e-3)
    assert erlang_a(5, 4.0, 1.0, 0.0).mean_wait == c_wait


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="servers"):
        erlang_c(0, 1.0, 1.0)
    with pytest.raises(ValueError, match="service_rate"):
        erlang_c(1, 1.0, 0.0)
    with pytest.raises(ValueError, match="capacity"):
        mmck(3, 2, 1.0, 1.0)


servers = st.integers(min_value=1, max_value=150)
load = st.floats(min_value=0.01, max_value=0.99)


@settings(max_examples=60, deadline=None)
@given(servers, load)
def test_wait_probability_in_unit_interval(c: int, rho: float) -> None:
    p = erlang_c(c, rho * c, 1.0)
    assert 0.0 <= p <= 1.0
    assert erlang_c_wait(c, rho * c, 1.0) >= 0


@settings(max_examples=60, deadline=None)
@given(servers, st.floats(min_value=0.1, max_value=50.0))
def test_more_servers_never_wait_longer(c: int, a: float) -> None:
    if a >= c:
        return
    assert erlang_c(c + 1, a, 1.0) <= erlang_c(c, a, 1.0) + 1e-12
    assert erlang_b(c + 1, a) <= erlang_b(c, a) + 1e-12


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=30), st.floats(min_value=0.1, max_value=0.9))
def test_mmck_tends_to_mmc(c: int, rho: float) -> None:
    lam = rho * c
    big = mmck(c, c + 2000, lam, 1.0)
    assert big.blocking < 1e-6
    assert big.mean_wait == pytest.approx(erlang_c_wait(c, lam, 1.0), rel=1e-4, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=1, max_value=40),
    st.floats(min_value=0.1, max_value=1.5),
    st.floats(min_value=0.01, max_value=5.0),
)
def test_erlang_a_invariants(c: int, rho: float, theta: float) -> None:
    res = erlang_a(c, rho * c, 1.0, theta)
    assert 0.0 <= res.abandonment <= 1.0
    assert 0.0 <= res.wait_probability <= 1.0
    # More patient applicants abandon less.
    assert erlang_a(c, rho * c, 1.0, theta / 2).abandonment <= res.abandonment + 1e-12
