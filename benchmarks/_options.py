"""The command-line options every node benchmark shares, and how a report describes them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

AUTO_RATE_FRACTION = 0.5  # open-loop default: this share of the target's closed-loop capacity
ROUNDS_HELP = "ABBA rounds per closed- or open-loop phase: A B B A ... over its targets (2)"


OBSERVABILITY = ("on", "off", "traces")


@dataclass(frozen=True)
class RunOptions:
    """How much to measure and how: the options every node benchmark shares."""

    requests: int
    concurrency: int
    rate: float | None
    rounds: int
    warmup: int
    open_workers: int
    arrivals: str
    sample_limit: int
    quick: bool
    out: Path | None
    parent: Path | None
    observability: str

    @property
    def closed_cn(self) -> str:
        """The name of the closed-loop phase at --concurrency, e.g. closed_c8."""
        return f"closed_c{self.concurrency}"

    def auto_rate(self, capacity: float, floor: float, digits: int) -> float:
        """--rate, or AUTO_RATE_FRACTION of a closed-loop throughput measured in this run."""
        return self.rate or max(floor, round(AUTO_RATE_FRACTION * capacity, digits))

    def rate_source(self, measured: str) -> str:
        """Where the open-loop rate came from, for the report's setup."""
        if self.rate:
            return "--rate"
        fraction = AUTO_RATE_FRACTION
        return f"auto: {fraction} x {measured} throughput at concurrency {self.concurrency}"

    def to_dict(self) -> dict[str, Any]:
        """Every option for the report's setup (paths as strings)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def new_parser(description: str, *, requests_help: str, rate_help: str) -> argparse.ArgumentParser:
    """A benchmark's parser with its --requests and --rate (it adds its own, then the shared)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--requests", type=int, default=None, help=requests_help)
    p.add_argument("--rate", type=float, default=None, help=rate_help)
    return p


@dataclass(frozen=True)
class RunDefaults:
    """A benchmark's defaults for the shared options: sizes are (--quick, full run)."""

    concurrency: int
    open_workers: int
    requests: tuple[int, int]
    warmup: tuple[int, int]
    warmup_unit: str = "calls per target"


def add_run_options(p: argparse.ArgumentParser, defaults: RunDefaults) -> None:
    """The options every node benchmark shares (each adds its own --requests and --rate)."""
    concurrency, open_workers = defaults.concurrency, defaults.open_workers
    p.add_argument(
        "--concurrency",
        type=int,
        default=concurrency,
        help=f"closed-loop concurrency ({concurrency})",
    )
    p.add_argument("--rounds", type=int, default=2, help=ROUNDS_HELP)
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help=f"unrecorded {defaults.warmup_unit} ({defaults.warmup[1]})",
    )
    p.add_argument(
        "--open-workers",
        type=int,
        default=open_workers,
        help=f"client threads available to the open-loop schedule ({open_workers})",
    )
    p.add_argument("--arrivals", choices=("uniform", "poisson"), default="uniform")
    p.add_argument(
        "--samples",
        type=int,
        default=2000,
        help="latency samples per target kept in latency_samples_ms (2000)",
    )
    p.add_argument("--quick", action="store_true", help="a small, fast run (smoke tests)")
    p.add_argument(
        "--observability",
        choices=OBSERVABILITY,
        default="on",
        help="the nodes' metrics endpoint and access log: on (as provisioned), off, or on "
        "with span files too (traces); compare runs to see what observing costs (default on)",
    )
    p.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    p.add_argument(
        "--tmp-parent",
        type=Path,
        default=None,
        help="create the temporary federation under this directory (e.g. /dev/shm to keep the "
        "disk's fsync stalls out of the figures); default: the system temporary directory",
    )


def check_run_options(
    p: argparse.ArgumentParser, a: argparse.Namespace, requests: int, warmup: int
) -> None:
    """Refuse run sizes no phase can honour (argparse exits with the message)."""
    if requests < a.rounds or a.concurrency < 1 or a.rounds < 1 or warmup < 0:
        p.error("need --requests >= --rounds >= 1, --concurrency >= 1 and --warmup >= 0")
    if a.rate is not None and a.rate <= 0:
        p.error("--rate must be positive")


def sized(value: int | None, quick: bool, quick_default: int, default: int) -> int:
    """An option's value if given, else its default for a --quick or a full run."""
    if value is not None:
        return value
    return quick_default if quick else default


def parse_run_options(
    p: argparse.ArgumentParser, argv: Sequence[str] | None, defaults: RunDefaults
) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Add the shared options, parse, and return the namespace with the shared RunOptions
    fields (sizes defaulted for --quick or a full run, and checked)."""
    add_run_options(p, defaults)
    a = p.parse_args(argv)
    requests = sized(a.requests, a.quick, *defaults.requests)
    warmup = sized(a.warmup, a.quick, *defaults.warmup)
    check_run_options(p, a, requests, warmup)
    return a, {
        "requests": requests,
        "concurrency": a.concurrency,
        "rate": a.rate,
        "rounds": a.rounds,
        "warmup": warmup,
        "open_workers": a.open_workers,
        "arrivals": a.arrivals,
        "sample_limit": a.samples,
        "quick": a.quick,
        "out": a.out,
        "parent": a.tmp_parent,
        "observability": a.observability,
    }
