"""Licence benchmark: local and cross-region licence verification, and 4-region aggregation."""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks._federation import (
    ProcessesCpu,
    TokenMinter,
    echo_call,
    region_channel,
    wait_until_ok,
)
from benchmarks.harness import (
    Call,
    LatencyRecorder,
    LoadResult,
    PhaseComparison,
    ProcessCpu,
    Supply,
    add_run_options,
    check_run_options,
    compare,
    finish,
    load_warnings,
    ratios,
    run_closed_loop,
    run_open_loop,
    run_sequential,
    target,
    temporary_federation,
    warm_up,
)
from federation.codes import make_citizen_id, make_credit_code
from federation.crypto.jose import Jwk
from federation.identity.tokens import unverified_home_attestation
from federation.licences import Verdict, VerifiedStatusList, verify_licence, verify_status_list
from federation.licences.registry import status_list_uri
from federation.regions import Region
from nodes.client import FederationClient
from nodes.pb.v1 import licence_pb2, licence_pb2_grpc

VERIFIER = Region.SH  # verifies licences it did not issue; its echo is the verification baseline
ISSUER = Region.JS  # issues the licences verified at VERIFIER
AGGREGATOR = Region.AH  # answers ListHolderLicences by fanning out to the three other provinces
HOME = Region.ZJ  # where the holder is registered, logs in, and tokens are minted
PEERS = (Region.JS, Region.SH, Region.ZJ)  # AGGREGATOR's fan-out targets
ECHO, VERIFY = "echo", "verify_licence"
ECHO_AGG, HOP, AGG, RELAY = "echo_ah", "single_hop", "aggregate", "relayed_read"
RELAY_ITEM = "YRD-GA-0001"  # 异地换领驾驶证: a service item whose policy lets AH read a JS licence
VERIFY_P50_LIMIT = 1.5  # issue 3 item 11: cross-region verification p50 <= 1.5 x echo p50
AGG_P50_LIMIT = 2.0  # ...and aggregation p50 <= 2 x one cross-region call (fan-out is parallel)
AUTO_RATE_FRACTION = 0.5  # open-loop default: this share of verification's closed-loop capacity
CALL_TIMEOUT_S = 10.0
PASSWORD = "bench-Password-2024"
HOLDER_NAME = "归集测试"


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
    sample_limit: int
    local_requests: int
    licences: int
    quick: bool
    out: Path | None
    parent: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--requests",
        type=int,
        default=None,
        help="requests per target per phase, split over the rounds (default 2000)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open-loop verifications per second (default: 0.5 x verification throughput "
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
    add_run_options(
        p,
        concurrency=8,
        open_workers=32,
        rounds_help="ABBA rounds per closed/open phase (2)",
        warmup_help="unrecorded calls per target (300)",
    )
    a = p.parse_args(argv)
    requests = a.requests if a.requests is not None else (200 if a.quick else 2000)
    warmup = a.warmup if a.warmup is not None else (30 if a.quick else 300)
    local = a.local_requests if a.local_requests is not None else (500 if a.quick else 5000)
    licences = a.licences if a.licences is not None else (8 if a.quick else 32)
    check_run_options(p, a, requests, warmup)
    if local < 1 or licences < 2:
        p.error("need --local-requests >= 1 and --licences >= 2")
    return Options(
        requests,
        a.concurrency,
        a.rate,
        a.rounds,
        warmup,
        a.open_workers,
        a.arrivals,
        a.samples,
        local,
        licences,
        a.quick,
        a.out,
        a.tmp_parent,
    )


def log(message: str) -> None:
    print(f"[licence_bench] {message}", file=sys.stderr, flush=True)


# --- set-up (untimed) ---------------------------------------------------------------------


def driving_fields(i: int) -> dict[str, object]:
    return {
        "sex": "female" if i % 2 else "male",
        "nationality": "CHN",
        "birth_date": "1988-05-17",
        "address": f"南京市鼓楼区中山路 {100 + i} 号",
        "first_issue_date": "2012-03-01",
        "vehicle_class": "C1",
        "file_number": f"3201{i:08d}",
    }


