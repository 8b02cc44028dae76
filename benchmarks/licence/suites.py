"""SM2/SM3 beside Ed25519 (and ES256): the signature kernel, and licence verification per suite.

The federation of the licence benchmark runs SM2_ISSUER on the SM2/SM3 suite and every other
member on Ed25519, so one run compares (1) the bare verification kernel of each JWS algorithm,
(2) verify_licence in this process over an Ed25519-sealed and an SM2-sealed pool, and (3)
VerifyLicence at VERIFIER over gRPC of the two pools, side by side, interleaved.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks._federation import echo_call, wait_until_ok
from benchmarks.harness import (
    Call,
    LatencyRecorder,
    PhaseComparison,
    ProcessCpu,
    closed_loop,
    load_phase,
    sequential_phase,
    warm_up,
)
from benchmarks.licence.calls import verify_call
from benchmarks.licence.config import CALL_TIMEOUT_S, ECHO, ISSUER, VERIFIER, VERIFY, Options, log
from federation.crypto.jose import Jwk, SigningKey
from federation.licences import Verdict, VerifiedStatusList, verify_licence, verify_status_list
from federation.licences.registry import status_list_uri
from federation.licences.seal import forget_verified_licences
from federation.regions import Region
from nodes.client import FederationClient
from nodes.fixtures.licences import PoolIssuer, issue_pool
from nodes.pb.v1 import licence_pb2, licence_pb2_grpc

SM2_ISSUER = Region.AH
"""Seals, certifies and signs status lists with SM2/SM3; it issues nothing the other phases
verify (the aggregation lists its one licence without verifying it), so they are unchanged."""
SUITES = {ISSUER: "ed25519", SM2_ISSUER: "sm2"}
PROVISIONED = {SM2_ISSUER: "sm2"}  # the benchmark federation: every other member ed25519
VERIFY_SM2 = "verify_licence_sm2"
KERNEL_ALGS = ("EdDSA", "SM2SM3", "ES256")
KERNEL_PATH = (
    "Jwk.verify_signature over a licence's JWS signing input: the federation's own call "
    "(decoded key cached, r || s to DER for ES256/SM2SM3), one thread, algorithms interleaved; "
    "verify_per_s = 1 / mean"
)
Phases = dict[str, PhaseComparison]


SM2_POOL = PoolIssuer(SM2_ISSUER, "340104", "340104", "MB", "合肥", ids="sm2-")


def issue_sm2_pool(client: FederationClient, count: int, tag: str) -> list[str]:
    """`count` licences sealed at SM2_ISSUER (Anhui), half driving, half business licences."""
    return issue_pool(client, count, tag, SM2_POOL)


def signature_kernels(message: bytes, count: int) -> dict[str, Any]:
    """Per algorithm: verifications (and signatures) of `message`, timed one by one."""
    keys = {alg: SigningKey.generate(alg) for alg in KERNEL_ALGS}
    signed = {alg: (key.jwk, key.sign(message)) for alg, key in keys.items()}
    verify = {alg: LatencyRecorder() for alg in KERNEL_ALGS}
    sign = {alg: LatencyRecorder() for alg in KERNEL_ALGS}
    for _ in range(count):
        for alg in KERNEL_ALGS:  # interleaved: drift on a noisy machine hits all alike
            jwk, signature = signed[alg]
            s = time.perf_counter()
            jwk.verify_signature(signature, message)
            verify[alg].record(time.perf_counter() - s)
    for _ in range(max(1, count // 4)):
        for alg in KERNEL_ALGS:
            s = time.perf_counter()
            keys[alg].sign(message)
            sign[alg].record(time.perf_counter() - s)
    out: dict[str, Any] = {"path": KERNEL_PATH, "message_bytes": len(message)}
    for alg in KERNEL_ALGS:
        v = verify[alg].summary_ms()
        out[alg] = {
            "verifications": count,
            "verify_us": {k: round(v[k] * 1e3, 2) for k in ("p50", "p90", "p99", "mean")},
            "verify_per_s": round(1e3 / v["mean"], 1),
            "sign_us_p50": round(sign[alg].summary_ms()["p50"] * 1e3, 2),
        }
    return out


def _status(client: FederationClient, issuer: Region, now: float) -> VerifiedStatusList:
    trust = client.trust_list

    def sig_keys(region_code: str, kid: str) -> Jwk:
        return trust.member_by_region(region_code).key(kid, now, use="sig")

    uri = status_list_uri(issuer, trust.member_by_region(issuer.code).public_url)
    stub = licence_pb2_grpc.LicenceServiceStub(client.channel(issuer))
    token = stub.GetStatusList(licence_pb2.GetStatusListRequest(uri=uri), timeout=CALL_TIMEOUT_S)
    return verify_status_list(
        str(token.token), sig_keys, now, expected_uri=uri, expected_region=issuer
    )


def local_by_suite(
    client: FederationClient, pools: Mapping[Region, Sequence[str]], requests: int
) -> dict[str, Any]:
    """verify_licence in this process of each issuer's pool, status lists fetched beforehand;
    the pools interleaved licence by licence, one thread; per_s = 1 / mean."""
    now = time.time()
    trust = client.trust_list
    statuses = {issuer.code: _status(client, issuer, now) for issuer in pools}

    def seal_keys(region_code: str, kid: str) -> Jwk:
        return trust.member_by_region(region_code).key(kid, now, use="seal")

    def lookup_for(issuer: Region) -> Callable[[str], VerifiedStatusList]:
        return lambda _uri: statuses[issuer.code]

    recorders = {issuer: LatencyRecorder() for issuer in pools}
    lookups = {issuer: lookup_for(issuer) for issuer in pools}
    for i in range(requests):
        for issuer, pool in pools.items():
            forget_verified_licences()  # every verification a first one: seals checked
            s = time.perf_counter()
            result = verify_licence(pool[i % len(pool)], seal_keys, lookups[issuer], now)
            recorders[issuer].record(time.perf_counter() - s)
            if result.verdict is not Verdict.VALID or not result.status_checked:
                raise RuntimeError(f"local verification answered {result.to_dict()}")
    out: dict[str, Any] = {}
    for issuer, rec in recorders.items():
        summary = rec.summary_ms()
        out[SUITES[issuer]] = {
            "issuer_region": issuer.code,
            "verifications": requests,
            "us_per_verification": {
                k: round(summary[k] * 1e3, 2) for k in ("p50", "p90", "p99", "mean")
            },
            "per_s": round(1e3 / summary["mean"], 1),
        }
    return out


def run_suite_phases(
    client: FederationClient,
    ed25519_verify: Call,
    sm2_pool: Sequence[str],
    opts: Options,
    cpu: ProcessCpu,
) -> Phases:
    """VerifyLicence at VERIFIER of the Ed25519 and the SM2 pool: sequential, then closed cN."""
    sm2_verify = verify_call(client, sm2_pool)
    seconds, failures = wait_until_ok(sm2_verify)
    log(f"first SM2 verification answered after {seconds:.1f} s ({failures} failed)")
    payload = b"x" * round(sum(len(s) for s in sm2_pool) / len(sm2_pool))
    echo = echo_call(client.channel(VERIFIER), payload, CALL_TIMEOUT_S)
    for call in (sm2_verify, ed25519_verify):
        warm_up(call, opts.warmup, opts.concurrency)
    targets = {ECHO: echo, VERIFY: ed25519_verify, VERIFY_SM2: sm2_verify}
    phases = {"suite_sequential": sequential_phase("suite_sequential", targets, opts.requests, log)}
    name = f"suite_{opts.closed_cn}"
    pair = {VERIFY: ed25519_verify, VERIFY_SM2: sm2_verify}
    load = closed_loop(opts.concurrency, cpu)
    describe = f"closed loop, concurrency {opts.concurrency}"
    phases[name] = load_phase(name, pair, load, opts, describe, log)
    return phases


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else round(a / b, 3)


def suites_report(
    kernels: Mapping[str, Any], local: Mapping[str, Any], phases: Phases, opts: Options
) -> dict[str, Any]:
    """The suites section: what ran, per-suite figures, and named ratios SM2 over Ed25519."""
    seq = phases["suite_sequential"].to_dict(baseline=VERIFY)["ratios"][f"{VERIFY_SM2}/{VERIFY}"]
    cn = phases[f"suite_{opts.closed_cn}"].to_dict(baseline=VERIFY)["ratios"]
    closed = cn[f"{VERIFY_SM2}/{VERIFY}"]
    suffix = opts.closed_cn
    figures = {
        "kernel_verify_us_p50_sm2sm3_over_eddsa": _ratio(
            kernels["SM2SM3"]["verify_us"]["p50"], kernels["EdDSA"]["verify_us"]["p50"]
        ),
        "kernel_verify_per_s_sm2sm3_over_eddsa": _ratio(
            kernels["SM2SM3"]["verify_per_s"], kernels["EdDSA"]["verify_per_s"]
        ),
        "kernel_verify_us_p50_es256_over_eddsa": _ratio(
            kernels["ES256"]["verify_us"]["p50"], kernels["EdDSA"]["verify_us"]["p50"]
        ),
        "local_verify_licence_us_p50_sm2_over_ed25519": _ratio(
            local["sm2"]["us_per_verification"]["p50"],
            local["ed25519"]["us_per_verification"]["p50"],
        ),
        "grpc_verify_licence_p50_sm2_over_ed25519_sequential": seq["p50"],
        "grpc_verify_licence_p99_sm2_over_ed25519_sequential": seq["p99"],
        f"grpc_verify_licence_throughput_sm2_over_ed25519_{suffix}": closed["throughput"],
        f"grpc_verify_licence_server_cpu_per_request_sm2_over_ed25519_{suffix}": closed[
            "server_cpu_per_request"
        ],
    }
    return {
        "what": (
            f"{SM2_ISSUER.short} ({SM2_ISSUER.code}) seals, certifies and signs status lists "
            f"with SM2/SM3 (alg SM2SM3, GB/T 35276 default ID), {ISSUER.short} with Ed25519; "
            f"VerifyLicence at {VERIFIER.short} of each pool over one mTLS channel; local "
            "verify_licence figures are first verifications (kept results dropped before each), "
            "while the gRPC phases rotate over small pools the verifier keeps after one pass, so "
            "they compare the kept path of the two suites"
        ),
        "suites": {region.code: suite for region, suite in SUITES.items()},
        "figures": figures,
        "signature_kernels": dict(kernels),
        "local_verification": dict(local),
        "phases": {name: phase.to_dict(baseline=VERIFY) for name, phase in phases.items()},
    }


def measure_suites(
    client: FederationClient,
    ed25519_pool: Sequence[str],
    ed25519_verify: Call,
    opts: Options,
    cpu: ProcessCpu,
    tag: str,
) -> dict[str, Any]:
    """Issue the SM2 pool (untimed), then the kernel, local and gRPC comparisons."""
    log(f"suites: {len(ed25519_pool)} licences at {SM2_ISSUER.short} sealed with SM2/SM3")
    sm2_pool = issue_sm2_pool(client, len(ed25519_pool), tag)
    message = sm2_pool[0].split("~", 1)[0].rsplit(".", 1)[0].encode()
    log(f"suites: signature kernels, {opts.local_requests} verifications per algorithm")
    kernels = signature_kernels(message, opts.local_requests)
    log(f"suites: local verify_licence, {opts.local_requests} per suite")
    local = local_by_suite(
        client, {ISSUER: ed25519_pool, SM2_ISSUER: sm2_pool}, opts.local_requests
    )
    phases = run_suite_phases(client, ed25519_verify, sm2_pool, opts, cpu)
    return suites_report(kernels, local, phases, opts)


__all__ = [
    "PROVISIONED",
    "SM2_ISSUER",
    "VERIFY_SM2",
    "issue_sm2_pool",
    "measure_suites",
    "signature_kernels",
]
