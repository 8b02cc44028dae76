"""One login at home, served in every region: real nodes over mutual TLS."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from federation.errors import (
    AlreadyExists,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from federation.identity.assurance import Assurance
from federation.identity.tokens import mint_token, unverified_home_attestation
from federation.regions import Region
from nodes.client import FederationClient
from nodes.ops.provisioning import Layout, load_active_signing_key, read_trust_list
from tests._support.nodes import eventually, new_citizen, template

PASSWORD = "Lotus-pond-2024"


def _register(client: FederationClient, region: str = "ZJ") -> str:
    subject = new_citizen()
    client.register(region, "natural", subject, "Test Person", PASSWORD)
    return subject


def test_login_once_served_in_every_other_region(client: FederationClient) -> None:
    subject = _register(client)
    login = client.login("ZJ", subject, PASSWORD, ["SH", "JS", "AH"])
    assert set(login.tokens) == {"yrd:sh:310000", "yrd:js:320000", "yrd:ah:340000"}
    for region in (Region.SH, Region.JS, Region.AH):
        claims = client.verify_token(region, login.tokens[region.entity_id]).claims
        assert claims.sub == subject
        assert claims.iss == Region.ZJ.entity_id
        assert claims.aud == region.entity_id
        assert claims.acr == Assurance.LOW.acr
        assert 0 < claims.exp - claims.iat <= 1800  # minutes, not hours


def test_replay_wrong_audience_and_forgery_are_refused(client: FederationClient) -> None:
    subject = _register(client)
    login = client.login("ZJ", subject, PASSWORD, ["SH"])
    token = login.tokens[Region.SH.entity_id]
    client.verify_token("SH", token)
    with pytest.raises(Unauthenticated, match="already used"):
        client.verify_token("SH", token)
    js = client.issue_token("ZJ", login.session_id, login.session_secret, "JS")
    with pytest.raises(PermissionDenied, match="meant for yrd:js:320000"):
        client.verify_token("AH", js)
    head, body, sig = client.issue_token("ZJ", login.session_id, login.session_secret, "SH").split(
        "."
    )
    forged_sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    with pytest.raises(Unauthenticated, match="forged"):
        client.verify_token("SH", f"{head}.{body}.{forged_sig}")
    with pytest.raises(InvalidArgument, match="three dot-separated parts"):
        client.verify_token("SH", "not-a-token")


def test_expired_token_refused(client: FederationClient, fed_dir: Path) -> None:
    subject = _register(client)
    genuine = client.login("ZJ", subject, PASSWORD, ["SH"]).tokens[Region.SH.entity_id]
    layout = Layout(fed_dir)
    member = read_trust_list(layout).member(Region.ZJ.entity_id)
    key = load_active_signing_key(layout.signing_dir(Region.ZJ), member.signing_keys)
    token = mint_token(
        key,
        issuer=Region.ZJ.entity_id,
        subject=subject,
        audience=Region.SH.entity_id,
        session_id="s" * 20,
        assurance=Assurance.LOW,
        home_region="330000",
        subject_kind="natural",
        name="X",
        amr=("pwd",),
        home_attestation=unverified_home_attestation(genuine),
        now=time.time() - 3600,
        ttl_s=600,
    )
    with pytest.raises(Unauthenticated, match="expired"):
        client.verify_token("SH", token)


def test_registration_validates_ids_and_refuses_duplicates(client: FederationClient) -> None:
    subject = _register(client)
    with pytest.raises(AlreadyExists):
        client.register("ZJ", "natural", subject, "Again", PASSWORD)
    wrong = subject[:-1] + ("0" if subject[-1] != "0" else "1")
    with pytest.raises(InvalidArgument, match="check char"):
        client.register("ZJ", "natural", wrong, "Typo", PASSWORD)
    with pytest.raises(InvalidArgument):
        client.register("ZJ", "legal", "91350100M000100Y4X", "Bad Co", PASSWORD)
    with pytest.raises(InvalidArgument, match="unknown region"):
        client.register("XX", "natural", new_citizen(), "Nobody", PASSWORD)


def test_wrong_password_and_unknown_subject_look_the_same(client: FederationClient) -> None:
    subject = _register(client)
    with pytest.raises(Unauthenticated) as wrong:
        client.login("ZJ", subject, "not-the-password", ["SH"])
    with pytest.raises(Unauthenticated) as unknown:
        client.login("ZJ", new_citizen(), PASSWORD, ["SH"])
    assert wrong.value.message.split(": ", 1)[1] == unknown.value.message.split(": ", 1)[1]


def test_high_assurance_needs_face_at_hub(client: FederationClient) -> None:
    subject = _register(client)
    enrolled = template(1)
    client.enrol_face("ZJ", subject, PASSWORD, enrolled)
    live = [v * 1.01 + 0.01 for v in enrolled]
    login = client.login("ZJ", subject, PASSWORD, ["SH"], "high", live)
    assert login.acr == Assurance.HIGH.acr
    assert login.face_assertion.count(".") == 2
    claims = client.verify_token("SH", login.tokens[Region.SH.entity_id], "high").claims
    assert list(claims.amr) == ["pwd", "face"]
    with pytest.raises(Unauthenticated, match="face verification failed"):
        client.login("ZJ", subject, PASSWORD, ["SH"], "high", template(2))
    low = client.login("ZJ", subject, PASSWORD, ["SH"])
    with pytest.raises(PermissionDenied, match="below the required high"):
        client.verify_token("SH", low.tokens[Region.SH.entity_id], "high")


def test_logout_revokes_federation_wide_within_poll_delay(client: FederationClient) -> None:
    subject = _register(client)
    login = client.login("ZJ", subject, PASSWORD, ["SH", "AH"])
    client.logout("ZJ", login.session_id, login.session_secret)

    # the poll interval is 0.5 s in tests; accept within a bounded wait
    def refused() -> None:
        token = login.tokens[Region.AH.entity_id]
        try:
            client.verify_token("AH", token)
        except Unauthenticated as exc:
            assert "logged out" in exc.message
            return
        raise AssertionError("token of a logged-out session was accepted")

    started = time.monotonic()
    eventually(refused, timeout_s=5.0)
    assert time.monotonic() - started < 5.0
    with pytest.raises(Unauthenticated, match="logged out"):
        client.issue_token("ZJ", login.session_id, login.session_secret, "JS")


def test_face_quota_exhaustion_is_resource_exhausted(small_fed: tuple[Path, object]) -> None:
    directory, _ = small_fed
    with FederationClient(directory) as client:
        subject = _register(client)
        enrolled = template(5)
        client.enrol_face("ZJ", subject, PASSWORD, enrolled)
        for _ in range(3):  # the daily limit in this federation
            client.login("ZJ", subject, PASSWORD, ["SH"], "high", enrolled)
        with pytest.raises(ResourceExhausted, match="quota for region 330000 is spent"):
            client.login("ZJ", subject, PASSWORD, ["SH"], "high", enrolled)
