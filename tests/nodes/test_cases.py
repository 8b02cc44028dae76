"""Remote virtual window on real nodes: catalogue, a case end to end, watch, bad input, stats."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.cases.archive import verify_archive
from federation.cases.catalogue import Catalogue, starter_catalogue, verify_catalogue
from federation.cases.desk import case_id_for
from federation.cases.workdays import end_of_day
from federation.codes import make_credit_code
from federation.crypto.jose import Jwk
from federation.errors import (
    AlreadyExists,
    FailedPrecondition,
    FederationError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from federation.regions import Region
from federation.storage import open_store
from federation.storage.base import CaseRecord
from nodes.client import FederationClient
from nodes.client.cases import material
from nodes.config import load_config
from nodes.convert.cases import case_view
from nodes.demo.licences import DRIVING_FIELDS, business_fields
from nodes.ops.provisioning import Layout
from nodes.pb.v1 import case_pb2, case_pb2_grpc
from nodes.peering.targets import server_name_options
from tests._support.nodes import audit_head, audit_since, eventually, new_citizen, template

JS, SH, AH = "320000", "310000", "340000"
ITEM = "YRD-JS-QY-0101"  # 企业变更登记, owned by Jiangsu: face, substantial, 1 working day
PASSWORD = "Huangshan-peak-90"
_seeds = iter(range(7000, 8000))


# --- helpers ----------------------------------------------------------------------------------
def hub_key(client: FederationClient) -> Callable[[str], Jwk]:
    hub = client.trust_list.member_by_region(Region.HUB.code, role="hub")
    return lambda kid: hub.key(kid, time.time(), use="sig")


def seal_keys(client: FederationClient) -> Callable[[str, str], Jwk]:
    def resolve(region_code: str, kid: str) -> Jwk:
        return client.trust_list.member_by_region(region_code).key(kid, time.time(), use="seal")

    return resolve


def signed_catalogue(client: FederationClient, region: str) -> Catalogue:
    reply = client.get_catalogue(region)
    return verify_catalogue(reply.signed_catalogue, hub_key(client), time.time())


@pytest.fixture(scope="module")
def catalogue_ready(client: FederationClient) -> Catalogue:
    """Every region has published into the hub and the window and owner hold the full list."""
    full = len(starter_catalogue().items)

    def ready() -> Catalogue:
        hub = signed_catalogue(client, "HUB")
        assert len(hub.items) == full
        for region in ("SH", "JS", "AH"):
            assert len(signed_catalogue(client, region).items) == full
        return hub

    return eventually(ready, timeout_s=30)


def js_store_cases(fed_dir: Path, **filters: str) -> list[CaseRecord]:
    store = open_store(load_config(fed_dir / "js.toml").store_url)
    try:
        return store.list_cases(**filters)
    finally:
        store.close()


@dataclass
class Applicant:
    """An Anhui resident with a Zhejiang account, a Jiangsu company and an Anhui identity card."""

    client: FederationClient
    citizen: str
    company: str
    face: list[float]
    biz: str
    idc: str
    session_id: str
    secret: str
    window_id: str

    def token(self, region: str) -> str:
        return self.client.issue_token("ZJ", self.session_id, self.secret, region)

    def materials(self, with_idc: bool = True) -> list[case_pb2.Material]:
        out = [material("business_licence", self.biz, "JS")]
        if with_idc:
            out.append(material("resident_identity_card", self.idc, "AH", self.token("AH")))
        return out

    def request(self, request_id: str, **changes: Any) -> dict[str, Any]:
        """Keyword arguments of one submission at the Shanghai window, fresh token and face."""
        face = self.client.check_face("SH", self.citizen, self.face).assertion
        options: dict[str, Any] = {
            "request_id": request_id,
            "item_code": ITEM,
            "window_id": self.window_id,
            "applicant_token": self.token("JS"),
            "face_assertion": face,
            "on_behalf_of": self.company,
            "materials": self.materials(),
            "requested": {"domicile": "苏州工业园区金鸡湖大道 88 号"},
            "note": "迁移住所",
        }
        options.update(changes)
        return options

    def submit(self, request_id: str, **changes: Any) -> case_pb2.CaseView:
        return self.client.submit_case("SH", **self.request(request_id, **changes))


def new_applicant(client: FederationClient, acr: str = "substantial") -> Applicant:
    citizen = new_citizen("340104")
    face = template(next(_seeds))
    company = make_credit_code("9", "1", "320506", "MA" + secrets.token_hex(3).upper())
    client.register("ZJ", "natural", citizen, "李娜", PASSWORD)
    client.enrol_face("ZJ", citizen, PASSWORD, face)
    tag = secrets.token_hex(4)
    biz = client.issue_licence(
        "JS",
        f"case-biz-{tag}",
        "business_licence",
        company,
        "苏州湖畔科技有限公司",
        {**business_fields("李娜"), "legal_representative_id": citizen},
    )
    idc = client.issue_licence(
        "AH",
        f"case-idc-{tag}",
        "resident_identity_card",
        citizen,
        "李娜",
        {
            "sex": "female",
            "ethnicity": "汉",
            "birth_date": "1990-09-09",
            "address": "合肥市蜀山区长江西路 1 号",
            "photo_digest": "sha256:" + "ab" * 32,
        },
        valid_until="2040-09-09",
    )
    login = client.login("ZJ", citizen, PASSWORD, ["JS", "AH"], acr, face)
    return Applicant(
        client,
        citizen,
        company,
        face,
        biz.identifier,
        idc.identifier,
        login.session_id,
        login.session_secret,
        f"SH-T-{tag}",
    )


class Watcher:
    """Collects WatchCase events in a thread (bounded by max_seconds)."""

    def __init__(self, client: FederationClient, region: str, case_id: str) -> None:
        self.events: list[case_pb2.CaseEventMessage] = []
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.events.extend(client.watch_case(region, case_id, "JS", max_seconds=30))
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> list[tuple[int, str, str]]:
        self.thread.join(timeout=40)
        assert not self.thread.is_alive(), "the watch stream did not end at the closed event"
        assert self.error is None, self.error
        return [(e.seq, e.from_state, e.to_state) for e in self.events]


LIFECYCLE = [
    (1, "", "submitted"),
    (2, "submitted", "accepted"),
    (3, "accepted", "under_review"),
    (4, "under_review", "returned"),
    (5, "returned", "submitted"),
    (6, "submitted", "accepted"),
    (7, "accepted", "under_review"),
    (8, "under_review", "approved"),
    (9, "approved", "result_issued"),
    (10, "result_issued", "closed"),
]


# --- catalogue --------------------------------------------------------------------------------
def test_hub_catalogue_is_signed_and_spans_the_four_provinces(
    client: FederationClient, catalogue_ready: Catalogue
) -> None:
    reply = client.get_catalogue("HUB")
    catalogue = verify_catalogue(reply.signed_catalogue, hub_key(client), time.time())
    assert reply.version == catalogue.version >= 1
    assert len(catalogue.items) >= 20
    owners = {item.owner_region for item in catalogue.items}
    assert owners == {SH, JS, "330000", AH}
    assert all(len(catalogue.items_of(region)) >= 5 for region in owners)
    assert catalogue.get(ITEM).owner_region == JS
    assert {i.code: i for i in catalogue.items} == {i.code: i for i in starter_catalogue().items}
    # signed by the hub: Shanghai's key does not verify it, and an altered payload is refused
    sh = client.trust_list.member_by_region(SH)
    with pytest.raises(FederationError):
        verify_catalogue(
            reply.signed_catalogue, lambda kid: sh.key(kid, time.time(), use="sig"), time.time()
        )
    header, payload, signature = reply.signed_catalogue.split(".")
    tampered = f"{header}.{payload[:-4]}{'AAAA' if payload[-4:] != 'AAAA' else 'BBBB'}.{signature}"
    with pytest.raises(FederationError):
        verify_catalogue(tampered, hub_key(client), time.time())


def credentials_of(fed_dir: Path, who: str) -> grpc.ChannelCredentials:
    """mTLS credentials of a node (`sh`, `js`, ...) or of the `operator` console."""
    holder = fed_dir / who
    return grpc.ssl_channel_credentials(
        root_certificates=Layout(fed_dir).ca_cert.read_bytes(),
        private_key=(holder / "tls.key").read_bytes(),
        certificate_chain=(holder / "tls.crt").read_bytes(),
    )


def region_channel(fed_dir: Path, client: FederationClient, who: str, target: str) -> grpc.Channel:
    member = client.member(target)
    return grpc.secure_channel(
        member.endpoint, credentials_of(fed_dir, who), server_name_options(member.entity_id)
    )


def publish(channel: grpc.Channel, items: list[dict[str, Any]]) -> case_pb2.GetCatalogueResponse:
    stub = case_pb2_grpc.CatalogueServiceStub(channel)
    request = case_pb2.PublishItemsRequest(items_json=json.dumps(items, ensure_ascii=False))
    reply: case_pb2.GetCatalogueResponse = stub.PublishItems(request, timeout=5)
    return reply


def test_a_region_publishes_only_its_own_items(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    starter = starter_catalogue()
    own = [item.to_dict() for item in starter.items_of(SH)]
    before = client.get_catalogue("HUB").version
    with region_channel(fed_dir, client, "sh", "HUB") as channel:
        # republishing its own unchanged items is idempotent: same version
        assert publish(channel, own).version == before
        stolen = starter.get(ITEM).to_dict()
        with pytest.raises(grpc.RpcError) as info:
            publish(channel, [*own, stolen])
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert f"cannot publish {ITEM}, an item of region {JS}" in (info.value.details() or "")
        # nor may it take over a Jiangsu code by claiming to own it
        hijacked = {**stolen, "owner_region": SH}
        with pytest.raises(grpc.RpcError) as info:
            publish(channel, [*own, hijacked])
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "cannot take it over" in (info.value.details() or "")
    # the operator is no region: PublishItems is for the region role only
    with pytest.raises(grpc.RpcError) as info:
        publish(client.channel("HUB"), own)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    after = signed_catalogue(client, "HUB")
    assert after.version == before
    assert after.get(ITEM).owner_region == JS
    assert len(after.items_of(SH)) == len(own)


# --- a case end to end ------------------------------------------------------------------------
def test_remote_window_case_end_to_end(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    submitted = li.submit("e2e-" + li.window_id)
    case_id = submitted.case_id
    assert submitted.created and submitted.state == "accepted"
    assert case_id == case_id_for(JS, SH, "e2e-" + li.window_id)
    assert (submitted.owner_region, submitted.window_region) == (JS, SH)
    assert (submitted.window_id, submitted.applicant_id) == (li.window_id, li.citizen)
    assert not submitted.overdue and submitted.deadline_at > submitted.created_at
    data = json.loads(submitted.data_json)
    via = {m["licence_type"]: (m["via"], m["owner_region"]) for m in data["materials"]}
    assert via == {
        "business_licence": ("local", JS),
        "resident_identity_card": ("exchange", AH),
    }
    # Jiangsu read only the identity-card fields the item lists, never the address
    idc = next(m for m in data["materials"] if m["licence_type"] == "resident_identity_card")
    assert set(idc["fields"]) == {"holder_name", "holder_code"}
    assert data["face_score"] > 0.9 and data["on_behalf_of"] == li.company

    at_window = Watcher(client, "SH", case_id)  # proxied by Shanghai to Jiangsu
    at_owner = Watcher(client, "JS", case_id)
    client.decide_case("JS", case_id, "start_review", reviewer="JS-AMR-reviewer-3")
    returned = client.decide_case(
        "JS", case_id, "return", "state the new domicile in full", "JS-AMR-reviewer-3"
    )
    assert returned.state == "returned"
    again = client.supplement_case(
        "SH",
        case_id,
        "JS",
        li.token("JS"),
        [],
        note="股东会决议已补充",
        requested={"domicile": "苏州工业园区金鸡湖大道 88 号 2 幢"},
    )
    assert again.state == "accepted"
    client.decide_case("JS", case_id, "start_review", reviewer="JS-AMR-reviewer-3")
    closed = client.decide_case("JS", case_id, "approve", "材料齐全", "JS-AMR-reviewer-3")
    assert closed.state == "closed" and not closed.overdue
    result = json.loads(closed.data_json)["result_licence"]
    assert at_window.join() == LIFECYCLE
    assert at_owner.join() == LIFECYCLE
    detail = json.loads(at_window.events[3].detail_json)
    assert detail["reason"] == "state the new domicile in full"
    assert at_window.events[3].actor == "JS-AMR-reviewer-3"

    # the new business licence: the company's, with the requested domicile, and in her
    # aggregation as the legal representative; the licence it replaced is revoked
    document = client.get_licence("JS", result)
    assert document.holder_code == li.company and document.status == "valid"
    verdict = client.verify_licence("SH", document.sd_jwt)
    assert verdict.verdict == "valid"
    licence = json.loads(verdict.licence_json)
    assert licence["holder_code"] == li.company
    assert licence["fields"]["domicile"] == "苏州工业园区金鸡湖大道 88 号 2 幢"
    assert licence["fields"]["legal_representative_id"] == li.citizen
    assert client.get_licence("JS", li.biz).status == "revoked"
    listed = client.list_holder_licences("AH", li.token("AH"))
    mine = {lic.identifier: lic.status for r in listed.regions for lic in r.licences}
    assert mine.get(result) == "valid"
    assert mine.get(li.idc) == "valid"

    rating = client.rate_case("SH", case_id, "JS", li.token("JS"), 5, ["一次办成"], "快")
    assert (rating.case_id, rating.score) == (case_id, 5)
    with pytest.raises(AlreadyExists):
        client.rate_case("SH", case_id, "JS", li.token("JS"), 1)

    archive = client.export_case("JS", case_id)
    verified = verify_archive(archive, seal_keys(client), time.time())
    assert (verified.case_id, verified.item_code, verified.owner_region) == (case_id, ITEM, JS)
    content = verified.archive
    assert [(e["from_state"], e["to_state"]) for e in content["events"]] == [
        (f, t) for _, f, t in LIFECYCLE
    ]
    assert content["rating"]["score"] == 5
    assert {m["identifier"] for m in content["materials"]} == {li.biz, li.idc}
    assert content["audit_hashes"] and all(a["hash"] for a in content["audit_hashes"])
    header, payload, signature = archive.split(".")
    forged = f"{header}.{payload[:-4]}{'AAAA' if payload[-4:] != 'AAAA' else 'BBBB'}.{signature}"
    with pytest.raises(FederationError):
        verify_archive(forged, seal_keys(client), time.time())

    # the statistics of this window (unique to the test) count exactly this case
    stats = client.stats("JS")
    window = next(w for w in stats["windows"] if w["window_id"] == li.window_id)
    assert window["window_region"] == SH
    assert (window["volume"], window["approved"], window["rejected"]) == (1, 1, 0)
    assert (window["returned"], window["return_events"]) == (1, 1)
    assert window["first_time_success"] == 0 and window["first_time_success_rate"] == 0.0
    assert window["time_to_decision"]["count"] == 1 and window["overdue"] == 0
    assert window["ratings"]["count"] == 1 and window["ratings"]["mean"] == 5.0
    item = next(i for i in stats["items"] if i["item_code"] == ITEM)
    assert item["volume"] >= 1 and stats["overall"]["volume"] >= item["volume"]
    assert [c.case_id for c in js_store_cases(fed_dir, applicant_id=li.citizen)] == [case_id]


def test_watch_after_a_sequence_number_resumes_and_ends_at_closed(
    client: FederationClient, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    case_id = li.submit("watch-" + li.window_id).case_id
    client.decide_case("JS", case_id, "start_review", reviewer="JS-AMR-reviewer-3")
    client.decide_case(
        "JS", case_id, "reject", "not a registration change", reviewer="JS-AMR-reviewer-3"
    )
    for region in ("SH", "JS"):
        events = list(client.watch_case(region, case_id, "JS", after_seq=2, max_seconds=10))
        assert [(e.seq, e.to_state) for e in events] == [
            (3, "under_review"),
            (4, "rejected"),
            (5, "closed"),
        ]
    with pytest.raises((NotFound, PermissionDenied)):
        list(client.watch_case("SH", "C32-NO-SUCH-CASE", "JS", max_seconds=5))


# --- bad input --------------------------------------------------------------------------------
def refused(
    fed_dir: Path, region: str, after: int, code: str, method: str = "SubmitCase"
) -> list[Any]:
    """Refusals of CaseService `method` audited at `region` after audit entry `after`."""
    return [
        e
        for e in audit_since(fed_dir, region, after)
        if e.outcome == f"refused:{code}" and e.action.endswith(f"CaseService/{method}")
    ]


def test_bad_submissions_get_precise_codes_leave_no_case_and_are_audited(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    head = audit_head(fed_dir, "js")

    with pytest.raises(FailedPrecondition, match="missing material for item YRD-JS-QY-0101"):
        li.submit("bad-missing-" + li.window_id, materials=li.materials(with_idc=False))
    [missing] = refused(fed_dir, "js", head, "FAILED_PRECONDITION")
    sh_entity = client.trust_list.member_by_region(SH).entity_id
    assert missing.actor == sh_entity  # the window region forwarded it
    assert "resident_identity_card" in missing.detail["reason"]

    low = client.login("ZJ", li.citizen, PASSWORD, ["JS"], "low")
    head = audit_head(fed_dir, "js")
    with pytest.raises(PermissionDenied, match="below the required substantial"):
        li.submit(
            "bad-low-" + li.window_id,
            applicant_token=client.issue_token("ZJ", low.session_id, low.session_secret, "JS"),
        )
    [below] = refused(fed_dir, "js", head, "PERMISSION_DENIED")
    assert "level of assurance low" in below.detail["reason"]

    head = audit_head(fed_dir, "js")
    with pytest.raises(PermissionDenied, match="requires a face verification"):
        li.submit("bad-face-" + li.window_id, face_assertion="")
    assert refused(fed_dir, "js", head, "PERMISSION_DENIED")

    # an unknown item is refused at the window already, and at the owner when sent there
    with pytest.raises(NotFound, match="YRD-JS-QY-9999"):
        li.submit("bad-item-" + li.window_id, item_code="YRD-JS-QY-9999")
    head = audit_head(fed_dir, "js")
    with pytest.raises(NotFound, match="YRD-JS-QY-9999"):
        client.submit_case(
            "JS",
            request_id="bad-item-owner-" + li.window_id,
            item_code="YRD-JS-QY-9999",
            owner_region="JS",
            window_id=li.window_id,
            applicant_token=li.token("JS"),
            materials=li.materials(),
        )
    assert refused(fed_dir, "js", head, "NOT_FOUND")

    # none of the refused requests left a case behind
    for request_id in ("bad-missing-", "bad-low-", "bad-face-", "bad-item-"):
        rid = request_id + li.window_id
        assert case_id_for(JS, SH, rid) not in {c.case_id for c in js_store_cases(fed_dir)}
    assert js_store_cases(fed_dir, applicant_id=li.citizen) == []

    # the corrected request is filed; a retry is the same case, other content is refused
    request = li.request("good-" + li.window_id)
    good = client.submit_case("SH", **request)
    retry = client.submit_case("SH", **request)  # the very same, spent one-time tokens included
    assert good.created and not retry.created and retry.case_id == good.case_id
    head = audit_head(fed_dir, "js")
    with pytest.raises(AlreadyExists, match="different content"):
        li.submit("good-" + li.window_id, note="something else")
    assert refused(fed_dir, "js", head, "ALREADY_EXISTS")
    assert [c.case_id for c in js_store_cases(fed_dir, applicant_id=li.citizen)] == [good.case_id]
    stored = js_store_cases(fed_dir, applicant_id=li.citizen)[0]
    assert stored.data["note"] == "迁移住所"


def test_bad_decisions_get_precise_codes_and_change_nothing(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    case = li.submit("decide-" + li.window_id)
    head = audit_head(fed_dir, "js")
    with pytest.raises(FailedPrecondition, match="cannot approve a case that is accepted"):
        client.decide_case("JS", case.case_id, "approve", reviewer="JS-AMR-reviewer-3")
    assert refused(fed_dir, "js", head, "FAILED_PRECONDITION", "DecideCase")
    # a region that does not own the item cannot decide: the operator asking Shanghai ...
    with pytest.raises(PermissionDenied, match="belongs to region 320000"):
        client.decide_case("SH", case.case_id, "start_review", reviewer="JS-AMR-reviewer-3")
    # ... nor Shanghai's node identity asking Jiangsu
    with region_channel(fed_dir, client, "sh", "JS") as channel:
        stub = case_pb2_grpc.CaseServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.DecideCase(
                case_pb2.DecideCaseRequest(case_id=case.case_id, action="start_review"),
                timeout=5,
            )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(NotFound):
        client.decide_case(
            "JS", "C32-00000000000000000000", "start_review", reviewer="JS-AMR-reviewer-3"
        )
    client.decide_case("JS", case.case_id, "start_review", reviewer="JS-AMR-reviewer-3")
    with pytest.raises(FederationError, match="a reason is required to return"):
        client.decide_case("JS", case.case_id, "return", reviewer="JS-AMR-reviewer-3")
    with pytest.raises(FailedPrecondition, match="rate it once it is closed"):
        client.rate_case("SH", case.case_id, "JS", li.token("JS"), 5)
    with pytest.raises(FailedPrecondition, match="only closed cases are archived"):
        client.export_case("JS", case.case_id)
    with pytest.raises(FailedPrecondition, match="cannot resubmit a case that is under_review"):
        client.supplement_case("SH", case.case_id, "JS", li.token("JS"), [])
    view = client.get_case("SH", case.case_id, "JS")
    assert view.state == "under_review" and view.version == 3


def test_the_window_region_reads_its_case_at_the_owner(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    case = li.submit("read-" + li.window_id)
    with region_channel(fed_dir, client, "sh", "JS") as channel:
        stub = case_pb2_grpc.CaseServiceStub(channel)
        view = stub.GetCase(case_pb2.CaseRef(case_id=case.case_id, owner_region=JS), timeout=5)
    assert view.case_id == case.case_id and view.window_region == SH


def test_a_third_region_cannot_read_a_case(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    case = li.submit("third-" + li.window_id)
    ref = case_pb2.CaseRef(case_id=case.case_id, owner_region=JS)
    with region_channel(fed_dir, client, "zj", "JS") as channel:
        stub = case_pb2_grpc.CaseServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetCase(ref, timeout=5)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as info:
            list(stub.WatchCase(case_pb2.WatchCaseRequest(case=ref, max_seconds=2), timeout=5))
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_third_region_cannot_make_the_window_region_its_deputy(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    """Anhui asks Shanghai (the window) to forward calls on a Jiangsu case it has no part in."""
    li = new_applicant(client)
    case = li.submit("deputy-" + li.window_id)
    ref = case_pb2.CaseRef(case_id=case.case_id, owner_region=JS)
    head = audit_head(fed_dir, "sh")
    with region_channel(fed_dir, client, "ah", "SH") as channel:
        stub = case_pb2_grpc.CaseServiceStub(channel)
        calls: dict[str, Callable[[], object]] = {
            "GetCase": lambda: stub.GetCase(ref, timeout=5),
            "WatchCase": lambda: list(
                stub.WatchCase(case_pb2.WatchCaseRequest(case=ref, max_seconds=2), timeout=5)
            ),
            "RateCase": lambda: stub.RateCase(
                case_pb2.RateCaseRequest(case=ref, applicant_token=li.token("SH"), score=5),
                timeout=5,
            ),
            "SupplementCase": lambda: stub.SupplementCase(
                case_pb2.SupplementCaseRequest(case=ref), timeout=5
            ),
        }
        for method, call in calls.items():
            with pytest.raises(grpc.RpcError) as info:
                call()
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, method
            assert "forwards only its own operator" in (info.value.details() or ""), method
            assert refused(fed_dir, "sh", head, "PERMISSION_DENIED", method), method


def test_the_owner_refuses_a_region_forwarding_for_anyone_but_an_operator(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    """Shanghai is the case's window, but says it acts for Anhui: the owner refuses."""
    li = new_applicant(client)
    case = li.submit("for-whom-" + li.window_id)
    ref = case_pb2.CaseRef(case_id=case.case_id, owner_region=JS)
    ah = client.trust_list.member_by_region(AH).entity_id
    with region_channel(fed_dir, client, "sh", "JS") as channel:
        stub = case_pb2_grpc.CaseServiceStub(channel)
        for origin in (ah, "yrd:nobody:999999"):
            with pytest.raises(grpc.RpcError) as info:
                stub.GetCase(ref, timeout=5, metadata=(("yrd-forwarded-for", origin),))
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        operator = "yrd:operator:100000"
        view = stub.GetCase(ref, timeout=5, metadata=(("yrd-forwarded-for", operator),))
        assert view.case_id == case.case_id


