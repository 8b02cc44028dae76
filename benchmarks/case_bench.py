"""Case benchmark: end-to-end remote-virtual-window cases with an automatic reviewer vs an echo."""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._federation import (
    ProcessesCpu,
    TokenMinter,
    echo_call,
    token_claims,
    wait_until_ok,
)
from benchmarks.harness import (
    Call,
    LatencyRecorder,
    LoadResult,
    PhaseComparison,
    Supply,
    add_run_options,
    check_run_options,
    compare,
    finish,
    load_warnings,
    ratios,
    run_closed_loop,
    run_open_loop,
    temporary_federation,
    warm_up,
)
from federation.codes import make_citizen_id, make_credit_code
from federation.errors import ResourceExhausted
from federation.identity.assurance import Assurance
from federation.regions import Region
from nodes.client import FederationClient
from nodes.client.cases import material
from nodes.pb.v1 import case_pb2, case_pb2_grpc

WINDOW = Region.SH  # the window region where the applicant submits; its echo is the baseline
OWNER = Region.JS  # owns the item, validates the materials, decides and issues the result
CARD_HOLDER = Region.AH  # holds the applicants' identity cards (the cross-region read)
HOME = Region.ZJ  # where the applicants are registered and log in (substantial, with face)
ITEM = "YRD-JS-QY-0101"  # 企业变更登记: face required, substantial, business licence + id card
WINDOW_ID = "SH-PD-BENCH"
REVIEWER = "JS-AMR-auto-reviewer"
ECHO, CASE = "echo", "case"
STEPS = ("submit", "start_review", "approve")
# client-visible RPCs: SubmitCase at the window, two DecideCase at the owner; inside the submit
# the window forwards to the owner (1 hop) and the owner reads the identity card (1 hop)
RPC_HOPS_PER_CASE = 5
AUTO_RATE_FRACTION = 0.5  # open-loop default: this share of the closed-loop case throughput
FACE_RATE_PER_S = 40.0  # pace of the set-up face checks: below the hub's 50/s (burst 100) quota
FACE_ASSERTION_S = 300  # an assertion's lifetime: a phase must use its assertions within it
FACE_DAILY_LIMIT = 10_000  # the window region's daily face quota at the hub (default config)
CALL_TIMEOUT_S = 30.0
PASSWORD = "Huangshan-peak-90"


@dataclass(frozen=True)
class Options:
    """What to measure, parsed from the command line."""

    requests: int
    concurrency: int
    rate: float | None
    rounds: int
    warmup: int
    open_workers: int
    arrivals: str
    applicants: int
    sample_limit: int
    quick: bool
    out: Path | None
    parent: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--requests",
        type=int,
        default=None,
        help="cases per phase (closed c1, closed cN, open loop), split over the rounds (200)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open-loop cases per second (default: 0.5 x case throughput at --concurrency, "
        "measured in the same run)",
    )
    p.add_argument("--applicants", type=int, default=4, help="distinct applicants (4)")
    add_run_options(
        p,
        concurrency=4,
        open_workers=16,
        rounds_help="ABBA rounds per phase (2)",
        warmup_help="unrecorded warm-up cases (10)",
    )
    a = p.parse_args(argv)
    requests = a.requests if a.requests is not None else (16 if a.quick else 200)
    warmup = a.warmup if a.warmup is not None else (2 if a.quick else 10)
    check_run_options(p, a, requests, warmup)
    if a.applicants < 1:
        p.error("need --applicants >= 1")
    if warmup + 3 * requests + a.applicants >= FACE_DAILY_LIMIT:
        p.error(f"every case takes one face check of {WINDOW.short}'s daily {FACE_DAILY_LIMIT}")
    return Options(
        requests,
        a.concurrency,
        a.rate,
        a.rounds,
        warmup,
        a.open_workers,
        a.arrivals,
        a.applicants,
        a.samples,
        a.quick,
        a.out,
        a.tmp_parent,
    )


def log(message: str) -> None:
    print(f"[case_bench] {message}", file=sys.stderr, flush=True)


def face_template(seed: int, dims: int = 128) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0.0, 1.0) for _ in range(dims)]


# --- set-up (untimed) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Applicant:
    """An Anhui resident with her account (and face) at Zhejiang and her identity card at Anhui."""

    subject_id: str
    name: str
    session_id: str
    identity_card: str
    face: list[float]
    assurance: Assurance
    amr: tuple[str, ...]
    home_attestation: str  # the hub's, from her login: minted tokens carry it like IssueToken


