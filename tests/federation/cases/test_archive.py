"""Case archives: canonical content, owner-region seal, offline verification, file envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.cases.archive import (
    ARCHIVE_FILE_FORMAT,
    ARCHIVE_TYP,
    archive_file_text,
    build_archive,
    collect_archive,
    content_digest,
    read_archive_file,
    seal_archive,
    verify_archive,
)
from federation.codes import make_credit_code
from federation.crypto.jose import Jwk, SigningKey, b64url_decode, b64url_encode, sign_compact
from federation.errors import (
    FailedPrecondition,
    FederationError,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from federation.licences.model import IssuingAuthority
from federation.licences.seal import SEAL_CERT_HEADER, ElectronicSeal
from federation.licences.sealcert import certify_seal_key
from federation.regions import Region
from federation.storage import open_store
from federation.storage.base import CaseEvent, CaseRating, CaseRecord

NOW = 1_748_743_200.0  # 2025-06-01 10:00 CST
YEAR = 366 * 86400
REGION_KEYS = {region: SigningKey.generate() for region in Region}
JS_MARKET = IssuingAuthority(
    make_credit_code("1", "1", "320000", "01401186"), "江苏省市场监督管理局", "320000"
)
ZJ_MARKET = IssuingAuthority(
    make_credit_code("1", "1", "330000", "02402277"), "浙江省市场监督管理局", "330000"
)


def make_seal(
    authority: IssuingAuthority, region: Region, issued: float = NOW - YEAR
) -> ElectronicSeal:
    key = SigningKey.generate()
    cert = certify_seal_key(REGION_KEYS[region], region, authority, key.jwk, 2 * YEAR, issued)
    return ElectronicSeal(authority, key, cert)


JS_SEAL = make_seal(JS_MARKET, Region.JS)
ZJ_SEAL = make_seal(ZJ_MARKET, Region.ZJ)


@dataclass
class TrustList:
    """(region code, kid) -> region key, as a node's cached trust list answers."""

    keys: dict[Region, SigningKey]

    def __call__(self, region_code: str, kid: str) -> Jwk:
        for region, key in self.keys.items():
            if region.code == region_code and key.kid == kid:
                return key.jwk
        raise Unauthenticated(f"key {kid} of region {region_code} is not in the trust list")


TRUST = TrustList(REGION_KEYS)


def closed_case(**changes: Any) -> CaseRecord:
    values: dict[str, Any] = {
        "case_id": "JS-2025-000042",
        "request_id": "req-42",
        "request_hash": "ab" * 32,
        "item_code": "YRD-JS-QY-0101",
        "owner_region": "320000",
        "window_region": "310000",
        "window_id": "sh-pudong-01",
        "applicant_id": "340104199003071234",
        "state": "closed",
        "data": {"changes": {"domicile": "苏州工业园区金鸡湖大道88号"}, "delivery": "electronic"},
        "created_at": NOW,
        "updated_at": NOW + 7200,
        "deadline_at": NOW + 2 * 86400,
        "version": 8,
    }
    values.update(changes)
    return CaseRecord(**values)


STATES = ("submitted", "accepted", "under_review", "approved", "result_issued", "closed")


def events(case_id: str = "JS-2025-000042") -> list[CaseEvent]:
    previous, out = "", []
    for seq, state in enumerate(STATES, start=1):
        out.append(CaseEvent(case_id, seq, NOW + seq * 600, previous, state, "320000", {"n": seq}))
        previous = state
    return out


RATING = CaseRating("JS-2025-000042", 5, ("fast",), "很方便", NOW + 9000)
MATERIALS = [{"licence": "1.2.156.3005.2.X", "type": "business_licence", "fields": ["number"]}]
AUDIT = [{"seq": 17, "hash": "c0ffee" * 10 + "beef"}, {"seq": 18, "hash": "ab" * 32}]


@pytest.fixture(scope="module")
def archive() -> dict[str, Any]:
    return build_archive(closed_case(), list(reversed(events())), RATING, MATERIALS, AUDIT)


