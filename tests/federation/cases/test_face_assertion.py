"""The face assertion a case accepts: hub-signed, about the applicant, for the window, fresh."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.cases.face_assertion import face_score, verify_face_assertion
from federation.crypto.jose import Jwk, SigningKey, sign_compact
from federation.errors import FederationError, InvalidArgument, PermissionDenied, Unauthenticated
from federation.identity.face import FACE_ASSERTION_TYP

HUB = SigningKey.generate()
OTHER = SigningKey.generate()
NOW = 1_750_000_000
SUBJECT, WINDOW = "340104199009091234", "310000"


def hub_key(kid: str) -> Jwk:
    if kid != HUB.jwk.kid:
        raise Unauthenticated(f"unknown hub key {kid}")
    return HUB.jwk


def claims(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "iss": "yrd:hub:100000",
        "sub": SUBJECT,
        "aud": WINDOW,
        "iat": NOW - 10,
        "exp": NOW + 290,
        "match": True,
        "score": 0.9731,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def assertion(key: SigningKey = HUB, typ: str = FACE_ASSERTION_TYP, **changes: Any) -> str:
    return sign_compact(claims(**changes), key, typ=typ)


def test_a_good_assertion_gives_its_score() -> None:
    assert verify_face_assertion(assertion(), SUBJECT, WINDOW, hub_key, NOW) == 0.9731
    # the last second of validity still counts
    assert verify_face_assertion(assertion(), SUBJECT, WINDOW, hub_key, NOW + 290) == 0.9731


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"sub": "someone-else"}, PermissionDenied, "another person"),
        ({"aud": "320000"}, PermissionDenied, "not the window's region 310000"),
        ({"exp": NOW - 1}, Unauthenticated, "expired"),
        ({"exp": None}, Unauthenticated, "expired"),
        ({"exp": True}, Unauthenticated, "expired"),
        ({"exp": "later"}, Unauthenticated, "expired"),
        ({"match": False}, PermissionDenied, "did not match"),
        ({"match": "true"}, PermissionDenied, "did not match"),
        ({"score": "high"}, InvalidArgument, "score"),
        ({"score": 1.5}, InvalidArgument, "score"),
        ({"score": True}, InvalidArgument, "score"),
    ],
)
def test_every_rule_refuses_precisely(
    changes: dict[str, Any], error: type[FederationError], match: str
) -> None:
    with pytest.raises(error, match=match):
        verify_face_assertion(assertion(**changes), SUBJECT, WINDOW, hub_key, NOW)


def test_only_a_hub_signed_face_assertion_counts() -> None:
    with pytest.raises(Unauthenticated, match="not a hub face-verification result"):
        verify_face_assertion(assertion(typ="JWT"), SUBJECT, WINDOW, hub_key, NOW)
    with pytest.raises(Unauthenticated, match="unknown hub key"):
        verify_face_assertion(assertion(key=OTHER), SUBJECT, WINDOW, hub_key, NOW)
    with pytest.raises(InvalidArgument):
        verify_face_assertion("not.a.jws", SUBJECT, WINDOW, hub_key, NOW)
    good = assertion()
    head, _, signature = good.split(".")
    forged = assertion(key=OTHER, score=0.99).split(".")[1]  # an altered score
    with pytest.raises(Unauthenticated, match="does not verify"):
        verify_face_assertion(f"{head}.{forged}.{signature}", SUBJECT, WINDOW, hub_key, NOW)


@given(
    sub=st.sampled_from([SUBJECT, "other"]),
    aud=st.sampled_from([WINDOW, "320000"]),
    exp=st.integers(NOW - 5, NOW + 5),
    match=st.sampled_from([True, False, None, 1]),
    score=st.floats(-1, 1),
    now=st.integers(NOW - 5, NOW + 5),
)
def test_a_score_comes_back_only_when_every_rule_holds(
    sub: str, aud: str, exp: int, match: Any, score: float, now: int
) -> None:
    body = {"sub": sub, "aud": aud, "exp": exp, "match": match, "score": score}
    accepted = sub == SUBJECT and aud == WINDOW and now <= exp and match is True
    try:
        result = face_score(body, SUBJECT, WINDOW, now)
    except (PermissionDenied, Unauthenticated):
        assert not accepted
    else:
        assert accepted and result == score