def business_fields(i: int) -> dict[str, object]:
    return {
        "entity_type": "有限责任公司",
        "legal_representative": "陈静",
        "registered_capital": 1_000_000 + i,
        "established_date": "2019-08-08",
        "business_scope": "软件开发; 信息技术咨询服务",
        "domicile": f"苏州工业园区星湖街 {i} 号",
    }


def issue_pool(client: FederationClient, count: int, tag: str) -> list[str]:
    """`count` licences sealed at ISSUER, half driving licences (people), half business
    licences (enterprises), all of them valid; returns their full SD-JWTs."""
    out = []
    for i in range(count):
        if i % 2 == 0:
            holder = make_citizen_id("320102", datetime.date(1980 + i % 20, 1 + i % 12, 9), i + 1)
            doc = client.issue_licence(
                ISSUER.short,
                f"{tag}-drv-{i}",
                "driving_licence",
                holder,
                f"驾驶人{i}",
                driving_fields(i),
                valid_from="2022-03-01",
                valid_until="2032-03-01",
            )
        else:
            company = make_credit_code("9", "1", "320505", f"MA{i:06X}")
            doc = client.issue_licence(
                ISSUER.short,
                f"{tag}-biz-{i}",
                "business_licence",
                company,
                f"苏州基准{i}科技有限公司",
                business_fields(i),
                valid_until="2049-08-07",
            )
        out.append(str(doc.sd_jwt))
    return out


@dataclass(frozen=True)
class Holder:
    subject_id: str
    session_id: str
    licences_per_region: int
    driving_licence: str  # held by JS: the relayed read's object
    home_attestation: str  # the hub's, from the login: minted tokens carry it


def holder_everywhere(client: FederationClient, tag: str) -> Holder:
    """A Zhejiang resident holding one licence in each of the four provinces, logged in once."""
    subject = make_citizen_id("330106", datetime.date(1988, 5, 17), 23)
    client.register(HOME.short, "natural", subject, HOLDER_NAME, PASSWORD)
    person = {"sex": "female", "ethnicity": "汉", "birth_date": "1988-05-17"}
    drv = client.issue_licence(
        "JS",
        f"{tag}-holder-drv",
        "driving_licence",
        subject,
        HOLDER_NAME,
        driving_fields(0),
        valid_from="2022-03-01",
        valid_until="2032-03-01",
    )
    client.issue_licence(
        "AH",
        f"{tag}-holder-idc",
        "resident_identity_card",
        subject,
        HOLDER_NAME,
        {**person, "address": "合肥市蜀山区长江西路 1 号"},
        valid_until="2040-09-09",
    )
    client.issue_licence(
        "SH",
        f"{tag}-holder-rp",
        "residence_permit",
        subject,
        HOLDER_NAME,
        {
            **person,
            "residence_address": "上海市浦东新区世纪大道 100 号",
            "household_address": "杭州市西湖区文三路 1 号",
        },
        valid_until="2030-01-01",
    )
    client.issue_licence(
        "ZJ",
        f"{tag}-holder-ssc",
        "social_security_card",
        subject,
        HOLDER_NAME,
        {"sex": "female", "ethnicity": "汉", "card_number": "A33010688", "bank": "中国工商银行"},
    )
    login = client.login(HOME.short, subject, PASSWORD, [AGGREGATOR.short])
    home = unverified_home_attestation(str(login.tokens[AGGREGATOR.entity_id]))
    return Holder(subject, str(login.session_id), 1, str(drv.identifier), home)


# --- (a) local verification -----------------------------------------------------------------