@pytest.fixture(scope="module")
def token(archive: dict[str, Any]) -> str:
    return seal_archive(archive, JS_SEAL, NOW + 10_000)


# --- building --------------------------------------------------------------------------------


def test_archive_holds_case_decisions_materials_and_audit_hashes(archive: dict[str, Any]) -> None:
    assert archive["case"]["case_id"] == "JS-2025-000042"
    assert [e["seq"] for e in archive["events"]] == [1, 2, 3, 4, 5, 6]
    assert archive["events"][3]["to_state"] == "approved"
    assert archive["rating"] == {
        "score": 5,
        "reasons": ["fast"],
        "comment": "很方便",
        "rated_at": NOW + 9000,
    }
    assert archive["materials"] == MATERIALS and archive["audit_hashes"] == AUDIT
    assert archive["content_digest"] == content_digest(archive)
    assert archive["content_digest"].startswith("sha-256:")
    assert json.loads(json.dumps(archive)) == archive


def reviewed_events(case_id: str = "JS-2025-000042") -> list[CaseEvent]:
    decided = {3: ("start_review", "JS-AMR-7", ""), 4: ("approve", "JS-AMR-9", "材料齐全")}
    out = []
    for event in events(case_id):
        if event.seq in decided:
            action, reviewer, reason = decided[event.seq]
            detail = {"action": action, "reviewer": reviewer, "reason": reason}
            event = replace(event, actor=reviewer, detail=detail)
        out.append(event)
    return out


def test_the_archive_names_the_reviewer_of_every_decision() -> None:
    built = build_archive(closed_case(), reviewed_events(), None, [], [])
    assert built["decisions"] == [
        {
            "seq": 3,
            "time": NOW + 1800,
            "action": "start_review",
            "reviewer": "JS-AMR-7",
            "reason": "",
        },
        {
            "seq": 4,
            "time": NOW + 2400,
            "action": "approve",
            "reviewer": "JS-AMR-9",
            "reason": "材料齐全",
        },
    ]
    assert build_archive(closed_case(), events(), None, [], [])["decisions"] == []


def test_collect_archive_takes_everything_from_the_owners_store(tmp_path: Path) -> None:
    store = open_store("sqlite:///" + str(tmp_path / "s.sqlite3"))
    try:
        first, *rest = reviewed_events()
        case = closed_case(
            version=1,
            data={
                "materials": [
                    {
                        "licence_type": "business_licence",
                        "identifier": "B-1",
                        "owner_region": "320000",
                        "via": "local",
                        "fields": {"x": 1},
                    }
                ]
            },
        )
        store.create_case(replace(case, state=first.to_state), first)
        stored = store.get_case(case.case_id)
        assert stored is not None
        for event in rest:
            stored = store.transition_case(
                case.case_id, stored.version, event.to_state, case.data, event
            )
        store.rate_case(RATING)
        store.rate_case(replace(RATING, case_id="another"))
        collected = collect_archive(stored, store)
    finally:
        store.close()
    assert [d["reviewer"] for d in collected["decisions"]] == ["JS-AMR-7", "JS-AMR-9"]
    assert collected["rating"]["score"] == 5 and len(collected["events"]) == 6
    # materials keep their reference, never the fields read from them
    assert collected["materials"] == [
        {
            "licence_type": "business_licence",
            "identifier": "B-1",
            "owner_region": "320000",
            "via": "local",
        }
    ]