def enrol_applicants(client: FederationClient, count: int, tag: str) -> list[Applicant]:
    out = []
    for i in range(count):
        subject = make_citizen_id("340104", datetime.date(1990, 1 + i % 12, 9), 60 + i)
        name = f"申请人{i}"
        face = face_template(1000 + i)
        client.register(HOME.short, "natural", subject, name, PASSWORD)
        client.enrol_face(HOME.short, subject, PASSWORD, face)
        card = client.issue_licence(
            CARD_HOLDER.short,
            f"{tag}-idc-{i}",
            "resident_identity_card",
            subject,
            name,
            {
                "sex": "female",
                "ethnicity": "汉",
                "birth_date": f"1990-{1 + i % 12:02d}-09",
                "address": f"合肥市蜀山区长江西路 {i + 1} 号",
            },
            valid_until="2040-09-09",
        )
        login = client.login(
            HOME.short, subject, PASSWORD, [OWNER.short, CARD_HOLDER.short], "substantial", face
        )
        claims = token_claims(login.tokens[OWNER.entity_id])
        out.append(
            Applicant(
                subject,
                name,
                str(login.session_id),
                str(card.identifier),
                face,
                Assurance.parse(str(claims["acr"])),
                tuple(str(a) for a in claims["amr"]),
                str(claims["home_att"]),
            )
        )
    return out


@dataclass(frozen=True)
class CaseInput:
    """Everything one case consumes: a fresh business licence, tokens and face assertion."""

    applicant: Applicant
    company: str
    request: case_pb2.SubmitCaseRequest
    prepared_at: float


class Pacer:
    """Spaces calls `1/rate` apart (the hub's face quota is a token bucket per region)."""

    def __init__(self, rate_per_s: float) -> None:
        self._gap = 1.0 / rate_per_s
        self._next = time.monotonic()

    def wait(self) -> None:
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(self._next, now) + self._gap


@dataclass
class Preparer:
    """Builds case inputs just before a phase (tokens and assertions expire)."""

    client: FederationClient
    minter: TokenMinter
    applicants: list[Applicant]
    tag: str
    pacer: Pacer = field(default_factory=lambda: Pacer(FACE_RATE_PER_S))
    counter: itertools.count[int] = field(default_factory=itertools.count)
    face_checks: int = 0
    licences_issued: int = 0

    def face_assertion(self, applicant: Applicant) -> str:
        for attempt in range(6):
            self.pacer.wait()
            try:
                reply = self.client.check_face(WINDOW.short, applicant.subject_id, applicant.face)
            except ResourceExhausted:
                time.sleep(0.5 * (attempt + 1))
                continue
            self.face_checks += 1
            return str(reply.assertion)
        raise RuntimeError("the hub's face quota kept refusing the set-up face checks")

    def token(self, applicant: Applicant, audience: Region) -> str:
        return self.minter.mint(
            1,
            subject=applicant.subject_id,
            session_id=applicant.session_id,
            audience=audience,
            name=applicant.name,
            assurance=applicant.assurance,
            amr=applicant.amr,
            home_attestation=applicant.home_attestation,
        )[0]

    def one(self) -> CaseInput:
        k = next(self.counter)
        applicant = self.applicants[k % len(self.applicants)]
        company = make_credit_code("9", "1", "320506", f"MB{k:06X}")
        licence = self.client.issue_licence(
            OWNER.short,
            f"{self.tag}-biz-{k}",
            "business_licence",
            company,
            f"苏州基准{k}科技有限公司",
            {
                "entity_type": "有限责任公司",
                "legal_representative": applicant.name,
                "legal_representative_id": applicant.subject_id,
                "registered_capital": 5_000_000,
                "established_date": "2019-08-08",
                "business_scope": "软件开发; 信息技术咨询服务",
                "domicile": f"苏州工业园区星湖街 {k} 号",
            },
        )
        self.licences_issued += 1
        request = case_pb2.SubmitCaseRequest(
            request_id=f"{self.tag}-case-{k}",
            item_code=ITEM,
            window_id=WINDOW_ID,
            applicant_token=self.token(applicant, OWNER),
            face_assertion=self.face_assertion(applicant),
            materials=[
                material("business_licence", str(licence.identifier), OWNER.short),
                material(
                    "resident_identity_card",
                    applicant.identity_card,
                    CARD_HOLDER.short,
                    self.token(applicant, CARD_HOLDER),
                ),
            ],
            on_behalf_of=company,
            requested_json=json.dumps(
                {"domicile": f"苏州工业园区金鸡湖大道 {k} 号"}, ensure_ascii=False
            ),
            delivery_method="electronic",
            note="迁移住所 (benchmark)",
        )
        return CaseInput(applicant, company, request, time.time())

    def supply(self, count: int) -> Supply[CaseInput]:
        return Supply([self.one() for _ in range(count)])


