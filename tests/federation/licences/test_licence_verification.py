"""Tests for licence verdicts: valid, expired, not yet valid, suspended, revoked, forged."""

from __future__ import annotations

import datetime as dt

import pytest

from federation.clock import CHINA_STANDARD_TIME
from federation.crypto.jose import SigningKey
from federation.errors import Unauthenticated, Unavailable
from federation.licences import (
    LicenceStatus,
    StatusList,
    Verdict,
    VerifiedStatusList,
    licence_day,
    sign_status_list,
    verify_licence,
    verify_status_list,
)
from federation.licences.sdjwt import join_sd_jwt, split_sd_jwt
from federation.regions import Region
from tests._support.licences import NOW, World

URI = "https://js.yrd.example/status/police/1"
INDEX = 1234


def _lists(world: World, status: LicenceStatus | None = None, region: Region = Region.JS,
           uri: str = URI) -> dict[str, VerifiedStatusList]:
    statuses = StatusList(4096)
    if status is not None:
        statuses.set(INDEX, status)
    token = sign_status_list(statuses, world.region_keys[region], region, uri, NOW)
    return {URI: verify_status_list(token, world.resolver, NOW)}


def test_valid(world: World, sealed_driving: str) -> None:
    verdict = verify_licence(sealed_driving, world.resolver, _lists(world).__getitem__, NOW)
    assert verdict.verdict is Verdict.VALID and verdict.is_valid
    assert verdict.status_checked
    assert verdict.licence == world.driving_licence()
    assert verdict.identifier == world.driving_licence().identifier.format()
    assert "verifies" in verdict.reasons[0]
    assert verdict.to_dict()["verdict"] == "valid"


@pytest.mark.parametrize(
    ("status", "verdict", "word"),
    [(LicenceStatus.REVOKED, Verdict.REVOKED, "revoked"),
     (LicenceStatus.SUSPENDED, Verdict.SUSPENDED, "suspended")],
)
def test_status_verdicts(world: World, sealed_driving: str, status: LicenceStatus,
                         verdict: Verdict, word: str) -> None:
    result = verify_licence(sealed_driving, world.resolver, _lists(world, status).__getitem__, NOW)
    assert result.verdict is verdict
    assert any(word in reason and str(INDEX) in reason for reason in result.reasons)


def test_expired(world: World) -> None:
    sealed = world.seal(world.driving_licence(valid_from=dt.date(2019, 1, 1),
                                              valid_until=dt.date(2025, 5, 31)))
    result = verify_licence(sealed, world.resolver, _lists(world).__getitem__, NOW)
    assert result.verdict is Verdict.EXPIRED
    assert "valid until 2025-05-31" in result.reasons[0]


def test_last_day_is_still_valid(world: World) -> None:
    sealed = world.seal(world.driving_licence(valid_until=dt.date(2025, 6, 1)))
    assert verify_licence(sealed, world.resolver, None, NOW).verdict is Verdict.VALID


def test_not_yet_valid(world: World) -> None:
    sealed = world.seal(world.driving_licence(valid_from=dt.date(2025, 7, 1),
                                              valid_until=dt.date(2031, 7, 1)))
    result = verify_licence(sealed, world.resolver, _lists(world).__getitem__, NOW)
    assert result.verdict is Verdict.NOT_YET_VALID
    assert "valid from 2025-07-01" in result.reasons[0]


def test_gravest_finding_wins_and_all_reasons_are_kept(world: World) -> None:
    sealed = world.seal(world.driving_licence(valid_from=dt.date(2019, 1, 1),
                                              valid_until=dt.date(2025, 5, 31)))
    lists = _lists(world, LicenceStatus.REVOKED)
    result = verify_licence(sealed, world.resolver, lists.__getitem__, NOW)
    assert result.verdict is Verdict.REVOKED
    assert len(result.reasons) == 2 and "expired" in result.reasons[1]


def test_forged_bad_signature(world: World, sealed_driving: str) -> None:
    jwt, *rest = sealed_driving.split("~")
    head, body, sig = jwt.split(".")
    tampered = "~".join([f"{head}.{body}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}",
                         *rest])
    result = verify_licence(tampered, world.resolver, None, NOW)
    assert result.verdict is Verdict.FORGED
    assert "signature does not verify" in result.reasons[0]


def test_forged_unknown_key(world: World) -> None:
    world.revoked_kids.add(world.region_keys[Region.JS].kid)
    try:
        result = verify_licence(world.seal(world.driving_licence()), world.resolver, None, NOW)
    finally:
        world.revoked_kids.clear()
    assert result.verdict is Verdict.FORGED
    assert "trust list" in result.reasons[0]


def test_forged_tampered_disclosure(world: World, sealed_driving: str) -> None:
    other = split_sd_jwt(world.seal(world.driving_licence(holder_name="李雷")))
    parts = split_sd_jwt(sealed_driving)
    mixed = join_sd_jwt(parts.issuer_jwt, (other.disclosures[0], *parts.disclosures[1:]))
    result = verify_licence(mixed, world.resolver, None, NOW)
    assert result.verdict is Verdict.FORGED
    assert "not sealed" in result.reasons[0]


def test_status_not_consulted_is_said(world: World, sealed_driving: str) -> None:
    result = verify_licence(sealed_driving, world.resolver, None, NOW)
    assert result.verdict is Verdict.VALID and not result.status_checked
    assert any("not consulted" in reason for reason in result.reasons)


def test_status_list_trouble_propagates(world: World, sealed_driving: str) -> None:
    def down(uri: str) -> VerifiedStatusList:
        raise Unavailable("region JS is unreachable")

    with pytest.raises(Unavailable):
        verify_licence(sealed_driving, world.resolver, down, NOW)
    foreign = _lists(world, region=Region.ZJ)
    with pytest.raises(Unauthenticated, match="signed by ZJ"):
        verify_licence(sealed_driving, world.resolver, foreign.__getitem__, NOW)
    statuses = StatusList(4096)
    token = sign_status_list(statuses, world.region_keys[Region.JS], Region.JS, "https://o", NOW)
    other = {URI: verify_status_list(token, world.resolver, NOW)}
    with pytest.raises(Unauthenticated, match="not the licence's list"):
        verify_licence(sealed_driving, world.resolver, other.__getitem__, NOW)


def test_unsigned_region_key_for_status_is_refused(world: World) -> None:
    token = sign_status_list(StatusList(8), SigningKey.generate(), Region.JS, URI, NOW)
    with pytest.raises(Unauthenticated):
        verify_status_list(token, world.resolver, NOW)


def test_licence_day_is_china_standard_time() -> None:
    late_utc = dt.datetime(2025, 5, 31, 17, 30, tzinfo=dt.UTC).timestamp()
    assert licence_day(late_utc) == dt.date(2025, 6, 1)
    assert licence_day(dt.datetime(2025, 6, 1, 0, 0, tzinfo=CHINA_STANDARD_TIME).timestamp()) \
        == dt.date(2025, 6, 1)