def test_building_is_deterministic_and_digest_covers_content(archive: dict[str, Any]) -> None:
    again = build_archive(closed_case(), events(), RATING, MATERIALS, AUDIT)
    assert again == archive
    other = build_archive(closed_case(), events(), None, MATERIALS, AUDIT)
    assert other["rating"] is None and other["content_digest"] != archive["content_digest"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"case": closed_case(state="approved")}, FailedPrecondition, "only a closed case"),
        ({"events": events()[:-1]}, InvalidArgument, "must lead to its state 'closed'"),
        ({"events": []}, InvalidArgument, "must lead to its state"),
        ({"events": events()[1:]}, InvalidArgument, "expected 1, got 2"),
        ({"events": events("other")}, InvalidArgument, "belongs to case other"),
        ({"rating": replace(RATING, case_id="x")}, InvalidArgument, "rating is for case x"),
        ({"materials": [{"size": float("nan")}]}, InvalidArgument, "not plain JSON"),
        ({"audit_hashes": ["abc"]}, InvalidArgument, "audit_hashes must be a JSON object"),
    ],
)
def test_bad_archive_input_is_refused(
    kwargs: dict[str, Any], error: type[FederationError], message: str
) -> None:
    arguments: dict[str, Any] = {
        "case": closed_case(),
        "events": events(),
        "rating": RATING,
        "materials": MATERIALS,
        "audit_hashes": AUDIT,
    }
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        build_archive(**arguments)


# --- sealing and verifying ----------------------------------------------------------------------


def test_sealed_archive_verifies_offline(archive: dict[str, Any], token: str) -> None:
    verified = verify_archive(token, TRUST, NOW + 20_000)
    assert verified.archive == archive
    assert (verified.case_id, verified.item_code, verified.owner_region) == (
        "JS-2025-000042",
        "YRD-JS-QY-0101",
        "320000",
    )
    assert verified.authority_code == JS_MARKET.credit_code
    assert verified.sealed_at == int(NOW + 10_000)
    assert verified.content_digest == archive["content_digest"]
    summary = verified.to_dict()
    assert summary["valid"] is True and summary["sealed_by"]["name"] == JS_MARKET.name


def test_archive_outlives_its_seal_certificate(token: str) -> None:
    # Ten years on the seal certificate has long expired; the seal is judged when applied.
    assert verify_archive(token, TRUST, NOW + 10 * YEAR).case_id == "JS-2025-000042"


def test_only_the_owner_region_seals(archive: dict[str, Any]) -> None:
    with pytest.raises(PermissionDenied, match="cannot seal case JS-2025-000042"):
        seal_archive(archive, ZJ_SEAL, NOW)
    altered = {**archive, "materials": []}
    with pytest.raises(InvalidArgument, match="does not match its digest"):
        seal_archive(altered, JS_SEAL, NOW)


def _resign(token: str, change: Any, key: SigningKey, header_change: Any = None) -> str:
    """Decode, let `change` edit the payload, and sign again with `key`."""
    head, body, _ = token.split(".")
    header = json.loads(b64url_decode(head))
    payload = json.loads(b64url_decode(body))
    change(payload)
    if header_change is not None:
        header_change(header)
    extra = {k: v for k, v in header.items() if k not in ("alg", "kid", "typ")}
    return sign_compact(payload, key, typ=header["typ"], extra_header=extra)


def test_altered_content_is_refused(token: str) -> None:
    head, body, sig = token.split(".")
    payload = json.loads(b64url_decode(body))
    payload["archive"]["events"][3]["to_state"] = "rejected"
    forged = f"{head}.{b64url_encode(json.dumps(payload).encode())}.{sig}"
    with pytest.raises(Unauthenticated, match="case archive seal signature does not verify"):
        verify_archive(forged, TRUST, NOW)


def test_a_resealed_archive_with_a_stale_digest_is_refused(token: str) -> None:
    def edit(payload: dict[str, Any]) -> None:
        payload["archive"]["rating"]["score"] = 1

    with pytest.raises(Unauthenticated, match=r"content digest .* does not match"):
        verify_archive(_resign(token, edit, JS_SEAL.key), TRUST, NOW + 20_000)


def test_seal_key_without_a_matching_certificate_is_refused(token: str) -> None:
    forger = SigningKey.generate()
    with pytest.raises(Unauthenticated, match="but the certificate is for seal key"):
        verify_archive(_resign(token, lambda p: None, forger), TRUST, NOW + 20_000)


