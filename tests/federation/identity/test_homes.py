"""Tests for the hub's home registry and the home attestations it signs."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.clock import FixedClock
from federation.codes import make_citizen_id, make_credit_code
from federation.crypto.jose import SigningKey, b64url_decode, b64url_encode, sign_compact
from federation.errors import AlreadyExists, InvalidArgument, Unauthenticated
from federation.identity.homes import (
    HOME_ATTESTATION_TYP,
    HomeRegistry,
    verify_home_attestation,
)
from federation.regions import PROVINCES, Region
from federation.storage.base import SubjectHome
from federation.trust.trustlist import Member, TrustList

NOW = 1_750_000_000.0
HUB = Region.HUB.entity_id
HUB_KEY = SigningKey.generate()
ZJ_KEY = SigningKey.generate()
CITIZEN = make_citizen_id("330106", datetime.date(1988, 5, 17), 23)
COMPANY = make_credit_code("9", "1", "310115", "MA1FL8X0")
TRUST = TrustList(
    1,
    int(NOW),
    int(NOW) + 10**6,
    "ab" * 32,
    (
        Member(HUB, "100000", "hub", ("hub",), "", (), (HUB_KEY.jwk,)),
        Member(Region.ZJ.entity_id, "330000", "ZJ", ("region",), "", (), (ZJ_KEY.jwk,)),
    ),
)


def registry() -> tuple[HomeRegistry, dict[str, SubjectHome]]:
    homes: dict[str, SubjectHome] = {}
    reg = HomeRegistry(
        claim=lambda home: homes.setdefault(home.subject_id, home),
        signing_key=lambda: HUB_KEY,
        hub_entity_id=HUB,
        clock=FixedClock(NOW),
    )
    return reg, homes


def test_the_first_region_is_the_home_and_its_claim_is_idempotent() -> None:
    reg, homes = registry()
    first = reg.claim("330000", f" {CITIZEN.lower()} ", "natural")
    home = verify_home_attestation(first, TRUST, NOW)
    assert (home.subject, home.home_region, home.subject_kind) == (CITIZEN, "330000", "natural")
    assert home.issuer == HUB and home.issued_at == int(NOW)
    again = verify_home_attestation(reg.claim("330000", CITIZEN, "natural"), TRUST, NOW)
    assert again.home_region == "330000"
    assert list(homes) == [CITIZEN]


@settings(deadline=None)
@given(first=st.sampled_from(PROVINCES), second=st.sampled_from(PROVINCES))
def test_any_other_region_is_refused_naming_the_home(first: Region, second: Region) -> None:
    reg, homes = registry()
    reg.claim(first.code, CITIZEN, "natural")
    if first is second:
        assert reg.claim(second.code, CITIZEN, "natural")
    else:
        with pytest.raises(AlreadyExists, match=f"home region {first.code}; region {second.code}"):
            reg.claim(second.code, CITIZEN, "natural")
    assert homes[CITIZEN].home_region == first.code


def test_the_hub_and_bad_ids_and_kinds_claim_nothing() -> None:
    reg, homes = registry()
    with pytest.raises(InvalidArgument, match="only a province"):
        reg.claim("100000", CITIZEN, "natural")
    with pytest.raises(InvalidArgument):
        reg.claim("330000", CITIZEN[:-1] + ("0" if CITIZEN[-1] != "0" else "1"), "natural")
    with pytest.raises(InvalidArgument):
        reg.claim("330000", CITIZEN, "robot")
    with pytest.raises(InvalidArgument):
        reg.claim("110000", CITIZEN, "natural")
    assert homes == {}
    # a credit code is never a valid citizen id: the kind is checked with the id
    with pytest.raises(InvalidArgument):
        reg.claim("310000", COMPANY, "natural")
    legal = verify_home_attestation(reg.claim("310000", COMPANY, "legal"), TRUST, NOW)
    assert legal.subject_kind == "legal"


def _claims(token: str) -> dict[str, Any]:
    return dict(json.loads(b64url_decode(token.split(".")[1])))


@settings(deadline=None)
@given(
    claim=st.sampled_from(["iss", "sub", "sub_kind", "home", "iat"]),
    value=st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none()),
)
def test_any_altered_claim_is_refused(claim: str, value: object) -> None:
    token = registry()[0].claim("330000", CITIZEN, "natural")
    claims = _claims(token)
    if claims[claim] == value and type(claims[claim]) is type(value):
        return
    head, _, sig = token.split(".")
    body = b64url_encode(json.dumps({**claims, claim: value}).encode())
    with pytest.raises(Unauthenticated, match="forged"):
        verify_home_attestation(f"{head}.{body}.{sig}", TRUST, NOW)
    # and re-signed by anyone but the hub, it is still refused
    with pytest.raises(Unauthenticated):
        verify_home_attestation(
            sign_compact({**claims, claim: value}, ZJ_KEY, typ=HOME_ATTESTATION_TYP), TRUST, NOW
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"iat": int(NOW) + 3600}, "issued in the future"),
        ({"iat": True}, "'iat' must be an integer"),
        ({"sub": ""}, "'sub' must be a non-empty string"),
        ({"home": "110000"}, "names no province"),
        ({"iss": Region.ZJ.entity_id}, "issuer must be the hub"),
    ],
)
def test_hub_signed_but_malformed_attestations_are_refused(
    change: dict[str, Any], message: str
) -> None:
    claims = {"iss": HUB, "sub": CITIZEN, "sub_kind": "natural", "home": "330000", "iat": 1}
    token = sign_compact({**claims, **change}, HUB_KEY, typ=HOME_ATTESTATION_TYP)
    with pytest.raises(Unauthenticated, match=message):
        verify_home_attestation(token, TRUST, NOW)
