"""A real cross-region case for the attacks that need one: owner SH, filed at the JS window."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from federation.regions import Region
from nodes.pb.v1 import case_pb2, case_pb2_grpc, licence_pb2, licence_pb2_grpc
from tests.adversarial.harness import CALL_TIMEOUT_S, Harness
from tests.adversarial.tokens import issue_token, register_and_login

ITEM = "YRD-SH-RS-0101"  # owned by Shanghai: low assurance, no face, an identity card
OWNER = Region.SH
WINDOW = Region.JS
ID_CARD_FIELDS = {
    "sex": "female",
    "ethnicity": "汉",
    "birth_date": "1990-09-09",
    "address": "上海市黄浦区人民大道 200 号",
    "photo_digest": "sha256:" + "ab" * 32,
}


@dataclass(frozen=True)
class FiledCase:
    case_id: str
    owner: Region
    window: Region
    applicant: str
    last_seq: int
    card: str  # the applicant's identity card, held at the owner region


def wait_for_item(
    harness: Harness, regions: tuple[Region, ...], timeout_s: float = 30.0, item: str = ITEM
) -> None:
    """Until every region's catalogue lists the item (regions publish on their first round)."""
    from federation.cases.catalogue import verify_catalogue

    hub = harness.trust_list.member_by_region(Region.HUB.code, role="hub")
    deadline = time.monotonic() + timeout_s
    pending = set(regions)
    while pending and time.monotonic() < deadline:
        for region in sorted(pending, key=lambda r: r.code):
            stub = case_pb2_grpc.CatalogueServiceStub(harness.channel(region, harness.operator()))
            try:
                reply = stub.GetCatalogue(case_pb2.GetCatalogueRequest(), timeout=CALL_TIMEOUT_S)
                catalogue = verify_catalogue(
                    reply.signed_catalogue,
                    lambda kid: hub.key(kid, time.time(), use="sig"),
                    time.time(),
                )
                if any(entry.code == item for entry in catalogue.items):
                    pending.discard(region)
            except Exception:
                pass
        if pending:
            time.sleep(0.2)
    if pending:
        names = sorted(r.short for r in pending)
        raise TimeoutError(f"item {item} not in the catalogue of {names}")


def file_case(harness: Harness) -> FiledCase:
    """An SH resident applies at a JS window for an SH item; returns the filed case."""
    wait_for_item(harness, (OWNER, WINDOW))
    applicant = register_and_login(harness, OWNER, OWNER)
    op = harness.operator()
    licences = licence_pb2_grpc.LicenceServiceStub(harness.channel(OWNER, op))
    card = licences.IssueLicence(
        licence_pb2.IssueLicenceRequest(
            request_id=f"adv-idc-{secrets.token_hex(4)}",
            licence_type="resident_identity_card",
            holder_code=applicant.subject_id,
            holder_name="对抗测试",
            valid_until="2040-09-09",
            fields_json=json.dumps(ID_CARD_FIELDS, ensure_ascii=False),
        ),
        timeout=CALL_TIMEOUT_S,
    )
    cases = case_pb2_grpc.CaseServiceStub(harness.channel(WINDOW, op))
    view = cases.SubmitCase(
        case_pb2.SubmitCaseRequest(
            request_id=f"adv-{secrets.token_hex(6)}",
            item_code=ITEM,
            owner_region=OWNER.code,
            window_id="JS-W-ADV-01",
            applicant_token=issue_token(harness, applicant, OWNER),
            materials=[
                case_pb2.Material(
                    licence_type="resident_identity_card",
                    identifier=card.identifier,
                    owner_region=OWNER.code,
                )
            ],
            requested_json="{}",
            delivery_method="electronic",
        ),
        timeout=CALL_TIMEOUT_S * 3,
    )
    events = list(
        case_pb2_grpc.CaseServiceStub(harness.channel(OWNER, op)).WatchCase(
            case_pb2.WatchCaseRequest(
                case=case_pb2.CaseRef(case_id=view.case_id, owner_region=OWNER.code),
                after_seq=0,
                max_seconds=1,
            ),
            timeout=CALL_TIMEOUT_S,
        )
    )
    last = max((e.seq for e in events), default=0)
    return FiledCase(view.case_id, OWNER, WINDOW, applicant.subject_id, last, card.identifier)