def local_verification(
    client: FederationClient, pool: Sequence[str], opts: Options
) -> dict[str, Any]:
    """verify_licence in this process, single thread: seal, certificate chain to the trust
    list, validity and status from a status list fetched (and verified) once beforehand."""
    trust = client.trust_list
    now = time.time()

    def seal_keys(region_code: str, kid: str) -> Jwk:
        return trust.member_by_region(region_code).key(kid, now, use="seal")

    def sig_keys(region_code: str, kid: str) -> Jwk:
        return trust.member_by_region(region_code).key(kid, now, use="sig")

    uri = status_list_uri(ISSUER)
    stub = licence_pb2_grpc.LicenceServiceStub(client.channel(ISSUER))
    token = str(
        stub.GetStatusList(licence_pb2.GetStatusListRequest(uri=uri), timeout=CALL_TIMEOUT_S).token
    )
    status: VerifiedStatusList = verify_status_list(
        token, sig_keys, now, expected_uri=uri, expected_region=ISSUER
    )

    def lookup(_: str) -> VerifiedStatusList:
        return status

    for sd_jwt in pool:  # every licence of the pool is valid, with its status checked
        verdict = verify_licence(sd_jwt, seal_keys, lookup, now)
        if verdict.verdict is not Verdict.VALID or not verdict.status_checked:
            raise RuntimeError(f"local verification answered {verdict.to_dict()}")

    n = len(pool)
    rec = LatencyRecorder()
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(opts.local_requests):
        s = time.perf_counter()
        verdict = verify_licence(pool[i % n], seal_keys, lookup, now)
        rec.samples.append(time.perf_counter() - s)
        if verdict.verdict is not Verdict.VALID:
            raise RuntimeError(f"local verification answered {verdict.verdict.value}")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0

    # the cryptographic floor: one Ed25519 verification of a signature over a licence-sized input
    key = Ed25519PrivateKey.generate()
    message = pool[0].split("~", 1)[0].rsplit(".", 1)[0].encode()
    signature, public = key.sign(message), key.public_key()
    ed_n = max(200, opts.local_requests)
    e0 = time.perf_counter()
    for _ in range(ed_n):
        public.verify(signature, message)
    ed_us = (time.perf_counter() - e0) / ed_n * 1e6
    per_us = elapsed / opts.local_requests * 1e6
    return {
        "mode": "in-process, single thread, status list pre-fetched (no network)",
        "verifications": opts.local_requests,
        "distinct_licences": n,
        "elapsed_s": round(elapsed, 4),
        "per_s": round(opts.local_requests / elapsed, 1),
        "us_per_verification": round(per_us, 2),
        "cpu_s": round(cpu, 4),
        "latency_us": {
            k: (v if k == "count" else round(v * 1e3, 1)) for k, v in rec.summary_ms().items()
        },
        "ed25519_verify_us": round(ed_us, 2),
        "signatures_per_licence": 2,
        "signature_share": round(2 * ed_us / per_us, 3),
        "status_list_uri": uri,
    }


# --- (b) and (c) remote targets ----------------------------------------------------------


def verify_call(client: FederationClient, pool: Sequence[str]) -> Call:
    """VerifyLicence at VERIFIER of ISSUER's licences, in rotation."""
    stub = licence_pb2_grpc.LicenceServiceStub(client.channel(VERIFIER))
    requests = [licence_pb2.VerifyLicenceRequest(sd_jwt=s) for s in pool]
    counter = itertools.count()

    def call() -> object:
        reply = stub.VerifyLicence(requests[next(counter) % len(requests)], timeout=CALL_TIMEOUT_S)
        if reply.verdict != Verdict.VALID.value or not reply.status_checked:
            raise RuntimeError(f"verification answered {reply.verdict}: {list(reply.reasons)}")
        return reply

    return call


class Aggregation:
    """ListHolderLicences at AGGREGATOR with a fresh token per call (replay protection)."""

    def __init__(self, client: FederationClient, expected_licences: int) -> None:
        self._stub = licence_pb2_grpc.LicenceServiceStub(client.channel(AGGREGATOR))
        self._expected = expected_licences
        self.tokens: Supply[str] = Supply([])
        self.fanout = LatencyRecorder()  # swapped per phase

    def call(self) -> object:
        request = licence_pb2.ListHolderLicencesRequest(token=self.tokens.take())
        reply = self._stub.ListHolderLicences(request, timeout=CALL_TIMEOUT_S)
        failed = [f"{r.region}: {r.error}" for r in reply.regions if not r.ok]
        if failed:
            raise RuntimeError(f"aggregation had failing regions: {failed}")
        count = sum(len(r.licences) for r in reply.regions)
        if count != self._expected or len(reply.regions) != 4:
            raise RuntimeError(f"aggregation listed {count} licences in {len(reply.regions)}")
        remote = [r.elapsed_ms for r in reply.regions if r.region != AGGREGATOR.code]
        self.fanout.record(max(remote) / 1e3)
        return reply


