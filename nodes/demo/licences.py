"""The e-licence part of `yrd demo`: issue in Jiangsu, verify, aggregate, present, revoke."""

from __future__ import annotations

import json
import time

from federation.codes import make_credit_code
from federation.crypto.jose import SigningKey, b64url_decode, b64url_encode
from federation.licences import create_presentation, encode_qr
from federation.regions import Region
from nodes.client import FederationClient
from nodes.demo.trace import Trace

DRIVING_FIELDS = {
    "sex": "female",
    "nationality": "CHN",
    "birth_date": "1988-05-17",
    "address": "南京市鼓楼区中山路 100 号",
    "first_issue_date": "2012-03-01",
    "vehicle_class": "C1",
    "file_number": "320100987654",
}


def business_fields(owner: str) -> dict[str, object]:
    return {
        "entity_type": "有限责任公司",
        "legal_representative": owner,
        "registered_capital": 5_000_000,  # yuan
        "established_date": "2019-08-08",
        "business_scope": "软件开发; 信息技术咨询服务",
        "domicile": "苏州工业园区星湖街 328 号",
    }


def tamper_disclosure(sd_jwt: str) -> str:
    """Change the value inside the first disclosure (keeps its shape, breaks its digest)."""
    parts = sd_jwt.split("~")
    salt, name, value = json.loads(b64url_decode(parts[1]))
    altered = json.dumps([salt, name, f"{value}X"], ensure_ascii=False).encode()
    parts[1] = b64url_encode(altered)
    return "~".join(parts)


def licence_story(
    client: FederationClient, trace: Trace, resident: str, password: str, status_ttl_s: int
) -> dict[str, str]:
    """Returns the identifiers and the enterprise's credit code for the next chapter."""
    trace.section("E-licences: sealed in Jiangsu, valid across the delta (电子证照互认)")
    company = make_credit_code("9", "1", "320505", "MA1XY612")
    wallet = SigningKey.generate()
    biz = client.issue_licence(
        "JS",
        "demo-biz-1",
        "business_licence",
        company,
        "苏州云帆信息科技有限公司",
        business_fields("陈静"),
        valid_until="2049-08-07",
        holder_jwk=wallet.jwk.to_dict(),
    )
    trace.ok(
        f"Jiangsu AMR issues a business licence to {company}",
        f"identifier {biz.identifier} (GB/T 36904, ISO 7064 check char)",
    )
    drv = client.issue_licence(
        "JS",
        "demo-drv-1",
        "driving_licence",
        resident,
        "陈静",
        DRIVING_FIELDS,
        valid_from="2022-03-01",
        valid_until="2028-03-01",
        holder_jwk=wallet.jwk.to_dict(),
    )
    retry = client.issue_licence(
        "JS",
        "demo-drv-1",
        "driving_licence",
        resident,
        "陈静",
        DRIVING_FIELDS,
        valid_from="2022-03-01",
        valid_until="2028-03-01",
        holder_jwk=wallet.jwk.to_dict(),
    )
    trace.ok(
        "Jiangsu traffic police issue a driving licence, sealed (EdDSA) by its seal",
        f"a retried request returns the same licence: {retry.identifier == drv.identifier} "
        f"(created again: {retry.created})",
    )
    for doc, label in ((biz, "business licence"), (drv, "driving licence")):
        verdict = client.verify_licence("SH", doc.sd_jwt)
        trace.ok(f"Shanghai verifies the {label}: {verdict.verdict}", verdict.reasons[0])
    forged = client.verify_licence("SH", tamper_disclosure(drv.sd_jwt))
    trace.ok(
        f"a tampered licence (one disclosed value altered) is refused: {forged.verdict}",
        forged.reasons[0],
    )

    login = client.login("ZJ", resident, password, ["AH", "JS"])
    listed = client.list_holder_licences("AH", login.tokens[Region.AH.entity_id])
    found = [(r.region, lic.licence_name) for r in listed.regions for lic in r.licences]
    trace.ok(
        "the holder lists every licence she holds from Anhui (归集, parallel fan-out)",
        ", ".join(f"{name} @ {region}" for region, name in found)
        + "; per region: "
        + ", ".join(
            f"{r.region} {'ok' if r.ok else 'error'} {r.elapsed_ms:.0f} ms" for r in listed.regions
        ),
    )

    read = client.fetch_remote_licence(
        "SH",
        "JS",
        drv.identifier,
        "YRD-GA-0001",
        "异地换领驾驶证 (renewal in Shanghai)",
        login.tokens[Region.JS.entity_id],
    )
    trace.ok(
        "Shanghai reads the driving licence from Jiangsu for item YRD-GA-0001 with consent",
        f"fields granted: {sorted(json.loads(read.fields_json))}; withheld: {list(read.withheld)}",
    )
    trace.expect_refusal(
        "a read with no consent token",
        lambda: client.fetch_remote_licence(
            "SH", "JS", drv.identifier, "YRD-GA-0001", "renewal", ""
        ),
        "PERMISSION_DENIED",
    )
    consent = client.issue_token("ZJ", login.session_id, login.session_secret, "JS")
    trace.expect_refusal(
        "a read for a service item that does not use driving licences (outside policy)",
        lambda: client.fetch_remote_licence(
            "SH", "JS", drv.identifier, "YRD-QY-0001", "branch registration", consent
        ),
        "PERMISSION_DENIED",
    )

    presentation = create_presentation(
        drv.sd_jwt, wallet, ["holder_name", "vehicle_class"], Region.ZJ.entity_id, time.time()
    )
    qr = encode_qr(presentation)
    shown = client.verify_presentation("ZJ", qr)
    trace.ok(
        f"she shows the driving licence to a Zhejiang window as a QR ({len(qr)} chars): "
        f"{shown.verdict.verdict}",
        f"disclosed only {json.loads(shown.disclosed_json)} plus sealed validity; "
        "address, file number and id number stay hidden",
    )
    trace.expect_refusal(
        "the same presentation shown twice (nonce replay)",
        lambda: client.verify_presentation("ZJ", qr),
        "UNAUTHENTICATED",
    )
    trace.expect_refusal(
        "a presentation made for Zhejiang shown in Anhui",
        lambda: client.verify_presentation(
            "AH",
            encode_qr(
                create_presentation(
                    drv.sd_jwt, wallet, ["holder_name"], Region.ZJ.entity_id, time.time()
                )
            ),
        ),
        "PERMISSION_DENIED",
    )

    client.change_licence_status("JS", drv.identifier, "revoke", "demo: licence withdrawn")
    trace.ok("Jiangsu revokes the driving licence (status list bit flipped, list re-signed)")
    again = create_presentation(
        drv.sd_jwt, wallet, ["holder_name", "vehicle_class"], Region.ZJ.entity_id, time.time()
    )
    before = client.verify_presentation("ZJ", again).verdict.verdict
    time.sleep(status_ttl_s + 0.5)
    late = create_presentation(
        drv.sd_jwt, wallet, ["holder_name", "vehicle_class"], Region.ZJ.entity_id, time.time()
    )
    after = client.verify_presentation("ZJ", late).verdict
    trace.ok(
        f"Zhejiang sees the revocation after its cached status list's TTL "
        f"({status_ttl_s} s): {before} -> {after.verdict}",
        after.reasons[0],
    )
    return {
        "business_licence": biz.identifier,
        "company": company,
        "driving_licence": drv.identifier,
    }
