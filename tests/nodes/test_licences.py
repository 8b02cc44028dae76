"""E-licences on real nodes: issue, verify anywhere, status, aggregation, presentation, exchange."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from pathlib import Path

import pytest

from federation.codes import make_credit_code
from federation.crypto.jose import SigningKey, parse_compact
from federation.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from federation.licences import (
    ElectronicSeal,
    IssuingAuthority,
    certify_seal_key,
    create_presentation,
    encode_qr,
    licence_type_by_key,
    parse_identifier,
    seal_licence,
)
from federation.licences.model import build_licence
from federation.licences.sdjwt import split_sd_jwt
from federation.licences.seal import end_of_day
from federation.regions import Region
from federation.storage import open_store
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.demo.licences import DRIVING_FIELDS, business_fields, tamper_disclosure
from nodes.ops.supervisor import Federation
from tests._support.nodes import eventually, new_citizen

PASSWORD = "Lotus-pond-2024"


def _issue(client: FederationClient, holder: str, wallet: SigningKey | None = None, **kw: str):  # type: ignore[no-untyped-def]
    return client.issue_licence(
        kw.pop("region", "JS"),
        kw.pop("request_id", secrets.token_hex(6)),
        "driving_licence",
        holder,
        "测试人",
        DRIVING_FIELDS,
        valid_until=kw.pop("valid_until", "2030-01-01"),
        holder_jwk=wallet.jwk.to_dict() if wallet else None,
        **kw,
    )


def test_issue_is_idempotent_and_verifies_in_every_region(client: FederationClient) -> None:
    holder = new_citizen()
    first = _issue(client, holder, request_id="idem-1-" + holder)
    again = _issue(client, holder, request_id="idem-1-" + holder)
    assert first.created and not again.created
    assert again.identifier == first.identifier and again.sd_jwt == first.sd_jwt
    parsed = parse_identifier(first.identifier)
    assert parsed.type_code == licence_type_by_key("driving_licence").code
    for region in ("SH", "JS", "ZJ", "AH"):
        verdict = client.verify_licence(region, first.sd_jwt)
        assert verdict.verdict == "valid", (region, list(verdict.reasons))
        assert json.loads(verdict.licence_json)["holder_code"] == holder
    with pytest.raises(AlreadyExists, match="request id"):
        client.issue_licence(
            "JS", "idem-1-" + holder, "driving_licence", holder, "Other", DRIVING_FIELDS
        )


def test_bad_issue_requests_are_refused_and_store_nothing(client: FederationClient) -> None:
    holder = new_citizen()
    with pytest.raises(NotFound):
        client.issue_licence("JS", "bad-1", "no_such_type", holder, "X", {})
    with pytest.raises(InvalidArgument):
        client.issue_licence("JS", "bad-2", "driving_licence", holder, "X", {"sex": "female"})
    with pytest.raises(InvalidArgument):
        client.issue_licence(
            "JS", "bad-3", "driving_licence", holder[:-1] + "Y", "X", DRIVING_FIELDS
        )
    with pytest.raises(InvalidArgument, match="valid_until"):
        _issue(client, holder, valid_from="2030-01-01", valid_until="2020-01-01")
    company = make_credit_code("9", "1", "320505", "MA1XY613")
    with pytest.raises(InvalidArgument):  # a business licence for a person's id number
        client.issue_licence("JS", "bad-4", "business_licence", holder, "X", business_fields("A"))
    authorities = json.loads((client.layout.root / "js" / "authorities.json").read_text())
    civil = next(a for a in authorities if "民政" in a["name"])
    with pytest.raises(PermissionDenied, match="may not issue"):
        _issue(client, holder, authority_code=civil["credit_code"])
    login = client.register("JS", "natural", holder, "测试人", PASSWORD)
    assert login.subject_id == holder
    token = client.login("JS", holder, PASSWORD, ["SH"]).tokens[Region.SH.entity_id]
    listed = client.list_holder_licences("SH", token)
    assert all(not r.licences for r in listed.regions)  # nothing was stored
    assert company  # a valid code, unused: the refusal above was about the holder kind


def test_forged_and_foreign_seals_are_forged(client: FederationClient) -> None:
    doc = _issue(client, new_citizen())
    tampered = client.verify_licence("SH", tamper_disclosure(doc.sd_jwt))
    assert tampered.verdict == "forged"
    # an authority whose seal is certified by a key the trust list does not know
    rogue_region_key = SigningKey.generate()
    authority = IssuingAuthority(
        make_credit_code("1", "1", "320000", "32999999"), "假冒机关", "320000"
    )
    seal_key = SigningKey.generate()
    cert = certify_seal_key(
        rogue_region_key, Region.JS, authority, seal_key.jwk, 86400, time.time()
    )
    licence = build_licence(
        licence_type_by_key("driving_licence"),
        authority,
        serial="ROGUE1",
        number="R1",
        holder_name="假人",
        holder_code=new_citizen(),
        issue_date=time.gmtime() and __import__("datetime").date.today(),
        valid_from=__import__("datetime").date.today(),
        valid_until=None,
        fields=DRIVING_FIELDS,
    )
    sealed = seal_licence(licence, ElectronicSeal(authority, seal_key, cert), time.time())
    verdict = client.verify_licence("SH", sealed.serialize())
    assert verdict.verdict == "forged"
    assert "not listed" in " ".join(verdict.reasons) or "trust list" in " ".join(verdict.reasons)
    with pytest.raises(InvalidArgument):
        client.verify_licence("SH", "")


def test_suspend_reinstate_and_revoke_become_visible_within_ttl(client: FederationClient) -> None:
    doc = _issue(client, new_citizen())
    assert client.verify_licence("ZJ", doc.sd_jwt).verdict == "valid"
    client.change_licence_status("JS", doc.identifier, "suspend", "test")

    def verdict_is(expected: str) -> None:
        got = client.verify_licence("ZJ", doc.sd_jwt).verdict
        assert got == expected, got

    eventually(lambda: verdict_is("suspended"), timeout_s=8.0, pause_s=0.5)
    client.change_licence_status("JS", doc.identifier, "reinstate")
    eventually(lambda: verdict_is("valid"), timeout_s=8.0, pause_s=0.5)
    client.change_licence_status("JS", doc.identifier, "revoke", "withdrawn")
    eventually(lambda: verdict_is("revoked"), timeout_s=8.0, pause_s=0.5)
    with pytest.raises(Exception, match="revoked"):
        client.change_licence_status("JS", doc.identifier, "reinstate")
    with pytest.raises(NotFound):
        client.change_licence_status("JS", doc.identifier.replace(".1.", ".2.", 1), "revoke")


def test_presentation_discloses_only_chosen_fields(client: FederationClient) -> None:
    wallet = SigningKey.generate()
    doc = _issue(client, new_citizen(), wallet)
    text = create_presentation(
        doc.sd_jwt, wallet, ["holder_name", "vehicle_class"], Region.ZJ.entity_id, time.time()
    )
    shown = client.verify_presentation("ZJ", encode_qr(text))
    assert shown.verdict.verdict == "valid"
    assert json.loads(shown.disclosed_json) == {"holder_name": "测试人", "vehicle_class": "C1"}
    with pytest.raises(Unauthenticated, match="replay"):
        client.verify_presentation("ZJ", text)
    old = create_presentation(
        doc.sd_jwt, wallet, ["holder_name"], Region.ZJ.entity_id, time.time() - 3600
    )
    with pytest.raises(Unauthenticated, match="expired"):
        client.verify_presentation("ZJ", old)
    other = SigningKey.generate()
    with pytest.raises(PermissionDenied):  # someone else's wallet cannot present it
        create_presentation(doc.sd_jwt, other, ["holder_name"], Region.ZJ.entity_id, time.time())
    stripped = text.rsplit("~", 1)[0] + "~"
    with pytest.raises(Unauthenticated, match="key-binding"):
        client.verify_presentation("ZJ", stripped)


def test_verifier_challenge_is_answered_once_and_only_here(client: FederationClient) -> None:
    wallet = SigningKey.generate()
    doc = _issue(client, new_citizen(), wallet, valid_until="2030-01-01")
    issuer_payload = parse_compact(split_sd_jwt(doc.sd_jwt).issuer_jwt).payload()
    assert issuer_payload["exp"] == end_of_day(dt.date(2030, 1, 1)) and "nbf" in issuer_payload
    zj = Region.ZJ.entity_id
    challenge = client.issue_challenge("ZJ")
    assert challenge.audience == zj and time.time() < challenge.expires_at <= time.time() + 121

    def present(nonce: str | None) -> str:
        return create_presentation(doc.sd_jwt, wallet, ["holder_name"], zj, time.time(), nonce)

    with pytest.raises(Unauthenticated, match="does not answer"):  # a holder-chosen nonce
        client.verify_presentation("ZJ", present(None), challenge.nonce)
    answer = present(challenge.nonce)
    shown = client.verify_presentation("ZJ", encode_qr(answer), challenge.nonce)
    assert shown.verdict.verdict == "valid" and shown.nonce == challenge.nonce
    with pytest.raises(Unauthenticated, match="replay"):  # consumed once
        client.verify_presentation("ZJ", answer, challenge.nonce)
    with pytest.raises(Unauthenticated, match="replay"):  # ... with or without the challenge
        client.verify_presentation("ZJ", answer)
    foreign = client.issue_challenge("AH").nonce  # another region's challenge is not ours
    with pytest.raises(Unauthenticated, match="not a challenge issued by this verifier"):
        client.verify_presentation("ZJ", present(foreign), foreign)
    assert client.verify_presentation("ZJ", present(None)).verdict.verdict == "valid"


def test_cross_region_read_needs_consent_policy_and_is_audited(
    client: FederationClient, fed_dir: Path
) -> None:
    holder = new_citizen()
    client.register("ZJ", "natural", holder, "测试人", PASSWORD)
    doc = _issue(client, holder)
    login = client.login("ZJ", holder, PASSWORD, ["JS"])
    read = client.fetch_remote_licence(
        "SH", "JS", doc.identifier, "YRD-GA-0001", "renewal", login.tokens[Region.JS.entity_id]
    )
    fields = json.loads(read.fields_json)
    assert "vehicle_class" in fields and "address" not in fields
    assert set(read.withheld) == {"address", "file_number"}
    someone_else = new_citizen()
    client.register("ZJ", "natural", someone_else, "别人", PASSWORD)
    other_token = client.login("ZJ", someone_else, PASSWORD, ["JS"]).tokens[Region.JS.entity_id]
    with pytest.raises(PermissionDenied, match="holder"):
        client.fetch_remote_licence(
            "SH", "JS", doc.identifier, "YRD-GA-0001", "renewal", other_token
        )
    token = client.issue_token("ZJ", login.session_id, login.session_secret, "JS")
    with pytest.raises(PermissionDenied, match="purpose"):
        client.fetch_remote_licence("SH", "JS", doc.identifier, "YRD-GA-0001", " ", token)
    # the refused read used the consent token up (its replay row committed with the refusal)
    with pytest.raises(Unauthenticated, match="replay"):
        client.fetch_remote_licence("SH", "JS", doc.identifier, "YRD-GA-0001", "renewal", token)
    wrong_aud = client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
    with pytest.raises(PermissionDenied, match="meant for"):
        client.fetch_remote_licence("SH", "JS", doc.identifier, "YRD-GA-0001", "x", wrong_aud)
    store = open_store(load_config(fed_dir / "js.toml").store_url)
    try:
        reads = [
            e
            for e in store.audit_entries()
            if e.action == "exchange.read" and e.detail.get("identifier") == doc.identifier
        ]
    finally:
        store.close()
    outcomes = [e.outcome for e in reads]
    assert outcomes[0] == "granted" and all(e.actor == Region.SH.entity_id for e in reads)
    assert outcomes.count("refused:PERMISSION_DENIED") == 3
    assert outcomes.count("refused:UNAUTHENTICATED") == 1
    assert outcomes.count("granted") == 1


def test_aggregation_returns_partial_results_when_regions_are_down(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, _ = small_fed  # JS and AH are not running
    with FederationClient(directory) as client:
        holder = new_citizen()
        client.register("ZJ", "natural", holder, "测试人", PASSWORD)
        _issue(client, holder, region="SH")
        token = client.login("ZJ", holder, PASSWORD, ["ZJ"]).tokens[Region.ZJ.entity_id]
        started = time.monotonic()
        listed = client.list_holder_licences("ZJ", token, deadline_ms=800)
        elapsed = time.monotonic() - started
        by_region = {r.region: r for r in listed.regions}
        assert by_region["310000"].ok and len(by_region["310000"].licences) == 1
        assert by_region["330000"].ok
        for down in ("320000", "340000"):
            assert not by_region[down].ok and by_region[down].error
        assert elapsed < 5.0  # bounded by the fan-out deadline, never hangs