def test_a_provident_fund_archive_is_not_sealed_by_public_security(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    """The item's department (江苏省住房公积金管理中心) has no authority at Jiangsu: refused."""
    li = new_applicant(client)
    case = client.submit_case(
        "SH",
        request_id="gjj-" + li.window_id,
        item_code="YRD-JS-GJJ-0101",
        window_id=li.window_id,
        applicant_token=li.token("JS"),
        materials=[material("resident_identity_card", li.idc, "AH", li.token("AH"))],
    )
    client.decide_case("JS", case.case_id, "start_review", reviewer="JS-GJJ-1")
    closed = client.decide_case("JS", case.case_id, "approve", reviewer="JS-GJJ-2")
    assert closed.state == "closed" and closed.reviewer == "JS-GJJ-2"
    head = audit_head(fed_dir, "js")
    with pytest.raises(FailedPrecondition, match="江苏省住房公积金管理中心"):
        client.export_case("JS", case.case_id)
    assert refused(fed_dir, "js", head, "FAILED_PRECONDITION", "ExportCase")


def test_an_archive_is_sealed_by_the_items_own_department(
    client: FederationClient, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    case = li.submit("sealer-" + li.window_id)
    client.decide_case("JS", case.case_id, "start_review", reviewer="JS-AMR-1")
    client.decide_case("JS", case.case_id, "approve", reviewer="JS-AMR-2")
    archive = client.export_case("JS", case.case_id)
    verified = verify_archive(archive, seal_keys(client), time.time())
    assert "市场监督管理" in verified.authority_name  # SAMR's, not public security's
    assert [d["reviewer"] for d in verified.archive["decisions"]] == ["JS-AMR-1", "JS-AMR-2"]


# --- a reviewer's queue: ListCases ------------------------------------------------------------
def ids(page: case_pb2.ListCasesResponse) -> list[str]:
    return [view.case_id for view in page.cases]


def test_list_cases_pages_newest_first_and_filters(
    client: FederationClient, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    filed = [li.submit(f"list-{n}-{li.window_id}").case_id for n in range(3)]
    client.decide_case("JS", filed[0], "start_review", reviewer="JS-AMR-reviewer-3")
    newest = list(reversed(filed))

    first = client.list_cases("JS", window_id=li.window_id, page_size=2)
    assert ids(first) == newest[:2] and first.next_page_token
    second = client.list_cases(
        "JS", window_id=li.window_id, page_size=2, page_token=first.next_page_token
    )
    assert ids(second) == newest[2:] and second.next_page_token == ""
    walked = client.iter_cases("JS", window_id=li.window_id, page_size=1)
    assert [view.case_id for view in walked] == newest
    # a token resumes the same list at another page size
    rest = client.list_cases("JS", window_id=li.window_id, page_token=first.next_page_token)
    assert ids(rest) == newest[2:]

    queue = client.list_cases("JS", window_id=li.window_id, state="accepted")
    assert ids(queue) == newest[:2] and {v.reviewer for v in queue.cases} == {""}
    [reviewing] = client.list_cases("JS", window_id=li.window_id, state="under_review").cases
    assert reviewing.case_id == filed[0] and reviewing.reviewer == "JS-AMR-reviewer-3"
    assert ids(client.list_cases("JS", window_id=li.window_id, item_code=ITEM)) == newest
    assert ids(client.list_cases("JS", window_id=li.window_id, item_code="YRD-JS-GA-0101")) == []
    assert ids(client.list_cases("JS", window_id=li.window_id, state="closed")) == []
    # the newest of all the owner's cases come first
    assert ids(client.list_cases("JS", page_size=1)) == [newest[0]]
    # the window region forwards for its own operator
    assert ids(client.list_cases("SH", owner="JS", window_id=li.window_id)) == newest
    # the owner has no such cases of another region
    assert ids(client.list_cases("SH", window_id=li.window_id)) == []


def test_list_cases_refuses_bad_input_precisely_and_audits_it(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    filed = [li.submit(f"listbad-{n}-{li.window_id}").case_id for n in range(2)]
    page = client.list_cases("JS", window_id=li.window_id, page_size=1)
    assert ids(page) == [filed[1]] and page.next_page_token
    head = audit_head(fed_dir, "js")
    bad: dict[str, dict[str, Any]] = {
        "is not a token": {"page_token": "not-a-token"},
        "is not a token ": {"page_token": page.next_page_token[:-3] + "xyz"},
        "other filters": {"page_token": page.next_page_token, "state": "accepted"},
        "page_size": {"page_size": 101},
        "page_size ": {"page_size": -1},
        "unknown case state": {"state": "pending"},
        "window_id": {"window_id": "w" * 65},
    }
    for match, options in bad.items():
        options.setdefault("window_id", li.window_id)
        with pytest.raises(InvalidArgument, match=match.strip()):
            client.list_cases("JS", **options)
    assert len(refused(fed_dir, "js", head, "INVALID_ARGUMENT", "ListCases")) == len(bad)
    # forwarded through the window region, the owner's refusal comes back as it was
    with pytest.raises(InvalidArgument, match="page_token"):
        client.list_cases("SH", owner="JS", page_token="garbage")


def test_a_region_lists_only_the_cases_filed_from_its_windows(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client)
    case = li.submit("listregion-" + li.window_id)
    request = case_pb2.ListCasesRequest(owner_region=JS, window_id=li.window_id)
    with region_channel(fed_dir, client, "sh", "JS") as channel:
        stub = case_pb2_grpc.CaseServiceStub(channel)
        assert [v.case_id for v in stub.ListCases(request, timeout=5).cases] == [case.case_id]
        with pytest.raises(grpc.RpcError) as info:
            stub.ListCases(request, timeout=5, metadata=(("yrd-forwarded-for", "yrd:x:1"),))
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with region_channel(fed_dir, client, "zj", "JS") as channel:
        stub = case_pb2_grpc.CaseServiceStub(channel)
        assert list(stub.ListCases(request, timeout=5).cases) == []
    head = audit_head(fed_dir, "sh")
    with region_channel(fed_dir, client, "ah", "SH") as channel:
        stub = case_pb2_grpc.CaseServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.ListCases(request, timeout=5)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "forwards only its own operator" in (info.value.details() or "")
    assert refused(fed_dir, "sh", head, "PERMISSION_DENIED", "ListCases")


def test_two_thousand_watchers_hold_no_worker_and_health_keeps_answering(
    client: FederationClient, fed_dir: Path, catalogue_ready: Catalogue
) -> None:
    """1,000 watchers at the owner and 1,000 forwarded by the window: Jiangsu holds 2,000."""
    li = new_applicant(client)
    case = li.submit("watchers-" + li.window_id)
    ref = case_pb2.CaseRef(case_id=case.case_id, owner_region=JS)
    creds = credentials_of(fed_dir, "operator")
    per_caller = 1000

    async def scenario() -> dict[str, Any]:
        channels = {
            r: grpc.aio.secure_channel(
                client.endpoint(r), creds, server_name_options(client.member(r).entity_id)
            )
            for r in ("JS", "SH")
        }
        calls = [
            case_pb2_grpc.CaseServiceStub(channels[r]).WatchCase(
                case_pb2.WatchCaseRequest(case=ref, max_seconds=60), timeout=70
            )
            for r in ("JS", "SH")
            for _ in range(per_caller)
        ]
        try:
            first = await asyncio.wait_for(asyncio.gather(*[c.read() for c in calls]), 60)
            health = health_pb2_grpc.HealthStub(channels["JS"])
            unary = case_pb2_grpc.CaseServiceStub(channels["JS"])
            answers = []
            for _ in range(5):
                answers.append(
                    (await health.Check(health_pb2.HealthCheckRequest(), timeout=5)).status
                )
                answers.append((await unary.GetCase(ref, timeout=5)).state)
            return {"first": [m.seq for m in first], "answers": answers}
        finally:
            for call in calls:
                call.cancel()
            for channel in channels.values():
                await channel.close()

    outcome = asyncio.run(scenario())
    assert outcome["first"] == [1] * (2 * per_caller)
    assert outcome["answers"] == [health_pb2.HealthCheckResponse.SERVING, "accepted"] * 5


def test_the_result_of_an_applicant_item_is_issued_to_the_applicant(
    client: FederationClient, catalogue_ready: Catalogue
) -> None:
    li = new_applicant(client, acr="high")
    stranger = new_citizen("320102")
    licence = client.issue_licence(
        "JS", f"case-dl-{li.window_id}", "driving_licence", li.citizen, "李娜", DRIVING_FIELDS
    )
    face = client.check_face("SH", li.citizen, li.face).assertion
    try:
        case = client.submit_case(
            "SH",
            request_id="dl-" + li.window_id,
            item_code="YRD-JS-GA-0101",
            window_id=li.window_id,
            applicant_token=li.token("JS"),
            face_assertion=face,
            on_behalf_of=stranger,  # nothing the item needs is held by this person
            materials=[material("driving_licence", licence.identifier, "JS")],
        )
    except FederationError:
        return  # refusing the unchecked on_behalf_of is a fix too
    client.decide_case("JS", case.case_id, "start_review", reviewer="JS-AMR-reviewer-3")
    closed = client.decide_case("JS", case.case_id, "approve", reviewer="JS-AMR-reviewer-3")
    result = json.loads(closed.data_json)["result_licence"]
    holder = client.get_licence("JS", result).holder_code
    assert holder != stranger, "the new driving licence went to a person named by the window"
    assert holder == li.citizen


# --- the overdue flag of the case view --------------------------------------------------------
CST = dt.timezone(dt.timedelta(hours=8))
MONDAY = dt.datetime(2024, 3, 4, 10, tzinfo=CST).timestamp()
DEADLINE = end_of_day(dt.date(2024, 3, 5))


def record(state: str, updated_at: float) -> CaseRecord:
    return CaseRecord(
        case_id="C32-TEST",
        request_id="r",
        request_hash="h",
        item_code=ITEM,
        owner_region=JS,
        window_region=SH,
        window_id="w",
        applicant_id="a",
        state=state,
        data={},
        created_at=MONDAY,
        updated_at=updated_at,
        deadline_at=DEADLINE,
    )


@pytest.mark.parametrize(
    ("state", "updated_at", "now", "overdue"),
    [
        ("accepted", MONDAY, DEADLINE, False),  # the deadline's last second is still in time
        ("accepted", MONDAY, DEADLINE + 1, True),
        ("under_review", MONDAY, DEADLINE + 1, True),
        ("returned", MONDAY, DEADLINE + 1, True),  # waiting for a supplement is not decided
        ("closed", DEADLINE - 60, DEADLINE + 86400 * 30, False),  # decided in time
        ("rejected", DEADLINE - 60, DEADLINE + 1, False),
        ("closed", DEADLINE + 60, DEADLINE + 120, True),  # decided late stays overdue
        ("result_issued", DEADLINE + 60, DEADLINE + 120, True),
    ],
)
def test_case_view_flags_overdue_cases(
    state: str, updated_at: float, now: float, overdue: bool
) -> None:
    view = case_view(record(state, updated_at), now)
    assert view.overdue is overdue
    assert view.deadline_at == DEADLINE and view.state == state
