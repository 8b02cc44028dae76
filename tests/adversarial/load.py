"""kill -9 under concurrent writes, and many open WatchCase streams against one node."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import partial

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.audit import verify_chain
from federation.regions import Region
from nodes.pb.v1 import (
    case_pb2,
    case_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    licence_pb2,
    licence_pb2_grpc,
)
from tests.adversarial.cases import ID_CARD_FIELDS, FiledCase
from tests.adversarial.harness import (
    CALL_TIMEOUT_S,
    HEALTH_TIMEOUT_S,
    OK,
    PRECISE,
    Harness,
    Tally,
    outcome_of,
    wait_until,
)
from tests.adversarial.tokens import PASSWORD, new_citizen

DIVISION = {Region.SH: "310101", Region.JS: "320102", Region.ZJ: "330106", Region.AH: "340104"}
# while the node is being killed, callers legitimately see it go away
DURING_KILL = PRECISE | {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}


@dataclass
class Acks:
    subjects: list[str] = field(default_factory=list)
    licences: list[tuple[str, str]] = field(default_factory=list)  # (request id, identifier)
    lock: threading.Lock = field(default_factory=threading.Lock)


def run_kill9_under_writes(
    harness: Harness,
    region: Region,
    writers: int = 4,
    before_kill_s: float = 1.5,
    max_writes: int = 400,
) -> Tally:
    """Writers register subjects and issue licences; kill -9 mid-load; nothing acknowledged lost."""
    tally = Tally("kill9_under_writes")
    if harness.fed is None or region not in harness.fed.procs:
        tally.notes["skipped"] = "the harness does not own this node's process"
        return tally
    acks = Acks()
    stop = threading.Event()
    killed = threading.Event()
    budget = iter(range(max_writes))
    tally_lock = threading.Lock()
    op = harness.operator()

    def writer(index: int) -> None:
        # own channels: each writer is an independent client
        creds = op.credentials()
        endpoint, options = harness.endpoint(region), harness.options(region)
        with grpc.secure_channel(endpoint, creds, options=options) as ch:
            ids = identity_pb2_grpc.IdentityServiceStub(ch)
            lic = licence_pb2_grpc.LicenceServiceStub(ch)
            n = 0
            while not stop.is_set() and next(budget, None) is not None:
                n += 1
                subject = new_citizen(DIVISION[region])
                if n % 2:
                    register = identity_pb2.RegisterSubjectRequest(
                        kind="natural", subject_id=subject, name="写入负载", password=PASSWORD
                    )
                    out = outcome_of(partial(ids.RegisterSubject, register, timeout=CALL_TIMEOUT_S))
                    if out.code is OK:
                        with acks.lock:
                            acks.subjects.append(subject)
                else:
                    request_id = f"kill9-{index}-{n}-{secrets.token_hex(3)}"
                    issue = licence_pb2.IssueLicenceRequest(
                        request_id=request_id,
                        licence_type="resident_identity_card",
                        holder_code=subject,
                        holder_name="写入负载",
                        valid_until="2040-01-01",
                        fields_json=json.dumps(ID_CARD_FIELDS, ensure_ascii=False),
                    )
                    out = outcome_of(partial(lic.IssueLicence, issue, timeout=CALL_TIMEOUT_S))
                    if out.code is OK:
                        with acks.lock:
                            acks.licences.append((request_id, str(out.reply.identifier)))
                acceptable = out.code is OK or (killed.is_set() and out.code in DURING_KILL)
                with tally_lock:
                    tally.record(
                        f"writer {index} write {n}",
                        out.code,
                        out.details,
                        acceptable,
                        bucket=out.code.name,
                    )
                if out.code is not OK and killed.is_set():
                    return  # the node is gone: this writer's load ends here

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(writers)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acks.subjects) + len(acks.licences) >= 20, before_kill_s * 4)
    time.sleep(before_kill_s / 3)
    killed.set()
    harness.fed.kill_node(region)
    for t in threads:
        t.join(CALL_TIMEOUT_S * 2)
    stop.set()
    harness.drop_channels(region)
    try:
        harness.fed.start_node(region)
    except Exception as exc:
        tally.crashes += 1
        tally.sample(f"{region.short} did not restart after kill -9: {exc}")
        return tally
    tally.notes["acknowledged_subjects"] = len(acks.subjects)
    tally.notes["acknowledged_licences"] = len(acks.licences)
    _count_losses(harness, region, acks, tally)
    harness.check_nodes(tally, [region])
    return tally


def _count_losses(harness: Harness, region: Region, acks: Acks, tally: Tally) -> None:
    store = harness.store(region)
    try:
        entries = list(store.audit_entries())
        report = verify_chain(entries)
        tally.notes["audit_chain"] = report.to_dict()
        if not report.ok:
            tally.lost += 1
            tally.sample(f"audit chain broken after kill -9: {report.to_dict()}")
        audited_subjects = {e.subject for e in entries if e.action == "identity.register"}
        audited_licences = {
            str(e.detail.get("identifier", "")) for e in entries if e.action == "licence.issue"
        }
        for subject in acks.subjects:
            if store.get_subject(subject) is None:
                tally.lost += 1
                tally.sample(f"acknowledged registration of {subject} lost", bucket="subject")
            elif subject not in audited_subjects:
                tally.lost += 1
                tally.sample(
                    f"acknowledged registration of {subject} has no audit entry",
                    bucket="subject-audit",
                )
        for request_id, identifier in acks.licences:
            if store.get_licence(identifier) is None:
                tally.lost += 1
                tally.sample(
                    f"acknowledged licence {identifier} ({request_id}) lost", bucket="licence"
                )
            elif identifier not in audited_licences:
                tally.lost += 1
                tally.sample(
                    f"acknowledged licence {identifier} has no audit entry", bucket="licence-audit"
                )
    finally:
        store.close()
    # and the restarted node serves what it acknowledged
    stub = identity_pb2_grpc.IdentityServiceStub(harness.channel(region, harness.operator()))
    for subject in acks.subjects[:3]:
        login = identity_pb2.AuthenticateRequest(
            subject_id=subject, password=PASSWORD, audiences=[region.code], requested_acr="low"
        )
        out = outcome_of(partial(stub.Authenticate, login, timeout=CALL_TIMEOUT_S))
        if out.code is not OK:
            tally.lost += 1
            tally.sample(
                f"login of acknowledged {subject} after restart: {out.code.name} {out.details}"
            )


# --- many streams -------------------------------------------------------------------------------
async def _open_streams(
    harness: Harness, case: FiledCase, count: int, tally: Tally, settle_s: float
) -> None:
    owner = case.owner
    who = [harness.operator(), harness.region(case.window)]
    channels = [
        grpc.aio.secure_channel(
            harness.endpoint(owner), w.credentials(), options=harness.options(owner)
        )
        for w in who
    ]
    # the liveness probes use a connection of their own, as a load balancer's checker would
    probe = grpc.aio.secure_channel(
        harness.endpoint(owner), who[1].credentials(), options=harness.options(owner)
    )
    ref = case_pb2.CaseRef(case_id=case.case_id, owner_region=owner.code)
    # after_seq one before the last event: each stream gets exactly one event, then waits
    request = case_pb2.WatchCaseRequest(
        case=ref, after_seq=max(0, case.last_seq - 1), max_seconds=60
    )
    calls = [
        case_pb2_grpc.CaseServiceStub(channels[i % 2]).WatchCase(request, timeout=90)
        for i in range(count)
    ]
    served = 0
    refused: dict[str, int] = {}

    async def first(call: grpc.aio.UnaryStreamCall) -> str:
        try:
            await call.read()
            return "served"
        except grpc.aio.AioRpcError as exc:
            return str(exc.code().name)

    try:
        tasks = [asyncio.ensure_future(first(c)) for c in calls]
        done, pending = await asyncio.wait(tasks, timeout=settle_s)
        for task in done:
            result = task.result()
            if result == "served":
                served += 1
            else:
                refused[result] = refused.get(result, 0) + 1
        tally.notes["streams_opened"] = count
        tally.notes["streams_served_first_event"] = served
        tally.notes["streams_refused"] = refused
        tally.notes["streams_still_waiting_for_first_event"] = len(pending)
        for name, n in refused.items():
            code = grpc.StatusCode[name]
            for _ in range(n):
                tally.record(
                    f"WatchCase stream refused {name}", code, "", code in PRECISE, bucket=name
                )
        # liveness while every stream is still open: health and a unary call, bounded waits
        health = health_pb2_grpc.HealthStub(probe)
        started = time.monotonic()
        try:
            reply = await health.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=HEALTH_TIMEOUT_S
            )
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            code, details = (
                (OK, "") if status == "SERVING" else (grpc.StatusCode.UNAVAILABLE, status)
            )
        except grpc.aio.AioRpcError as exc:
            code, details = exc.code(), exc.details() or ""
        tally.notes["health_check_s"] = round(time.monotonic() - started, 3)
        tally.record(
            "grpc.health.v1.Health/Check while streams are open",
            code,
            details,
            code is OK,
            bucket="health",
        )
        started = time.monotonic()
        try:
            await case_pb2_grpc.CaseServiceStub(probe).GetCase(ref, timeout=HEALTH_TIMEOUT_S)
            code, details = OK, ""
        except grpc.aio.AioRpcError as exc:
            code, details = exc.code(), exc.details() or ""
        tally.notes["unary_get_case_s"] = round(time.monotonic() - started, 3)
        tally.record(
            "CaseService/GetCase while streams are open", code, details, code is OK, bucket="unary"
        )
    finally:
        for c in calls:
            c.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ch in [*channels, probe]:
            await ch.close()


def run_many_streams(
    harness: Harness, case: FiledCase, count: int = 2000, settle_s: float = 10.0
) -> Tally:
    tally = Tally("many_streams")
    asyncio.run(_open_streams(harness, case, count, tally, settle_s))
    # the node recovers once the streams are gone
    wait_until(lambda: harness.health(case.owner, timeout_s=2.0) == "SERVING", 15.0, 0.5)
    harness.check_nodes(tally, [case.owner])
    return tally
