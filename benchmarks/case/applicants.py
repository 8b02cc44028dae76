"""The case benchmark's applicants: account and face at home, identity card at Anhui, logged in."""

from __future__ import annotations

import datetime
import json
import random
import time
from dataclasses import dataclass

from benchmarks._federation import token_claims
from benchmarks.case.config import CARD_HOLDER, HOME, ITEM, OWNER, PASSWORD, WINDOW
from federation.codes import make_citizen_id
from federation.identity.assurance import Assurance
from nodes.client import FederationClient


def face_template(seed: int, dims: int = 128) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0.0, 1.0) for _ in range(dims)]


@dataclass(frozen=True)
class Applicant:
    """An Anhui resident with her account (and face) at Zhejiang and her identity card at Anhui."""

    subject_id: str
    name: str
    session_id: str
    identity_card: str
    face: list[float]
    assurance: Assurance
    amr: tuple[str, ...]
    home_attestation: str  # the hub's, from her login: minted tokens carry it like IssueToken


def enrol_applicants(client: FederationClient, count: int, tag: str) -> list[Applicant]:
    return [enrol_applicant(client, i, tag) for i in range(count)]


def enrol_applicant(client: FederationClient, i: int, tag: str) -> Applicant:
    """Register, enrol her face, issue her identity card, log in with face (substantial)."""
    subject = make_citizen_id("340104", datetime.date(1990, 1 + i % 12, 9), 60 + i)
    name = f"申请人{i}"
    face = face_template(1000 + i)
    client.register(HOME.short, "natural", subject, name, PASSWORD)
    client.enrol_face(HOME.short, subject, PASSWORD, face)
    card = client.issue_licence(
        CARD_HOLDER.short,
        f"{tag}-idc-{i}",
        "resident_identity_card",
        subject,
        name,
        {
            "sex": "female",
            "ethnicity": "汉",
            "birth_date": f"1990-{1 + i % 12:02d}-09",
            "address": f"合肥市蜀山区长江西路 {i + 1} 号",
        },
        valid_until="2040-09-09",
    )
    login = client.login(
        HOME.short, subject, PASSWORD, [OWNER.short, CARD_HOLDER.short], "substantial", face
    )
    claims = token_claims(login.tokens[OWNER.entity_id])
    return Applicant(
        subject,
        name,
        str(login.session_id),
        str(card.identifier),
        face,
        Assurance.parse(str(claims["acr"])),
        tuple(str(a) for a in claims["amr"]),
        str(claims["home_att"]),
    )


def wait_for_catalogue(client: FederationClient, timeout_s: float = 30.0) -> None:
    """Regions publish their items to the hub just after start; wait until both sides know it."""
    deadline = time.monotonic() + timeout_s
    missing: list[str] = []
    while time.monotonic() < deadline:
        missing = [r.short for r in (WINDOW, OWNER) if not _lists_item(client, r.short)]
        if not missing:
            return
        time.sleep(0.25)
    raise RuntimeError(f"item {ITEM} not in the catalogue of {missing} after {timeout_s:.0f} s")


def _lists_item(client: FederationClient, region: str) -> bool:
    signed = str(client.get_catalogue(region).signed_catalogue)
    return bool(signed) and ITEM in json.dumps(token_claims(signed), ensure_ascii=False)
