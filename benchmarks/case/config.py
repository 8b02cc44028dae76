"""Who does what in the case benchmark, the service item and quotas it uses, and its options."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.harness import (
    RunDefaults,
    RunOptions,
    bench_log,
    new_parser,
    parse_run_options,
)

# the cast (the window's echo is the baseline), shared with `yrd lab run`
from nodes.fixtures.case_cast import CARD_HOLDER as CARD_HOLDER
from nodes.fixtures.case_cast import FACE_RATE_PER_S as FACE_RATE_PER_S
from nodes.fixtures.case_cast import HOME as HOME
from nodes.fixtures.case_cast import ITEM as ITEM
from nodes.fixtures.case_cast import OWNER as OWNER
from nodes.fixtures.case_cast import WINDOW as WINDOW

BENCHMARK = "case_bench"
DESCRIPTION = (
    "Case benchmark: end-to-end remote-virtual-window cases with an automatic reviewer vs an echo."
)
REVIEWER = "JS-AMR-auto-reviewer"
ECHO, CASE = "echo", "case"
STEPS = ("submit", "start_review", "approve")
# client-visible RPCs: SubmitCase at the window, two DecideCase at the owner; inside the submit
# the window forwards to the owner (1 hop) and the owner reads the identity card (1 hop)
RPC_HOPS_PER_CASE = 5
CASE_P50_LIMIT = 8.0  # issue 11 item 2: a case end to end (one in flight) within 8 echo p50s
FACE_ASSERTION_S = 300  # an assertion's lifetime: a phase must use its assertions within it
FACE_DAILY_LIMIT = 10_000  # the window region's daily face quota at the hub (default config)
CALL_TIMEOUT_S = 30.0

RUN = RunDefaults(
    concurrency=4, open_workers=16, requests=(16, 200), warmup=(2, 10), warmup_unit="warm-up cases"
)

log = bench_log(BENCHMARK)


@dataclass(frozen=True)
class Options(RunOptions):
    """What to measure, parsed from the command line."""

    applicants: int


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = new_parser(
        DESCRIPTION,
        requests_help="cases per phase (closed c1, closed cN, open loop), split over the rounds "
        "(200)",
        rate_help="open-loop cases per second (default: 0.5 x case throughput at --concurrency, "
        "measured in the same run)",
    )
    p.add_argument("--applicants", type=int, default=4, help="distinct applicants (4)")
    a, shared = parse_run_options(p, argv, RUN)
    if a.applicants < 1:
        p.error("need --applicants >= 1")
    if shared["warmup"] + 3 * shared["requests"] + a.applicants >= FACE_DAILY_LIMIT:
        p.error(f"every case takes one face check of {WINDOW.short}'s daily {FACE_DAILY_LIMIT}")
    return Options(**shared, applicants=a.applicants)
