"""Tests for `exp`/`nbf` on sealed licences: CST day bounds, agreement with the dates, old seals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.clock import CHINA_STANDARD_TIME
from federation.crypto.jose import parse_compact, sign_compact
from federation.errors import InvalidArgument
from federation.licences import Verdict, seal_licence, verify_licence, verify_sealed
from federation.licences.sdjwt import SD_JWT_TYP, join_sd_jwt, split_sd_jwt
from federation.licences.seal import SEAL_CERT_HEADER, end_of_day, start_of_day
from tests._support.licences import NOW, World

DAYS = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31))


def _payload(sealed: str) -> dict[str, Any]:
    return parse_compact(split_sd_jwt(sealed).issuer_jwt).payload()


def _reseal(world: World, sealed: str, **changes: Any) -> str:
    """The same licence re-signed by its own (genuine) seal with claims changed or removed."""
    parts = split_sd_jwt(sealed)
    payload = {**_payload(sealed), **changes}
    payload = {name: value for name, value in payload.items() if value is not None}
    seal = world.seal_for(world.police)
    issuer_jwt = sign_compact(
        payload, seal.key, typ=SD_JWT_TYP, extra_header={SEAL_CERT_HEADER: seal.certificate}
    )
    return join_sd_jwt(issuer_jwt, parts.disclosures)


@settings(max_examples=50, deadline=None)
@given(DAYS)
def test_day_bounds_are_china_standard_time(day: dt.date) -> None:
    start = dt.datetime.fromtimestamp(start_of_day(day), CHINA_STANDARD_TIME)
    assert (start.date(), start.time()) == (day, dt.time())
    assert end_of_day(day) - start_of_day(day) == 86400
    last_second = dt.datetime.fromtimestamp(end_of_day(day) - 1, CHINA_STANDARD_TIME)
    assert last_second.date() == day
    assert dt.datetime.fromtimestamp(end_of_day(day), CHINA_STANDARD_TIME).date() > day


@settings(max_examples=25, deadline=None)
@given(start=DAYS, length=st.integers(min_value=0, max_value=20 * 366))
def test_sealed_exp_and_nbf_follow_the_dates(world: World, start: dt.date, length: int) -> None:
    until = start + dt.timedelta(days=length)
    licence = world.driving_licence(issue_date=start, valid_from=start, valid_until=until)
    sealed = seal_licence(licence, world.seal_for(world.police), NOW).serialize()
    payload = _payload(sealed)
    assert payload["nbf"] == start_of_day(start)
    assert payload["exp"] == end_of_day(until)
    metadata = verify_sealed(sealed, world.resolver, NOW).metadata
    assert metadata.window == (payload["nbf"], payload["exp"])


def test_no_end_date_no_exp(world: World, sealed_business: str) -> None:
    payload = _payload(sealed_business)
    assert "exp" not in payload and payload["nbf"] == start_of_day(dt.date(2019, 8, 8))
    assert verify_licence(sealed_business, world.resolver, None, NOW).verdict is Verdict.VALID


def test_validity_ends_exactly_at_exp(world: World) -> None:
    sealed = world.seal(world.driving_licence(valid_until=dt.date(2025, 6, 1)))
    exp = _payload(sealed)["exp"]
    assert verify_licence(sealed, world.resolver, None, exp - 1).verdict is Verdict.VALID
    assert verify_licence(sealed, world.resolver, None, exp).verdict is Verdict.EXPIRED


def test_validity_starts_exactly_at_nbf(world: World) -> None:
    sealed = world.seal(world.driving_licence(valid_from=dt.date(2025, 6, 2)))
    nbf = _payload(sealed)["nbf"]
    verdict = verify_licence(sealed, world.resolver, None, nbf - 1)
    assert verdict.verdict is Verdict.NOT_YET_VALID
    assert verify_licence(sealed, world.resolver, None, nbf).verdict is Verdict.VALID


@pytest.mark.parametrize(
    ("claim", "shift", "message"),
    [("exp", 86400, "contradicts valid_until"), ("exp", -1, "contradicts valid_until"),
     ("nbf", -86400, "contradicts valid_from"), ("exp", "x", "integer")],
)  # fmt: skip
def test_exp_or_nbf_contradicting_the_dates_is_forged(
    world: World, sealed_driving: str, claim: str, shift: Any, message: str
) -> None:
    value = shift if isinstance(shift, str) else _payload(sealed_driving)[claim] + shift
    forged = _reseal(world, sealed_driving, **{claim: value})
    with pytest.raises(InvalidArgument, match=message):
        verify_sealed(forged, world.resolver, NOW)
    verdict = verify_licence(forged, world.resolver, None, NOW)
    assert verdict.verdict is Verdict.FORGED and message in verdict.reasons[0]


def test_exp_without_an_end_date_is_forged(world: World, sealed_business: str) -> None:
    parts = split_sd_jwt(sealed_business)
    payload = {**_payload(sealed_business), "exp": int(NOW) + 86400}
    seal = world.seal_for(world.market)
    issuer_jwt = sign_compact(
        payload, seal.key, typ=SD_JWT_TYP, extra_header={SEAL_CERT_HEADER: seal.certificate}
    )
    verdict = verify_licence(join_sd_jwt(issuer_jwt, parts.disclosures), world.resolver, None, NOW)
    assert verdict.verdict is Verdict.FORGED
    assert "without valid_until" in verdict.reasons[0]


def test_licences_sealed_before_exp_and_nbf_still_verify(world: World) -> None:
    sealed_at = NOW - 10 * 86400
    current = world.seal(world.driving_licence(valid_until=dt.date(2025, 5, 31)), sealed_at)
    old = _reseal(world, current, exp=None, nbf=None)
    assert "exp" not in _payload(old) and "nbf" not in _payload(old)
    assert verify_sealed(old, world.resolver, NOW).metadata.expires_at is None
    assert verify_licence(old, world.resolver, None, NOW).verdict is Verdict.EXPIRED
    day_before = NOW - 2 * 86400
    assert verify_licence(old, world.resolver, None, day_before).verdict is Verdict.VALID
