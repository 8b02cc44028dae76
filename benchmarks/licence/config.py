"""Who does what in the licence benchmark, its targets' names and limits, and its options."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.harness import (
    RunDefaults,
    RunOptions,
    bench_log,
    new_parser,
    parse_run_options,
    sized,
)
from federation.regions import Region

# the cast (VERIFIER's echo is the verification baseline), shared with `yrd lab run`
from nodes.fixtures.licence_cast import AGGREGATOR as AGGREGATOR
from nodes.fixtures.licence_cast import HOME as HOME
from nodes.fixtures.licence_cast import ISSUER as ISSUER
from nodes.fixtures.licence_cast import VERIFIER as VERIFIER

BENCHMARK = "licence_bench"
DESCRIPTION = (
    "Licence benchmark: local and cross-region licence verification, and 4-region aggregation."
)
PEERS = (Region.JS, Region.SH, Region.ZJ)  # AGGREGATOR's fan-out targets
ECHO, VERIFY = "echo", "verify_licence"
ECHO_AGG, HOP, AGG, RELAY = "echo_ah", "single_hop", "aggregate", "relayed_read"
LEGS = "three_hops_at_once"  # the fan-out's legs sent together by the client: a floor, not a target
RELAY_ITEM = "YRD-GA-0001"  # 异地换领驾驶证: a service item whose policy lets AH read a JS licence
VERIFY_P50_LIMIT = 1.5  # issue 3 item 11: cross-region verification p50 <= 1.5 x echo p50
AGG_P50_LIMIT = 2.0  # ...and aggregation p50 <= 2 x one cross-region call (fan-out is parallel)
CALL_TIMEOUT_S = 10.0

RUN = RunDefaults(concurrency=8, open_workers=32, requests=(200, 2000), warmup=(30, 300))

log = bench_log(BENCHMARK)


@dataclass(frozen=True)
class Options(RunOptions):
    """What to measure, parsed from the command line."""

    local_requests: int
    licences: int
    first_licences: int


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = new_parser(
        DESCRIPTION,
        requests_help="requests per target per phase, split over the rounds (default 2000)",
        rate_help="open-loop verifications per second (default: 0.5 x verification throughput "
        "at --concurrency, measured in the same run)",
    )
    p.add_argument(
        "--local-requests",
        type=int,
        default=None,
        help="local (in-process, no network) verifications, single thread (5000)",
    )
    p.add_argument(
        "--licences",
        type=int,
        default=None,
        help="distinct JS-issued licences verified in rotation (32)",
    )
    p.add_argument(
        "--first-licences",
        type=int,
        default=None,
        help="new licences each verified once over gRPC: the slow path beside the kept one (200)",
    )
    a, shared = parse_run_options(p, argv, RUN)
    local = sized(a.local_requests, a.quick, 500, 5000)
    licences = sized(a.licences, a.quick, 8, 32)
    first = sized(a.first_licences, a.quick, 40, 200)
    if local < 1 or licences < 2 or first < 1:
        p.error("need --local-requests >= 1, --licences >= 2 and --first-licences >= 1")
    return Options(**shared, local_requests=local, licences=licences, first_licences=first)
