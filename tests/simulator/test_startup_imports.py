"""What `yrd --help` and `yrd sim ...` import: no grpc, and heavy libraries only where needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs the `yrd` root in a fresh interpreter, then writes the loaded module names to stderr.
PROBE = """
import json, sys
from nodes.cli import root
try:
    root.main(sys.argv[1:], prog_name="yrd")
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""

MMC = ["sim", "mmc", "-c", "2", "--arrival-rate", "1", "--service-rate", "1"]
MMC += ["--customers", "200", "--seed", "1"]


def loaded_packages(*args: str) -> set[str]:
    """Top-level packages (and scipy.stats) imported by `yrd ARGS...`."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    line = done.stderr.rsplit("MODULES ", 1)[1]
    modules: list[str] = json.loads(line)
    return {m.split(".")[0] for m in modules} | {m for m in modules if m == "scipy.stats"}


HEAVY = {"grpc", "google", "scipy", "matplotlib", "distributed", "dask", "tqdm"}


def test_root_help_imports_no_subcommand_library() -> None:
    loaded = loaded_packages("--help")
    assert loaded.isdisjoint(
        {*HEAVY, "simulator", "federation", "numpy", "pydantic", "simpy", "yaml"}
    ), loaded


@pytest.mark.parametrize("args", [["sim", "--help"], ["sim", "mmc", "--help"]])
def test_sim_help_imports_only_click(args: list[str]) -> None:
    loaded = loaded_packages(*args)
    assert "simulator" in loaded
    assert loaded.isdisjoint({*HEAVY, "numpy", "pydantic", "simpy", "yaml"}), loaded


def test_small_mmc_on_the_fast_kernel_needs_neither_simpy_nor_scipy() -> None:
    loaded = loaded_packages(*MMC)
    assert {"numpy", "pydantic"} <= loaded
    assert loaded.isdisjoint({*HEAVY, "simpy", "yaml"}), loaded


def test_small_mmc_on_the_simpy_kernel_imports_simpy_but_no_grpc_or_scipy() -> None:
    loaded = loaded_packages(*MMC, "--kernel", "simpy")
    assert "simpy" in loaded
    assert loaded.isdisjoint(HEAVY), loaded


def test_sim_run_without_plots_imports_no_grpc_matplotlib_or_scipy_stats() -> None:
    loaded = loaded_packages(
        "sim", "run", "default", "--set", "run.horizon_days=1", "--no-plots", "-n", "2"
    )
    assert "simulator" in loaded
    assert loaded.isdisjoint({"grpc", "google", "matplotlib", "distributed", "scipy.stats"}), loaded


def test_sim_run_with_measured_latency_imports_no_grpc_matplotlib_or_scipy_stats() -> None:
    loaded = loaded_packages(
        "sim",
        "run",
        "default",
        "--set",
        "run.horizon_days=1",
        "--no-plots",
        "--latency-from",
        "example",
    )
    assert loaded.isdisjoint({"grpc", "google", "matplotlib", "distributed", "scipy.stats"}), loaded