def wait_for_catalogue(client: FederationClient, timeout_s: float = 30.0) -> None:
    """Regions publish their items to the hub just after start; wait until both sides know it."""
    deadline = time.monotonic() + timeout_s
    missing: list[str] = []
    while time.monotonic() < deadline:
        missing = []
        for region in (WINDOW, OWNER):
            signed = str(client.get_catalogue(region.short).signed_catalogue)
            if not signed or ITEM not in json.dumps(token_claims(signed), ensure_ascii=False):
                missing.append(region.short)
        if not missing:
            return
        time.sleep(0.25)
    raise RuntimeError(f"item {ITEM} not in the catalogue of {missing} after {timeout_s:.0f} s")


# --- the timed case ---------------------------------------------------------------------------


class CaseRunner:
    """One case end to end: submit at the window (owner validates, reads the identity card
    across regions, accepts), then the automatic reviewer's start_review and approve (result
    licence issued, case closed)."""

    def __init__(self, client: FederationClient) -> None:
        self._submit = case_pb2_grpc.CaseServiceStub(client.channel(WINDOW)).SubmitCase
        self._decide = case_pb2_grpc.CaseServiceStub(client.channel(OWNER)).DecideCase
        self.inputs: Supply[CaseInput] = Supply([])
        self.steps: dict[str, LatencyRecorder] = {s: LatencyRecorder() for s in STEPS}
        self.oldest_input_age_s = 0.0

    def new_phase(self, inputs: Supply[CaseInput]) -> dict[str, LatencyRecorder]:
        self.inputs = inputs
        self.steps = {s: LatencyRecorder() for s in STEPS}
        return self.steps

    def call(self) -> object:
        case = self.inputs.take()
        self.oldest_input_age_s = max(self.oldest_input_age_s, time.time() - case.prepared_at)
        t0 = time.perf_counter()
        view = self._submit(case.request, timeout=CALL_TIMEOUT_S)
        t1 = time.perf_counter()
        if view.state != "accepted" or not view.created:
            raise RuntimeError(f"submitted case {view.case_id} is {view.state}")
        review = self._decide(
            case_pb2.DecideCaseRequest(
                case_id=view.case_id, action="start_review", reviewer=REVIEWER
            ),
            timeout=CALL_TIMEOUT_S,
        )
        t2 = time.perf_counter()
        if review.state != "under_review":
            raise RuntimeError(f"case {view.case_id} is {review.state} after start_review")
        closed = self._decide(
            case_pb2.DecideCaseRequest(
                case_id=view.case_id, action="approve", reason="自动审核通过", reviewer=REVIEWER
            ),
            timeout=CALL_TIMEOUT_S,
        )
        t3 = time.perf_counter()
        if closed.state != "closed" or not json.loads(closed.data_json).get("result_licence"):
            raise RuntimeError(f"approved case {view.case_id} is {closed.state}, no result")
        for step, seconds in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            self.steps[step].record(seconds)
        return closed


# --- phases ---------------------------------------------------------------------------------


def pick(summary: dict[str, float], keys: Sequence[str]) -> dict[str, float]:
    return {k: summary[k] for k in keys if k in summary}


def run_phase(
    name: str,
    runner: CaseRunner,
    preparer: Preparer,
    echo: Call,
    opts: Options,
    load: Callable[[Call, int], LoadResult],
    describe: str,
) -> tuple[PhaseComparison, dict[str, LatencyRecorder], float]:
    per_round = opts.requests // opts.rounds
    t0 = time.perf_counter()
    log(f"{name}: preparing {per_round * opts.rounds} cases (licence, tokens, face assertion)")
    steps = runner.new_phase(preparer.supply(per_round * opts.rounds))
    prepare_s = time.perf_counter() - t0
    log(f"{name}: {describe}, {per_round} x {opts.rounds} rounds")
    phase = compare(
        name,
        {ECHO: lambda: load(echo, per_round), CASE: lambda: load(runner.call, per_round)},
        opts.rounds,
    )
    return phase, steps, prepare_s


