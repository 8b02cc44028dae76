"""Local licence verification: verify_licence in this process, beside the Ed25519 floor."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks.harness import LatencyRecorder
from benchmarks.licence.config import CALL_TIMEOUT_S, ISSUER, log
from federation.crypto.jose import Jwk, b64url_decode
from federation.licences import Verdict, VerifiedStatusList, verify_licence, verify_status_list
from federation.licences.seal import forget_verified_licences
from nodes.client import FederationClient
from nodes.pb.v1 import licence_pb2, licence_pb2_grpc

KeyLookup = Callable[[str, str], Jwk]
MODE = (
    "in-process, single thread, status list pre-fetched (no network); first verifications "
    "(kept results dropped before each) and kept ones (the same licences again)"
)


def local_verification(
    client: FederationClient, pool: Sequence[str], requests: int
) -> dict[str, Any]:
    """verify_licence in this process, single thread: seal, certificate chain to the trust
    list, validity and status from a status list fetched (and verified) once beforehand."""
    log(f"local verification: {requests} in-process verifications")
    now = time.time()
    uri = _sealed_status_uri(pool[0])
    seal_keys, status = _seal_keys(client, now), _status_list(client, uri, now)

    def lookup(_: str) -> VerifiedStatusList:
        return status

    def verify(sd_jwt: str) -> Verdict:
        return verify_licence(sd_jwt, seal_keys, lookup, now).verdict

    _check_pool(pool, seal_keys, lookup, now)

    def verify_first(sd_jwt: str) -> Verdict:
        forget_verified_licences()  # a licence never seen: seal, certificate, disclosures
        return verify(sd_jwt)

    rec, elapsed, cpu = _time_verifications(verify_first, pool, requests)
    kept, kept_elapsed, _ = _time_verifications(verify, pool, requests)
    ed_us = _ed25519_verify_us(pool[0], max(200, requests))
    per_us = elapsed / requests * 1e6
    return {
        "mode": MODE,
        "verifications": requests,
        "distinct_licences": len(pool),
        "elapsed_s": round(elapsed, 4),
        "per_s": round(requests / elapsed, 1),
        # every verification a first one (the kept results are dropped before each)
        "us_per_verification": round(per_us, 2),
        "cpu_s": round(cpu, 4),
        "latency_us": _us(rec),
        # the same licences again: a kept result re-checks only its region key and seal time
        "us_per_verification_kept": round(kept_elapsed / requests * 1e6, 2),
        "latency_us_kept": _us(kept),
        "ed25519_verify_us": round(ed_us, 2),
        # the seal's own signature: its seal certificate's (the region's) is verified once per
        # certificate and kept, and forget_verified_licences leaves that cache alone
        "signatures_per_licence": 1,
        "signature_share": round(ed_us / per_us, 3),
        "status_list_uri": uri,
    }


def _us(rec: LatencyRecorder) -> dict[str, float]:
    return {k: (v if k == "count" else round(v * 1e3, 1)) for k, v in rec.summary_ms().items()}


def _seal_keys(client: FederationClient, now: float) -> KeyLookup:
    trust = client.trust_list

    def seal_keys(region_code: str, kid: str) -> Jwk:
        return trust.member_by_region(region_code).key(kid, now, use="seal")

    return seal_keys


def _sealed_status_uri(sd_jwt: str) -> str:
    """The status list uri a licence names (the issuer's public https address)."""
    claims = json.loads(b64url_decode(sd_jwt.split("~", 1)[0].split(".")[1]))
    return str(claims["status"]["status_list"]["uri"])


def _status_list(client: FederationClient, uri: str, now: float) -> VerifiedStatusList:
    """ISSUER's status list, fetched once over the network and verified against the trust list."""
    trust = client.trust_list

    def sig_keys(region_code: str, kid: str) -> Jwk:
        return trust.member_by_region(region_code).key(kid, now, use="sig")

    stub = licence_pb2_grpc.LicenceServiceStub(client.channel(ISSUER))
    request = licence_pb2.GetStatusListRequest(uri=uri)
    token = str(stub.GetStatusList(request, timeout=CALL_TIMEOUT_S).token)
    return verify_status_list(token, sig_keys, now, expected_uri=uri, expected_region=ISSUER)


def _check_pool(
    pool: Sequence[str],
    seal_keys: KeyLookup,
    lookup: Callable[[str], VerifiedStatusList],
    now: float,
) -> None:
    """Every licence of the pool is valid, with its status checked."""
    for sd_jwt in pool:
        verdict = verify_licence(sd_jwt, seal_keys, lookup, now)
        if verdict.verdict is not Verdict.VALID or not verdict.status_checked:
            raise RuntimeError(f"local verification answered {verdict.to_dict()}")


def _time_verifications(
    verify: Callable[[str], Verdict], pool: Sequence[str], requests: int
) -> tuple[LatencyRecorder, float, float]:
    """`requests` verifications over the pool in rotation: latencies, wall and CPU seconds."""
    n = len(pool)
    rec = LatencyRecorder()
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(requests):
        s = time.perf_counter()
        verdict = verify(pool[i % n])
        rec.samples.append(time.perf_counter() - s)
        if verdict is not Verdict.VALID:
            raise RuntimeError(f"local verification answered {verdict.value}")
    return rec, time.perf_counter() - t0, time.process_time() - cpu0


def _ed25519_verify_us(sd_jwt: str, count: int) -> float:
    """The cryptographic floor: one Ed25519 verification of a signature over a licence-sized
    input, in microseconds."""
    key = Ed25519PrivateKey.generate()
    message = sd_jwt.split("~", 1)[0].rsplit(".", 1)[0].encode()
    signature, public = key.sign(message), key.public_key()
    e0 = time.perf_counter()
    for _ in range(count):
        public.verify(signature, message)
    return (time.perf_counter() - e0) / count * 1e6
