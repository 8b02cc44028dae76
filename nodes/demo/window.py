"""The remote-virtual-window part of `yrd demo`: an Anhui resident at a Shanghai window."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any

from federation.cases.archive import verify_archive
from federation.codes import make_citizen_id, make_credit_code
from federation.trust.keys import seal_keys as trust_seal_keys
from nodes.client import FederationClient
from nodes.client.cases import material
from nodes.demo.licences import business_fields
from nodes.demo.trace import Trace

ITEM = "YRD-JS-QY-0101"  # 企业变更登记, owned by Jiangsu
WINDOW = "SH-PD-07"  # a Shanghai Pudong cross-province window


def window_story(client: FederationClient, trace: Trace, face: list[float]) -> None:
    seal_keys = trust_seal_keys(lambda: client.trust_list, time.time)

    trace.section("Remote virtual window: an Anhui resident at a Shanghai window, a Jiangsu matter")
    applicant = make_citizen_id("340104", dt.date(1990, 9, 9), 66)
    password = "Huangshan-peak-90"
    company = make_credit_code("9", "1", "320506", "MA2AB345")
    client.register("ZJ", "natural", applicant, "李娜", password)
    client.enrol_face("ZJ", applicant, password, face)
    trace.ok(f"Li Na (Anhui id {applicant}) has her account at Zhejiang, where she works")
    biz = client.issue_licence(
        "JS",
        "window-biz",
        "business_licence",
        company,
        "苏州湖畔科技有限公司",
        {**business_fields("李娜"), "legal_representative_id": applicant},
    )
    idc = client.issue_licence(
        "AH",
        "window-idc",
        "resident_identity_card",
        applicant,
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
    trace.ok(
        "her company's business licence is held by Jiangsu, her identity card by Anhui",
        f"{biz.identifier} / {idc.identifier}",
    )
    login = client.login("ZJ", applicant, password, ["JS", "AH"], "substantial", face)
    face_check = client.check_face("SH", applicant, face)
    trace.ok(
        "at the Shanghai window: one login (Zhejiang, substantial) and a live face check "
        f"at the hub on Shanghai's quota (similarity {face_check.score:.3f})"
    )

    def consent(region: str) -> str:
        return client.issue_token("ZJ", login.session_id, login.session_secret, region)

    base: dict[str, Any] = {
        "item_code": ITEM,
        "window_id": WINDOW,
        "face_assertion": face_check.assertion,
        "on_behalf_of": company,
        "delivery_method": "electronic",
    }
    trace.expect_refusal(
        "submitting without her identity card (missing material; no case is created)",
        lambda: client.submit_case(
            "SH",
            request_id="li-1",
            applicant_token=consent("JS"),
            materials=[material("business_licence", biz.identifier, "JS")],
            **base,
        ),
        "FAILED_PRECONDITION",
    )
    submitted = client.submit_case(
        "SH",
        request_id="li-2",
        applicant_token=consent("JS"),
        materials=[
            material("business_licence", biz.identifier, "JS"),
            material("resident_identity_card", idc.identifier, "AH", consent("AH")),
        ],
        requested={"domicile": "苏州工业园区金鸡湖大道 88 号"},
        note="迁移住所 (moving the registered domicile)",
        **base,
    )
    case_id = submitted.case_id
    data = json.loads(submitted.data_json)
    trace.ok(
        f"case {case_id} filed at Jiangsu from the Shanghai window: {submitted.state}",
        "materials checked by Jiangsu: "
        + ", ".join(
            f"{m['licence_type']} via {m['via']} from {m['owner_region']}"
            for m in data["materials"]
        )
        + f"; deadline {submitted.deadline_at:.0f} "
        "(1 working day)",
    )
    events: list[str] = []
    watcher = threading.Thread(
        target=lambda: events.extend(
            f"{e.from_state or '-'}->{e.to_state}"
            for e in client.watch_case("SH", case_id, "JS", max_seconds=60)
        ),
        daemon=True,
    )
    watcher.start()
    client.decide_case("JS", case_id, "start_review", reviewer="JS-AMR-reviewer-3")
    returned = client.decide_case(
        "JS",
        case_id,
        "return",
        "请补充股东会决议中的新住所 (state the new domicile in full)",
        reviewer="JS-AMR-reviewer-3",
    )
    trace.ok(f"the Jiangsu reviewer joins screen to screen and returns it: {returned.state}")
    trace.expect_refusal(
        "approving a case that was returned (forbidden transition)",
        lambda: client.decide_case("JS", case_id, "approve", reviewer="JS-AMR-reviewer-3"),
        "FAILED_PRECONDITION",
    )
    trace.expect_refusal(
        "Shanghai trying to decide a Jiangsu case",
        lambda: client.decide_case("SH", case_id, "approve", reviewer="SH-reviewer-1"),
        "PERMISSION_DENIED",
    )
    again = client.supplement_case(
        "SH",
        case_id,
        "JS",
        consent("JS"),
        [],
        note="股东会决议已补充",
        requested={"domicile": "苏州工业园区金鸡湖大道 88 号 2 幢"},
    )
    trace.ok(f"she supplements at the window; the case is {again.state} again")
    client.decide_case("JS", case_id, "start_review", reviewer="JS-AMR-reviewer-3")
    closed = client.decide_case("JS", case_id, "approve", "材料齐全", "JS-AMR-reviewer-3")
    result = json.loads(closed.data_json).get("result_licence", "")
    trace.ok(
        f"approved; the new business licence is issued and delivered electronically: "
        f"{closed.state}",
        result,
    )
    watcher.join(timeout=10)
    trace.ok("the Shanghai window watched the case live (server streaming)", " ".join(events))
    listed = client.list_holder_licences(
        "AH", client.issue_token("ZJ", login.session_id, login.session_secret, "AH")
    )
    mine = [lic for r in listed.regions for lic in r.licences if lic.identifier == result]
    trace.ok(
        f"the new business licence appears in her aggregation: {bool(mine)}",
        ", ".join(
            f"{lic.licence_name} ({lic.status}) @ {lic.issuing_region}"
            for r in listed.regions
            for lic in r.licences
        ),
    )
    rating = client.rate_case("SH", case_id, "JS", consent("JS"), 5, ["一次办成", "无需跑腿"])
    trace.ok(f"she rates the service {rating.score}/5 (好差评)")
    stats = client.stats("JS")
    item: dict[str, Any] = next(
        (i for i in stats.get("items", []) if i.get("item_code") == ITEM), {}
    )
    keys = ("volume", "first_time_success_rate", "time_to_decision", "overdue_share", "ratings")
    trace.ok(
        "Jiangsu's statistics for the item",
        json.dumps({k: item.get(k) for k in keys}, ensure_ascii=False),
    )
    archive = client.export_case("JS", case_id)
    verified = verify_archive(archive, seal_keys, time.time())
    trace.ok(
        f"the closed case is sealed into an archive ({len(archive)} bytes) and verified offline",
        f"sealed by {verified.authority_name}; content {verified.content_digest}",
    )