class RelayedRead:
    """FetchRemoteLicence at AGGREGATOR of the holder's JS licence (AGGREGATOR relays one
    ReadLicence to JS): one cross-region call as a user makes it, a fan-out of one."""

    def __init__(self, client: FederationClient, identifier: str) -> None:
        self._stub = licence_pb2_grpc.LicenceServiceStub(client.channel(AGGREGATOR))
        self._identifier = identifier
        self.tokens: Supply[str] = Supply([])  # consent tokens for JS, single use

    def call(self) -> object:
        request = licence_pb2.FetchRemoteLicenceRequest(
            owner_region=ISSUER.code,
            read=licence_pb2.ReadLicenceRequest(
                identifier=self._identifier,
                service_item=RELAY_ITEM,
                purpose="benchmark: one relayed cross-region read",
                consent_token=self.tokens.take(),
            ),
        )
        reply = self._stub.FetchRemoteLicence(request, timeout=CALL_TIMEOUT_S)
        if reply.identifier != self._identifier or not reply.fields_json:
            raise RuntimeError("the relayed read answered another licence")
        return reply


class SingleHop:
    """ListLocalLicences with AGGREGATOR's own certificate to one peer, rotating over PEERS:
    exactly one leg of the aggregation's fan-out, i.e. one cross-region call, forwarding a
    fresh holder token meant for AGGREGATOR (each peer refuses a replayed one)."""

    def __init__(self, directory: Path, client: FederationClient, holder: str) -> None:
        self.channels = [region_channel(directory, AGGREGATOR, client.endpoint(r)) for r in PEERS]
        self._stubs = [licence_pb2_grpc.LicenceServiceStub(c) for c in self.channels]
        self._holder = holder
        self._counter = itertools.count()
        self.tokens: Supply[str] = Supply([])

    def call(self) -> object:
        request = licence_pb2.ListLocalLicencesRequest(
            holder_code=self._holder, token=self.tokens.take()
        )
        stub = self._stubs[next(self._counter) % len(self._stubs)]
        reply = stub.ListLocalLicences(request, timeout=CALL_TIMEOUT_S)
        if len(reply.licences) != 1:
            raise RuntimeError(f"single hop listed {len(reply.licences)} licences, not 1")
        return reply


# --- phases ------------------------------------------------------------------------------


def sequential_phase(name: str, targets: dict[str, Call], requests: int) -> PhaseComparison:
    log(f"{name}: sequential, {requests} requests per target, interleaved request by request")
    phase = PhaseComparison(name)
    for n, r in run_sequential(targets, requests).items():
        phase.add(n, r)
    return phase


def closed_phase(
    name: str, targets: dict[str, Call], opts: Options, concurrency: int, cpu: ProcessCpu
) -> PhaseComparison:
    per_round = opts.requests // opts.rounds

    def runner(call: Call) -> Callable[[], LoadResult]:
        return lambda: run_closed_loop(call, per_round, concurrency, cpu)

    log(f"{name}: closed loop, concurrency {concurrency}, {per_round} x {opts.rounds} rounds")
    return compare(name, {n: runner(c) for n, c in targets.items()}, opts.rounds)


def open_phase(
    name: str, targets: dict[str, Call], opts: Options, rate: float, cpu: ProcessCpu
) -> PhaseComparison:
    per_round = opts.requests // opts.rounds

    def runner(call: Call) -> Callable[[], LoadResult]:
        return lambda: run_open_loop(call, rate, per_round, opts.open_workers, cpu, opts.arrivals)

    log(f"{name}: open loop {rate:.0f}/s {opts.arrivals}, {per_round} x {opts.rounds} rounds")
    return compare(name, {n: runner(c) for n, c in targets.items()}, opts.rounds)


def pick(summary: dict[str, float], keys: Sequence[str]) -> dict[str, float]:
    return {k: summary[k] for k in keys if k in summary}


