"""Wrong-role and foreign certificates, the confused deputy, personal reads without a token."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import grpc
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

import nodes.servicers as servicers_package
from federation.regions import Region
from nodes.pb.v1 import case_pb2
from tests.adversarial.cases import ITEM, FiledCase
from tests.adversarial.fuzz import all_rpcs, served_services
from tests.adversarial.harness import (
    OK,
    PRECISE,
    AuditLedger,
    Harness,
    Identity,
    Outcome,
    Tally,
    raw_stream,
    raw_unary,
)

HANDSHAKE_REFUSED = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED})


def role_table() -> dict[str, frozenset[str]]:
    """Method path -> roles allowed, merged from every servicer module's ROLES."""
    table: dict[str, frozenset[str]] = {}
    for info in pkgutil.iter_modules(servicers_package.__path__):
        module = importlib.import_module(f"{servicers_package.__name__}.{info.name}")
        table.update(getattr(module, "ROLES", {}))
    return table


def run_wrong_roles(harness: Harness, targets: dict[Region, Identity]) -> Tally:
    """`targets`: node -> the region certificate used against it (never the node's own)."""
    tally = Tally("wrong_roles")
    roles = role_table()
    op = harness.operator()
    ledger = AuditLedger(harness, targets)
    checked = 0
    for region, region_cert in targets.items():
        served = served_services(harness, region, op)
        for rpc in all_rpcs():
            if rpc.service not in served or rpc.path not in roles:
                continue
            allowed = roles[rpc.path]
            empty = GetMessageClass(rpc.request)().SerializeToString()
            for who, role in ((region_cert, "region"), (op, "operator")):
                if role in allowed:
                    continue
                checked += 1
                channel = harness.channel(region, who)
                out = (
                    raw_stream(channel, rpc.path, empty)
                    if rpc.streaming
                    else raw_unary(channel, rpc.path, empty)
                )
                tally.record(
                    f"{region.short} {rpc.path} as {who.name} (needs {'/'.join(sorted(allowed))})",
                    out.code,
                    out.details,
                    out.code is grpc.StatusCode.PERMISSION_DENIED,
                    bucket=rpc.path,
                )
                ledger.expect(region, who, rpc.path, out.code)
        # certificates no role can rescue: listed nowhere, or from another CA, or none at all
        path = "/yrd.federation.v1.DiagnosticsService/Echo"
        for who, expected, audited in (
            (harness.unlisted(), frozenset({grpc.StatusCode.PERMISSION_DENIED}), True),
            (
                harness.unlisted(region_cert.entity_id, "310000"),
                frozenset({grpc.StatusCode.PERMISSION_DENIED}),
                True,
            ),
            (harness.foreign(region_cert.entity_id), HANDSHAKE_REFUSED, False),
            (harness.anonymous(), HANDSHAKE_REFUSED, False),
        ):
            out = raw_unary(harness.channel(region, who), path, b"\x0a\x02hi")
            tally.record(
                f"{region.short} Echo as {who.name}",
                out.code,
                out.details,
                out.code in expected,
                bucket=who.name,
            )
            if audited:
                ledger.expect(region, who, path, out.code)
            harness.drop_channels(region)  # the impostor channels are not reused
    ledger.settle(tally)
    harness.check_nodes(tally, targets)
    tally.notes["role_checks"] = checked
    return tally


