"""`yrd demo`: five real nodes on loopback and the whole story, printed as a readable trace."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from federation.codes import make_citizen_id
from federation.crypto.jose import b64url_decode, b64url_encode
from federation.identity.assurance import Assurance
from federation.identity.tokens import mint_token, unverified_home_attestation
from federation.regions import Region
from nodes.client import FederationClient
from nodes.demo.licences import licence_story
from nodes.demo.trace import Trace
from nodes.demo.window import window_story
from nodes.ops.provisioning import Layout, init_federation, load_active_signing_key, read_trust_list
from nodes.ops.supervisor import Federation


def face_template(seed: int, dims: int = 128) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0.0, 1.0) for _ in range(dims)]


def noisy(template: list[float], sigma: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [v + rng.gauss(0.0, sigma) for v in template]


def tamper_payload(token: str, claim: str, value: Any) -> str:
    import json

    head, body, sig = token.split(".")
    payload = json.loads(b64url_decode(body))
    payload[claim] = value
    new_body = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    return f"{head}.{new_body}.{sig}"


RESIDENT = make_citizen_id("330106", dt.date(1988, 5, 17), 124)
PASSWORD = "Qiantang-river-88"
STATUS_TTL_S = 3


def identity_story(client: FederationClient, layout: Layout, trace: Trace) -> None:
    resident = RESIDENT
    password = PASSWORD
    trace.section("Identity: authenticate once at home (Zhejiang), served everywhere")
    reply = client.register("ZJ", "natural", resident, "Chen Jing 陈静", password)
    trace.ok(
        f"Zhejiang registers resident {resident} (GB 11643 check digit valid)",
        f"home region {reply.home_region}, password stored as scrypt hash",
    )
    enrolled = face_template(7)
    client.enrol_face("ZJ", resident, password, enrolled)
    trace.ok("face template enrolled at Zhejiang and forwarded to the national hub")
    trace.expect_refusal(
        "registering an id number with a wrong check digit",
        lambda: client.register(
            "ZJ",
            "natural",
            resident[:-1] + ("1" if resident[-1] != "1" else "2"),
            "Nobody",
            password,
        ),
        "INVALID_ARGUMENT",
    )
    trace.expect_refusal(
        "registering the same resident again at Shanghai (one person, one home: the hub)",
        lambda: client.register("SH", "natural", resident, "Impostor", "Another-pass-99"),
        "ALREADY_EXISTS",
    )
    login = client.login("ZJ", resident, password, ["SH", "JS", "AH"])
    trace.ok(
        "one password login at Zhejiang -> tokens for Shanghai, Jiangsu and Anhui",
        f"session {login.session_id[:10]}..., acr {login.acr}",
    )
    for region in (Region.SH, Region.JS, Region.AH):
        claims = client.verify_token(region, login.tokens[region.entity_id]).claims
        trace.ok(
            f"{region.label} serves {claims.name} with no second login",
            f"verified offline with Zhejiang's key from the trust list; iss={claims.iss} "
            f"aud={claims.aud} acr={claims.acr}",
        )

    trace.section("High assurance: password + face verification at the national hub")
    high = client.login("ZJ", resident, password, ["SH"], "high", noisy(enrolled, 0.15, 1))
    claims = client.verify_token("SH", high.tokens[Region.SH.entity_id], "high").claims
    trace.ok(
        "hub matched the live face (cosine similarity above threshold); acr=high",
        f"Shanghai accepts it for a high-assurance item: amr={list(claims.amr)}",
    )
    trace.expect_refusal(
        "a different person's face",
        lambda: client.login("ZJ", resident, password, ["SH"], "high", face_template(99)),
        "UNAUTHENTICATED",
    )
    low = client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
    trace.expect_refusal(
        "a low-assurance token at a service item that requires high",
        lambda: client.verify_token("SH", low, "high"),
        "PERMISSION_DENIED",
    )

    trace.section("Refusals: forged, expired, replayed, wrong audience")
    fresh = client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
    trace.expect_refusal(
        "a forged token (claims altered: acr raised to high, signature kept)",
        lambda: client.verify_token("SH", tamper_payload(fresh, "acr", Assurance.HIGH.acr)),
        "UNAUTHENTICATED",
    )
    trust = read_trust_list(layout)
    zj_key = load_active_signing_key(
        layout.signing_dir(Region.ZJ), trust.member(Region.ZJ.entity_id).signing_keys
    )
    expired = mint_token(
        zj_key,
        issuer=Region.ZJ.entity_id,
        subject=resident,
        audience=Region.SH.entity_id,
        session_id=login.session_id,
        assurance=Assurance.LOW,
        home_region=Region.ZJ.code,
        subject_kind="natural",
        name="Chen Jing",
        amr=("pwd",),
        home_attestation=unverified_home_attestation(fresh),
        now=time.time() - 1800,
        ttl_s=600,
    )
    trace.expect_refusal(
        "a genuine token that expired 20 minutes ago",
        lambda: client.verify_token("SH", expired),
        "UNAUTHENTICATED",
    )
    client.verify_token("SH", fresh)
    trace.ok("a fresh token is accepted once at Shanghai")
    trace.expect_refusal(
        "the same token presented again (replay)",
        lambda: client.verify_token("SH", fresh),
        "UNAUTHENTICATED",
    )
    js_token = client.issue_token("ZJ", login.session_id, login.session_secret, "JS")
    trace.expect_refusal(
        "a token for Jiangsu presented in Anhui",
        lambda: client.verify_token("AH", js_token),
        "PERMISSION_DENIED",
    )

    trace.section("Logout at home revokes the session federation-wide")
    pending = client.issue_token("ZJ", login.session_id, login.session_secret, "AH")
    client.logout("ZJ", login.session_id, login.session_secret)
    trace.ok("resident logs out at Zhejiang")
    time.sleep(3.0)  # regions poll revocations every 2 s
    trace.expect_refusal(
        "Anhui refuses a token of the logged-out session (after <= 2 s poll)",
        lambda: client.verify_token("AH", pending),
        "UNAUTHENTICATED",
    )


def run_demo(keep: Path | None = None) -> None:
    trace = Trace()
    with tempfile.TemporaryDirectory(prefix="yrd-demo-") as tmp:
        directory = keep or Path(tmp) / "federation"
        init_federation(
            directory,
            base_port=0,
            force=keep is not None,
            password_cost_log2=14,
            status_list_ttl_s=STATUS_TTL_S,
        )
        layout = Layout(directory.resolve())
        trace.section(f"Federation material in {layout.root}")
        trace.ok("root CA, node certificates, signing keys and hub-signed trust list created")
        with Federation(directory) as fed:
            trace.ok(
                "hub and four regions running as separate processes over mutual TLS",
                ", ".join(f"{r.short} pid {p.pid}" for r, p in fed.procs.items()),
            )
            with FederationClient(directory) as client:
                identity_story(client, layout, trace)
                licence_story(client, trace, RESIDENT, PASSWORD, STATUS_TTL_S)
                window_story(client, trace, face_template(21))
    if trace.failures:
        raise click.ClickException(f"{trace.failures} demo step(s) did not behave as expected")