def headline(phases: dict[str, PhaseComparison], name: str, cn: str) -> dict[str, Any]:
    seq = phases["verify_sequential"].merged(name).latency.summary_ms()
    c1 = phases["verify_closed_c1"].merged(name)
    ccn = phases[f"verify_{cn}"].merged(name)
    open_loop = phases["verify_open_loop"].merged(name)
    suffix = cn.removeprefix("closed_")
    return {
        "sequential_latency_ms": pick(seq, ("p50", "p90", "p99", "max", "mean")),
        "throughput_c1_per_s": round(c1.throughput, 1),
        f"throughput_{suffix}_per_s": round(ccn.throughput, 1),
        f"latency_{suffix}_ms": pick(ccn.latency.summary_ms(), ("p50", "p90", "p99")),
        "open_loop_latency_ms": pick(open_loop.latency.summary_ms(), ("p50", "p90", "p99", "max")),
        "server_cpu_ms_per_request": ccn.server_cpu_ms_per_request
        and round(ccn.server_cpu_ms_per_request, 4),
    }


def measure(directory: Path, federation_pids: dict[Region, int], opts: Options) -> dict[str, Any]:
    load_at_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    tag = f"lb{int(time.time())}"
    verifier_cpu = ProcessCpu(federation_pids[VERIFIER])
    provinces_cpu = ProcessesCpu([federation_pids[r] for r in (AGGREGATOR, *PEERS)])
    with FederationClient(directory, timeout_s=CALL_TIMEOUT_S) as client:
        log(f"set-up: {opts.licences} licences at {ISSUER.short}, a holder in four provinces")
        t0 = time.perf_counter()
        pool = issue_pool(client, opts.licences, tag)
        holder = holder_everywhere(client, tag)
        minter = TokenMinter(directory, client.trust_list, HOME)
        setup_s = time.perf_counter() - t0

        log(f"local verification: {opts.local_requests} in-process verifications")
        local = local_verification(client, pool, opts)

        # (b) cross-region verification at VERIFIER against VERIFIER's echo, one channel
        payload = b"x" * round(statistics.mean(len(s) for s in pool))
        verify = verify_call(client, pool)
        vtargets = {ECHO: echo_call(client.channel(VERIFIER), payload, CALL_TIMEOUT_S)}
        vtargets[VERIFY] = verify
        verify_ready_s, verify_failures = wait_until_ok(verify)
        log(f"first verification answered after {verify_ready_s:.1f} s ({verify_failures} failed)")
        log("warming up the verification targets")
        for call in vtargets.values():
            warm_up(call, opts.warmup, opts.concurrency)
        phases: dict[str, PhaseComparison] = {}
        phases["verify_sequential"] = sequential_phase("verify_sequential", vtargets, opts.requests)
        phases["verify_closed_c1"] = closed_phase(
            "verify_closed_c1", vtargets, opts, 1, verifier_cpu
        )
        cn = f"closed_c{opts.concurrency}"
        if opts.concurrency != 1:
            phases[f"verify_{cn}"] = closed_phase(
                f"verify_{cn}", vtargets, opts, opts.concurrency, verifier_cpu
            )
        capacity = phases[f"verify_{cn}"].merged(VERIFY).throughput
        rate = opts.rate or max(10.0, round(AUTO_RATE_FRACTION * capacity, -1))
        phases["verify_open_loop"] = open_phase(
            "verify_open_loop", vtargets, opts, rate, verifier_cpu
        )

        # (c) aggregation at AGGREGATOR against one leg of its fan-out
        expected = 4 * holder.licences_per_region
        aggregation = Aggregation(client, expected)
        single_hop = SingleHop(directory, client, holder.subject_id)
        hop, hop_channels = single_hop.call, single_hop.channels

        relayed = RelayedRead(client, holder.driving_licence)

        def refill(count: int) -> None:
            supplies = ((aggregation, AGGREGATOR), (relayed, ISSUER), (single_hop, AGGREGATOR))
            for holder_of, audience in supplies:
                holder_of.tokens = Supply(
                    minter.mint(
                        count,
                        subject=holder.subject_id,
                        session_id=holder.session_id,
                        audience=audience,
                        name=HOLDER_NAME,
                        home_attestation=holder.home_attestation,
                    )
                )

        token_bytes = len(
            minter.mint(
                1,
                subject=holder.subject_id,
                session_id=holder.session_id,
                audience=AGGREGATOR,
                name=HOLDER_NAME,
                home_attestation=holder.home_attestation,
            )[0]
        )
        atargets = {
            ECHO_AGG: echo_call(client.channel(AGGREGATOR), b"x" * token_bytes, CALL_TIMEOUT_S),
            HOP: hop,
            AGG: aggregation.call,
            RELAY: relayed.call,
            VERIFY: verify,
        }
        refill(400)
        ready_s, ready_failures = wait_until_ok(aggregation.call)
        relay_ready_s, relay_failures = wait_until_ok(relayed.call)
        ready_s, ready_failures = max(ready_s, relay_ready_s), ready_failures + relay_failures
        log(f"first aggregation answered after {ready_s:.1f} s ({ready_failures} failed)")
        log("warming up the aggregation targets")
        refill(opts.warmup + 16)
        for call in atargets.values():
            warm_up(call, opts.warmup, opts.concurrency)
        fanout: dict[str, LatencyRecorder] = {}
        refill(opts.requests + 16)
        aggregation.fanout = fanout["aggregate_sequential"] = LatencyRecorder()
        phases["aggregate_sequential"] = sequential_phase(
            "aggregate_sequential", atargets, opts.requests
        )
        refill(opts.requests + 16)
        aggregation.fanout = fanout[f"aggregate_{cn}"] = LatencyRecorder()
        phases[f"aggregate_{cn}"] = closed_phase(
            f"aggregate_{cn}",
            {HOP: hop, AGG: aggregation.call},
            opts,
            opts.concurrency,
            provinces_cpu,
        )
        for channel in hop_channels:
            channel.close()

    vseq = phases["verify_sequential"]
    aseq = phases["aggregate_sequential"]
    seq_ratio = ratios(vseq.merged(VERIFY), vseq.merged(ECHO))
    agg_ratio = ratios(aseq.merged(AGG), aseq.merged(HOP))
    targets_met = {
        "verify_p50_over_echo_p50": target(
            f"cross-region verification p50 <= {VERIFY_P50_LIMIT} x echo p50 (sequential, "
            f"VerifyLicence at {VERIFIER.short} of {ISSUER.short}-issued licences)",
            seq_ratio["p50"],
            VERIFY_P50_LIMIT,
            at_most=True,
        ),
        "aggregate_p50_over_single_hop_p50": target(
            f"aggregation p50 <= {AGG_P50_LIMIT} x one cross-region call p50 (sequential; "
            f"ListHolderLicences at {AGGREGATOR.short} vs one ListLocalLicences leg)",
            agg_ratio["p50"],
            AGG_P50_LIMIT,
            at_most=True,
        ),
    }
    acn = phases[f"aggregate_{cn}"]
    suffix = cn.removeprefix("closed_")
    aggregation_summary = {
        "sequential_latency_ms": {
            n: pick(aseq.merged(n).latency.summary_ms(), ("p50", "p90", "p99", "max", "mean"))
            for n in atargets
        },
        "fanout_ms": {
            phase: pick(rec.summary_ms(), ("count", "p50", "p90", "p99", "max"))
            for phase, rec in fanout.items()
        },
        f"throughput_{suffix}_per_s": {n: round(acn.merged(n).throughput, 1) for n in (HOP, AGG)},
        f"latency_{suffix}_ms": {
            n: pick(acn.merged(n).latency.summary_ms(), ("p50", "p90", "p99")) for n in (HOP, AGG)
        },
        "ratios_sequential": {
            f"{AGG}/{HOP}": agg_ratio,
            f"{AGG}/{RELAY}": ratios(aseq.merged(AGG), aseq.merged(RELAY)),
            f"{AGG}/{VERIFY}": ratios(aseq.merged(AGG), aseq.merged(VERIFY)),
            f"{AGG}/{ECHO_AGG}": ratios(aseq.merged(AGG), aseq.merged(ECHO_AGG)),
            f"{HOP}/{ECHO_AGG}": ratios(aseq.merged(HOP), aseq.merged(ECHO_AGG)),
        },
        f"ratios_{cn}": {f"{AGG}/{HOP}": ratios(acn.merged(AGG), acn.merged(HOP))},
    }
    return {
        "setup": {
            "verifier_region": VERIFIER.code,
            "issuer_region": ISSUER.code,
            "aggregator_region": AGGREGATOR.code,
            "holder_home_region": HOME.code,
            "server_pids": {r.short: pid for r, pid in federation_pids.items()},
            "federation_dir": str(directory),
            "load_average_at_start": load_at_start and [round(x, 2) for x in load_at_start],
            "store": "sqlite (WAL, synchronous=NORMAL)",
            "channel": "one mTLS channel (operator certificate) per node, shared by its targets",
            "server_cpu": f"{VERIFIER.short} node for verify_* phases; the four province nodes "
            "together for aggregate_* phases",
            "single_hop": (
                f"ListLocalLicences sent with {AGGREGATOR.short}'s own node certificate to "
                f"{', '.join(r.short for r in PEERS)} in rotation: exactly one leg of the "
                "aggregation's fan-out, the 'one cross-region call' of the target"
            ),
            "relayed_read": (
                f"FetchRemoteLicence at {AGGREGATOR.short} of the holder's {ISSUER.short} "
                f"driving licence for {RELAY_ITEM}: {AGGREGATOR.short} relays one ReadLicence "
                f"(a fan-out of one); informative, not the target's denominator"
            ),
            "aggregation_licences": expected,
            "licence_pool": len(pool),
            "sd_jwt_bytes_mean": len(payload),
            "echo_payload_bytes": {ECHO: len(payload), ECHO_AGG: token_bytes},
            "setup_s": round(setup_s, 3),
            "readiness": {
                "first_verification_s": round(verify_ready_s, 3),
                "first_aggregation_s": round(ready_s, 3),
                "failed_attempts": verify_failures + ready_failures,
                "why": "peer channels opened while a peer was still starting sit in gRPC "
                "reconnect backoff and fail fast (UNAVAILABLE) for a while",
            },
            "open_loop_rate_per_s": rate,
            "open_loop_rate_source": "--rate"
            if opts.rate
            else (
                f"auto: {AUTO_RATE_FRACTION} x {VERIFY} throughput at concurrency "
                f"{opts.concurrency}"
            ),
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        },
        "summary": {
            "local_verification": {
                k: local[k]
                for k in ("per_s", "us_per_verification", "ed25519_verify_us", "signature_share")
            },
            ECHO: headline(phases, ECHO, cn),
            VERIFY: headline(phases, VERIFY, cn),
            "ratios_verify_over_echo": {
                "sequential": seq_ratio,
                **{
                    name: ratios(
                        phases[f"verify_{name}"].merged(VERIFY),
                        phases[f"verify_{name}"].merged(ECHO),
                    )
                    for name in ("closed_c1", cn, "open_loop")
                },
            },
            "aggregation": aggregation_summary,
        },
        "targets": targets_met,
        "all_targets_met": all(t["met"] for t in targets_met.values()),
        "warnings": load_warnings(load_at_start),
        "local_verification": local,
        "phases": {
            name: phase.to_dict(baseline=HOP if name.startswith("aggregate_") else ECHO)
            for name, phase in phases.items()
        },
        "latency_samples_source": "sequential phases (one request in flight), milliseconds",
        "latency_samples_ms": {
            ECHO: vseq.merged(ECHO).latency.sample_ms(opts.sample_limit),
            VERIFY: vseq.merged(VERIFY).latency.sample_ms(opts.sample_limit),
            ECHO_AGG: aseq.merged(ECHO_AGG).latency.sample_ms(opts.sample_limit),
            HOP: aseq.merged(HOP).latency.sample_ms(opts.sample_limit),
            AGG: aseq.merged(AGG).latency.sample_ms(opts.sample_limit),
            RELAY: aseq.merged(RELAY).latency.sample_ms(opts.sample_limit),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    started = time.time()
    opts = parse_args(argv)
    log("starting a temporary federation (hub + 4 regions as processes)")
    with temporary_federation(parent=opts.parent) as (directory, federation):
        pids = {r: p.pid for r, p in federation.procs.items()}
        results = measure(directory, pids, opts)
    return finish("licence_bench", results, argv, started, opts.out)


if __name__ == "__main__":
    sys.exit(main())