def breakdown(steps: dict[str, LatencyRecorder]) -> dict[str, Any]:
    summaries = {s: rec.summary_ms() for s, rec in steps.items()}
    total = sum(s.get("mean", 0.0) for s in summaries.values())
    out: dict[str, Any] = {
        s: pick(summary, ("count", "p50", "p90", "p99", "max", "mean"))
        for s, summary in summaries.items()
    }
    decisions = sum(summaries[s].get("mean", 0.0) for s in STEPS[1:])
    out["share_of_mean"] = {
        "submit": round(summaries["submit"].get("mean", 0.0) / total, 3) if total else None,
        "decisions": round(decisions / total, 3) if total else None,
    }
    return out


def case_headline(result: LoadResult) -> dict[str, Any]:
    return {
        "latency_ms": pick(result.latency.summary_ms(), ("p50", "p90", "p99", "max", "mean")),
        "cases_per_s": round(result.throughput, 2),
        "completed": result.completed,
        "errors": result.errors,
        "server_cpu_ms_per_case": result.server_cpu_ms_per_request
        and round(result.server_cpu_ms_per_request, 3),
    }


def measure(directory: Path, pids: dict[Region, int], opts: Options) -> dict[str, Any]:
    load_at_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    tag = f"cb{int(time.time())}"
    cpu = ProcessesCpu([pids[r] for r in (WINDOW, OWNER, CARD_HOLDER)])
    with FederationClient(directory, timeout_s=CALL_TIMEOUT_S) as client:
        t0 = time.perf_counter()
        wait_for_catalogue(client)
        log(f"set-up: {opts.applicants} applicants (account and face at ZJ, id card at AH)")
        applicants = enrol_applicants(client, opts.applicants, tag)
        preparer = Preparer(
            client, TokenMinter(directory, client.trust_list, HOME), applicants, tag
        )
        runner = CaseRunner(client)
        setup_s = time.perf_counter() - t0

        def first_case() -> object:  # a fresh input per attempt: a failed one burnt its tokens
            runner.new_phase(Supply([preparer.one()]))
            return runner.call()

        ready_s, ready_failures = wait_until_ok(first_case)
        log(f"first case closed after {ready_s:.1f} s ({ready_failures} failed attempts)")
        warm_inputs = [preparer.one() for _ in range(max(opts.warmup, 1))]
        runner.new_phase(Supply(warm_inputs))
        payload = b"x" * warm_inputs[0].request.ByteSize()  # as large as a submission
        echo = echo_call(client.channel(WINDOW), payload, CALL_TIMEOUT_S)
        log(f"warming up: {opts.warmup} cases, {max(100, opts.warmup)} echoes")
        warm = warm_up(runner.call, opts.warmup) if opts.warmup else None
        if warm is not None and warm.errors:
            raise RuntimeError(f"warm-up cases failed: {warm.first_error}")
        warm_up(echo, max(100, opts.warmup))

        phases: dict[str, PhaseComparison] = {}
        steps: dict[str, dict[str, LatencyRecorder]] = {}
        prepare_s: dict[str, float] = {}

        def closed(concurrency: int) -> Callable[[Call, int], LoadResult]:
            return lambda call, n: run_closed_loop(call, n, concurrency, cpu)

        cn = f"closed_c{opts.concurrency}"
        plan: list[tuple[str, Callable[[Call, int], LoadResult], str]] = [
            ("closed_c1", closed(1), "closed loop, concurrency 1")
        ]
        if opts.concurrency != 1:
            plan.append(
                (cn, closed(opts.concurrency), f"closed loop, concurrency {opts.concurrency}")
            )
        for name, load, describe in plan:
            phases[name], steps[name], prepare_s[name] = run_phase(
                name, runner, preparer, echo, opts, load, describe
            )
        capacity = phases[cn].merged(CASE).throughput
        rate = opts.rate or max(1.0, round(AUTO_RATE_FRACTION * capacity, 1))

        def open_loop(call: Call, n: int) -> LoadResult:
            return run_open_loop(call, rate, n, opts.open_workers, cpu, opts.arrivals)

        phases["open_loop"], steps["open_loop"], prepare_s["open_loop"] = run_phase(
            "open_loop",
            runner,
            preparer,
            echo,
            opts,
            open_loop,
            f"open loop {rate:g} cases/s {opts.arrivals}",
        )
        oldest = runner.oldest_input_age_s

    c1 = phases["closed_c1"]
    echo_p50 = c1.merged(ECHO).latency.summary_ms().get("p50")
    case_p50 = c1.merged(CASE).latency.summary_ms().get("p50")
    warnings = load_warnings(load_at_start)
    if oldest > FACE_ASSERTION_S * 0.9:
        warnings.append(
            f"a case used inputs prepared {oldest:.0f} s earlier; face assertions live "
            f"{FACE_ASSERTION_S} s: use fewer --requests per phase"
        )
    return {
        "setup": {
            "window_region": WINDOW.code,
            "owner_region": OWNER.code,
            "identity_card_region": CARD_HOLDER.code,
            "applicant_home_region": HOME.code,
            "item": ITEM,
            "flow": (
                f"SubmitCase at {WINDOW.short} (forwarded to {OWNER.short}: token, face "
                f"assertion, business licence read locally, identity card read from "
                f"{CARD_HOLDER.short} with consent, case created and accepted) -> DecideCase "
                f"start_review at {OWNER.short} -> DecideCase approve at {OWNER.short} (result "
                "licence issued, old one revoked, result_issued, closed)"
            ),
            "rpc_hops_per_case": RPC_HOPS_PER_CASE,
            "server_pids": {r.short: pid for r, pid in pids.items()},
            "server_cpu": f"{WINDOW.short}, {OWNER.short} and {CARD_HOLDER.short} nodes together",
            "federation_dir": str(directory),
            "load_average_at_start": load_at_start and [round(x, 2) for x in load_at_start],
            "store": "sqlite (WAL, synchronous=NORMAL)",
            "untimed_per_case": (
                "a fresh business licence at JS, an applicant token (aud JS) and a consent token "
                "(aud AH) minted with ZJ's key, a face assertion from check_face at SH paced at "
                f"{FACE_RATE_PER_S:g}/s"
            ),
            "echo_payload_bytes": len(payload),
            "setup_s": round(setup_s, 3),
            "readiness": {
                "first_case_s": round(ready_s, 3),
                "failed_attempts": ready_failures,
                "why": "peer channels opened while a peer was still starting sit in gRPC "
                "reconnect backoff and fail fast (UNAVAILABLE) for a while",
            },
            "prepare_s": {k: round(v, 3) for k, v in prepare_s.items()},
            "face_checks": preparer.face_checks,
            "licences_issued": preparer.licences_issued,
            "oldest_input_age_s": round(oldest, 1),
            "open_loop_rate_per_s": rate,
            "open_loop_rate_source": "--rate"
            if opts.rate
            else f"auto: {AUTO_RATE_FRACTION} x case throughput at concurrency {opts.concurrency}",
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        },
        "summary": {
            ECHO: {
                name: pick(p.merged(ECHO).latency.summary_ms(), ("p50", "p90", "p99"))
                | {"per_s": round(p.merged(ECHO).throughput, 1)}
                for name, p in phases.items()
            },
            CASE: {name: case_headline(p.merged(CASE)) for name, p in phases.items()},
            "breakdown_ms": {name: breakdown(s) for name, s in steps.items()},
            "ratios_case_over_echo": {
                name: ratios(p.merged(CASE), p.merged(ECHO)) for name, p in phases.items()
            },
            "network_floor_ms": (
                round(RPC_HOPS_PER_CASE * echo_p50, 4) if echo_p50 is not None else None
            ),
            "case_p50_over_network_floor": (
                round(case_p50 / (RPC_HOPS_PER_CASE * echo_p50), 3)
                if case_p50 is not None and echo_p50
                else None
            ),
        },
        "targets": {},
        "all_targets_met": None,
        "targets_note": "issue 5 item 10 sets no numeric target: the figures are reported beside "
        "the echo measured in the same run",
        "warnings": warnings,
        "phases": {name: phase.to_dict(baseline=ECHO) for name, phase in phases.items()},
        "latency_samples_source": "closed_c1 phase (one case in flight), milliseconds",
        "latency_samples_ms": {
            ECHO: c1.merged(ECHO).latency.sample_ms(opts.sample_limit),
            CASE: c1.merged(CASE).latency.sample_ms(opts.sample_limit),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    started = time.time()
    opts = parse_args(argv)
    log("starting a temporary federation (hub + 4 regions as processes)")
    with temporary_federation(parent=opts.parent) as (directory, federation):
        pids = {r: p.pid for r, p in federation.procs.items()}
        results = measure(directory, pids, opts)
    return finish("case_bench", results, argv, started, opts.out)


if __name__ == "__main__":
    sys.exit(main())