def test_another_regions_seal_cannot_pass_as_the_owner(token: str) -> None:
    def as_zj(payload: dict[str, Any]) -> None:
        payload.update(iss=ZJ_MARKET.credit_code, region="330000")

    def zj_cert(header: dict[str, Any]) -> None:
        header[SEAL_CERT_HEADER] = ZJ_SEAL.certificate

    forged = _resign(token, as_zj, ZJ_SEAL.key, zj_cert)
    with pytest.raises(Unauthenticated, match=r"owned by region 320000.*sealed in region 330000"):
        verify_archive(forged, TRUST, NOW + 20_000)
    wrong_region = _resign(token, lambda p: p.update(region="330000"), JS_SEAL.key)
    with pytest.raises(Unauthenticated, match="certified by region 320000"):
        verify_archive(wrong_region, TRUST, NOW + 20_000)
    wrong_issuer = _resign(token, lambda p: p.update(iss=ZJ_MARKET.credit_code), JS_SEAL.key)
    with pytest.raises(Unauthenticated, match="the case archive names issuer"):
        verify_archive(wrong_issuer, TRUST, NOW + 20_000)


def test_certificate_from_a_key_outside_the_trust_list_is_refused(token: str) -> None:
    rogue = TrustList({**REGION_KEYS, Region.JS: SigningKey.generate()})
    with pytest.raises(Unauthenticated, match="not in the trust list"):
        verify_archive(token, rogue, NOW + 20_000)


def test_sealing_times_are_checked(archive: dict[str, Any]) -> None:
    future = seal_archive(archive, JS_SEAL, NOW + 86400)
    with pytest.raises(Unauthenticated, match="sealed in the future"):
        verify_archive(future, TRUST, NOW)
    after_term = seal_archive(archive, JS_SEAL, NOW + 2 * YEAR)
    with pytest.raises(Unauthenticated, match="outside its seal certificate's validity"):
        verify_archive(after_term, TRUST, NOW + 3 * YEAR)


def test_other_token_types_are_refused(token: str) -> None:
    licence_like = _resign(token, lambda p: None, JS_SEAL.key, lambda h: h.update(typ="dc+sd-jwt"))
    with pytest.raises(Unauthenticated, match="not a case archive"):
        verify_archive(licence_like, TRUST, NOW + 20_000)
    no_cert = _resign(token, lambda p: None, JS_SEAL.key, lambda h: h.pop(SEAL_CERT_HEADER))
    with pytest.raises(Unauthenticated, match="carries no seal certificate"):
        verify_archive(no_cert, TRUST, NOW + 20_000)


@settings(max_examples=40)
@given(st.data())
def test_any_changed_character_is_refused(token: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[index]))
    altered = token[:index] + replacement + token[index + 1 :]
    with pytest.raises((Unauthenticated, InvalidArgument)):
        verify_archive(altered, TRUST, NOW + 20_000)


# --- archive files ------------------------------------------------------------------------------


def test_archive_file_round_trip(token: str) -> None:
    text = archive_file_text(token)
    envelope = json.loads(text)
    assert envelope["format"] == ARCHIVE_FILE_FORMAT and envelope["typ"] == ARCHIVE_TYP
    assert text.endswith("\n")
    assert read_archive_file(text) == token
    assert verify_archive(read_archive_file(text), TRUST, NOW + 20_000).case_id == "JS-2025-000042"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "archive file is not JSON"),
        ("[1]", "must be a JSON object"),
        ('{"format": "yrd-case-archive/2", "token": "x"}', "expected 'yrd-case-archive/1'"),
        ('{"format": "yrd-case-archive/1"}', "no 'token' string"),
    ],
)
def test_bad_archive_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        read_archive_file(text)


def test_only_archives_are_written_as_archive_files() -> None:
    other = sign_compact({"x": 1}, JS_SEAL.key, typ="JWT")
    with pytest.raises(InvalidArgument, match="only a sealed case archive"):
        archive_file_text(other)