def run_confused_deputy(harness: Harness, case: FiledCase, outsider: Region) -> Tally:
    """`outsider` asks the window region for a case it neither owns nor filed."""
    tally = Tally("confused_deputy")
    who = harness.region(outsider)
    ref = case_pb2.CaseRef(case_id=case.case_id, owner_region=case.owner.code)
    service = "/yrd.federation.v1.CaseService/"
    attempts: list[tuple[str, bytes, bool]] = [
        ("GetCase", ref.SerializeToString(), False),
        (
            "WatchCase",
            case_pb2.WatchCaseRequest(case=ref, after_seq=0, max_seconds=2).SerializeToString(),
            True,
        ),
        (
            "RateCase",
            case_pb2.RateCaseRequest(case=ref, score=1, comment="deputy").SerializeToString(),
            False,
        ),
        (
            "SupplementCase",
            case_pb2.SupplementCaseRequest(
                case=ref,
                supplement=case_pb2.SubmitCaseRequest(
                    request_id="deputy-1",
                    item_code="YRD-SH-RS-0101",
                    window_id="AH-W-1",
                    requested_json="{}",
                ),
            ).SerializeToString(),
            False,
        ),
    ]
    ledger = AuditLedger(harness, [case.window, case.owner])
    for via in (case.window, case.owner):  # through the deputy, and straight to the owner
        for method, payload, streaming in attempts:
            channel = harness.channel(via, who)
            out = (
                raw_stream(channel, service + method, payload)
                if streaming
                else raw_unary(channel, service + method, payload)
            )
            leaked = f" (leaked {out.replies} events)" if out.replies else ""
            tally.record(
                f"{outsider.short} -> {via.short} {method} of {case.case_id} "
                f"(owner {case.owner.short}, window {case.window.short}){leaked}",
                out.code,
                out.details,
                out.code is grpc.StatusCode.PERMISSION_DENIED and not out.replies,
                bucket=f"{via.short}:{method}",
            )
            ledger.expect(via, who, service + method, out.code)
    # control: the window region itself may still read its case at the owner
    control = raw_unary(
        harness.channel(case.owner, harness.region(case.window)),
        service + "GetCase",
        ref.SerializeToString(),
    )
    tally.notes["control_window_reads_its_case"] = control.code.name
    if control.code is not OK:
        tally.imprecise += 1
        tally.sample(
            f"control: window {case.window.short} could not read its case: "
            f"{control.code.name} {control.details}"
        )
    ledger.settle(tally)
    harness.check_nodes(tally, [case.window, case.owner, outsider])
    return tally


# --- personal data without the person's token ---------------------------------------------------
PERSONAL_FIELDS = ("holder_code", "subject_id", "case_id", "identifier")
TOKENLESS_REFUSED = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
    }
)


def _aim(msg: Message, case: FiledCase, depth: int = 0) -> bool:
    """Fill the fields that name a real person's data; tokens stay empty. True when any did."""
    values = {
        "holder_code": case.applicant,
        "subject_id": case.applicant,
        "case_id": case.case_id,
        "identifier": case.card,
        "owner_region": case.owner.code,
        "item_code": ITEM,
        "service_item": ITEM,
        "purpose": "adversarial read without consent",
    }
    aimed = False
    fields: list[Any] = list(msg.DESCRIPTOR.fields)
    for f in fields:
        if f.type == f.TYPE_MESSAGE and depth < 2 and not f.message_type.GetOptions().map_entry:
            repeated = getattr(f, "is_repeated", None)
            if repeated is None:
                repeated = f.label == f.LABEL_REPEATED
            if not repeated:
                aimed = _aim(getattr(msg, f.name), case, depth + 1) or aimed
        elif f.type == f.TYPE_STRING and f.name in values and not getattr(msg, f.name, None):
            try:
                setattr(msg, f.name, values[f.name])
            except (TypeError, AttributeError):
                continue
            aimed = aimed or f.name in PERSONAL_FIELDS
    return aimed


def run_tokenless_reads(harness: Harness, case: FiledCase, outsider: Region) -> Tally:
    """A region names a real holder, licence or case but presents no token of that person.

    Every region-callable method whose request names personal data (by the descriptors) is
    tried at the owner region; none may answer OK. `ListLocalLicences` must refuse outright.
    """
    tally = Tally("tokenless_reads")
    who = harness.region(outsider)
    roles = role_table()
    served = served_services(harness, case.owner, harness.operator())
    ledger = AuditLedger(harness, [case.owner])
    tried: list[str] = []
    for rpc in all_rpcs():
        if rpc.service not in served or "region" not in roles.get(rpc.path, {"region"}):
            continue
        msg = GetMessageClass(rpc.request)()
        if not _aim(msg, case):
            continue
        tried.append(rpc.method.name)
        out = _outcome(harness, case.owner, who, rpc.path, rpc.streaming, msg.SerializeToString())
        strict = rpc.method.name == "ListLocalLicences"
        acceptable = out.code in TOKENLESS_REFUSED if strict else out.code in PRECISE
        tally.record(
            f"{outsider.short} -> {case.owner.short} {rpc.method.name} naming "
            f"{case.applicant} without a token",
            out.code,
            out.details,
            acceptable,
            bucket=rpc.path,
        )
        ledger.expect(case.owner, who, rpc.path, out.code)
    ledger.settle(tally)
    harness.check_nodes(tally, [case.owner])
    tally.notes["methods"] = tried
    return tally


def _outcome(
    harness: Harness, region: Region, who: Identity, path: str, streaming: bool, payload: bytes
) -> Outcome:
    channel = harness.channel(region, who)
    return raw_stream(channel, path, payload) if streaming else raw_unary(channel, path, payload)
