"""The `sim` commands: every option documented, mmc counts served customers, validate sizes."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import sim
from simulator.validation import CASES, kernel_sizes, run_validation


def _mmc(*args: str) -> dict[str, object]:
    res = CliRunner().invoke(sim, ["mmc", *args])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1
    doc: dict[str, object] = json.loads(lines[0])
    return doc


@pytest.mark.parametrize("name", sorted(sim.commands))
def test_every_option_of_every_command_has_help(name: str) -> None:
    command = sim.commands[name]
    undocumented = [
        p.name for p in command.params if isinstance(p, click.Option) and not (p.help or "").strip()
    ]
    assert undocumented == []
    assert (command.help or "").strip()
    out = CliRunner().invoke(sim, [name, "--help"])
    assert out.exit_code == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    servers=st.integers(1, 6),
    load=st.floats(0.3, 0.95),
    customers=st.integers(1, 600),
    warmup=st.integers(0, 300),
    seed=st.integers(0, 2**20),
    kernel=st.sampled_from(["auto", "simpy"]),
)
def test_mmc_serves_exactly_the_customers_asked_after_warmup(
    servers: int, load: float, customers: int, warmup: int, seed: int, kernel: str
) -> None:
    doc = _mmc(
        "--servers", str(servers),
        "--arrival-rate", str(load * servers),
        "--service-rate", "1",
        "--customers", str(customers),
        "--warmup", str(warmup),
        "--seed", str(seed),
        "--kernel", kernel,
    )  # fmt: skip
    assert doc["served"] == customers
    assert doc["arrivals"] == customers + warmup
    assert doc["kernel"] == ("fast" if kernel == "auto" else "simpy")
    assert isinstance(doc["mean_wait"], float) and doc["mean_wait"] >= 0


def test_mmc_json_line_names_what_it_measured() -> None:
    doc = _mmc(
        "-c", "4", "--arrival-rate", "3", "--service-rate", "1",
        "--customers", "20000", "--warmup", "2000", "--seed", "1",
    )  # fmt: skip
    assert set(doc) == {"mean_wait", "served", "arrivals", "kernel", "wall_s", "erlang_c_wait"}
    assert doc["served"] == 20_000 and doc["arrivals"] == 22_000
    assert doc["mean_wait"] == pytest.approx(doc["erlang_c_wait"], rel=0.2)


def test_validation_knows_how_many_customers_each_kernel_ran() -> None:
    checks = run_validation(2, 1000, ("auto", "simpy"), cases=CASES[:2])
    sizes = kernel_sizes(checks)
    assert sizes["fast"] == {"customers": 1000, "warmup": 100, "total": 2 * 2 * 1000}
    assert sizes["simpy"] == {"customers": 1000, "warmup": 100, "total": 2 * 2 * 1000}
    assert {c.customers for c in checks if c.kernel == "fast"} == {1000}


def test_cli_validate_prints_customers_per_kernel() -> None:
    res = CliRunner().invoke(sim, ["validate", "-n", "2", "--customers", "4000"])
    assert "kernel fast: 4,000 customers per replication (the first 400 warm-up)" in res.output
    assert "kernel simpy: 1,000 customers per replication (the first 100 warm-up)" in res.output
    assert f"{len(CASES) * 2 * 4000:,} customers in all" in res.output
