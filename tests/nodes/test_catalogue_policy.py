"""Fail closed on policy: only a node that never had a catalogue may use the starter policy."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from federation.cases.catalogue import Catalogue, sign_catalogue, starter_catalogue
from federation.clock import FixedClock
from federation.crypto.jose import Jwk, SigningKey
from federation.errors import (
    FailedPrecondition,
    IntegrityError,
    InvalidArgument,
    Unauthenticated,
    Unavailable,
)
from federation.licences import ExchangePolicy, default_policy
from federation.regions import Region
from nodes.client import FederationClient
from nodes.ops.supervisor import Federation
from nodes.servicers.catalogue_view import CatalogueView, NoCatalogueYet
from tests._support.nodes import eventually, make_federation, new_citizen

NOW = 1_800_000_000.0
HUB = SigningKey.generate()
STARTER = ExchangePolicy.from_dict({"service_items": {}})
REFUSED = (Unauthenticated, InvalidArgument, IntegrityError)


def view(tmp_path: Path, key: SigningKey = HUB) -> CatalogueView:
    def hub_key(kid: str) -> Jwk:
        assert kid == key.kid
        return key.jwk

    return CatalogueView(hub_key, tmp_path / "catalogue-cache.jwt", FixedClock(NOW))


def signed(version: int = 1, key: SigningKey = HUB) -> str:
    items = starter_catalogue().items
    return sign_catalogue(Catalogue(version, int(NOW), items), key)


def test_no_catalogue_ever_offered_uses_the_starter_policy(tmp_path: Path) -> None:
    fresh = view(tmp_path)
    fresh.load_cache()  # nothing cached
    with pytest.raises(NoCatalogueYet):
        fresh.current()
    assert fresh.exchange_policy(lambda: STARTER) is STARTER


def test_a_verified_catalogue_gives_its_own_policy(tmp_path: Path) -> None:
    good = view(tmp_path)
    good.offer(signed())
    policy = good.exchange_policy(lambda: STARTER)
    assert policy is not STARTER and policy is good.current().exchange_policy()


@pytest.mark.parametrize(
    "cached",
    [
        "garbage",
        "e30.e30.e30",
        signed(key=SigningKey.generate()),  # forged: another key with another kid
        signed()[:-6] + "AAAAAA",  # altered signature
    ],
)
def test_a_corrupt_or_forged_cached_catalogue_refuses_instead_of_the_starter(
    tmp_path: Path, cached: str
) -> None:
    (tmp_path / "catalogue-cache.jwt").write_text(cached)
    corrupt = view(tmp_path)
    corrupt.load_cache()  # logged, and remembered
    with pytest.raises(IntegrityError, match="failed verification"):
        corrupt.exchange_policy(lambda: STARTER)
    corrupt.offer(signed(2))  # a good catalogue from the hub heals it
    assert corrupt.exchange_policy(lambda: STARTER) is not STARTER


def test_a_forged_catalogue_from_the_hub_is_refused_and_not_replaced_by_the_starter(
    tmp_path: Path,
) -> None:
    fresh = view(tmp_path)
    with pytest.raises(REFUSED):
        fresh.offer(signed(key=SigningKey.generate()))
    with pytest.raises(IntegrityError):
        fresh.exchange_policy(lambda: STARTER)


def test_a_bad_offer_after_a_good_one_keeps_the_good_one(tmp_path: Path) -> None:
    good = view(tmp_path)
    good.offer(signed(1))
    with pytest.raises(REFUSED):
        good.offer("garbage")
    assert good.current().version == 1


def test_a_policy_build_error_is_a_failed_precondition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = view(tmp_path)
    good.offer(signed())

    def broken(self: Catalogue) -> ExchangePolicy:
        raise InvalidArgument("rule 3 names an unknown licence type")

    monkeypatch.setattr(Catalogue, "exchange_policy", broken)
    with pytest.raises(FailedPrecondition, match="version 1 yields no exchange policy: rule 3"):
        good.exchange_policy(default_policy)


def test_a_region_with_a_corrupt_catalogue_refuses_reads_with_data_loss(tmp_path: Path) -> None:
    """Hub down, Zhejiang restarted on a tampered cache: it must not fall back to the starter."""
    directory = make_federation(tmp_path / "federation")
    fed = Federation(directory, regions=(Region.HUB, Region.ZJ, Region.SH))
    fed.start()
    try:
        with FederationClient(directory) as client:
            holder = new_citizen("310104")
            client.register("SH", "natural", holder, "测试人", "Lotus-pond-2024")
            card = client.issue_licence(
                "ZJ",
                "policy-card",
                "resident_identity_card",
                holder,
                "测试人",
                {"sex": "male", "ethnicity": "汉", "birth_date": "1990-01-01", "address": "杭州"},
            )
            login = client.login("SH", holder, "Lotus-pond-2024", ["ZJ"])

            def read() -> str:
                token = client.issue_token("SH", login.session_id, login.session_secret, "ZJ")
                return client.fetch_remote_licence(
                    "SH", "ZJ", card.identifier, "YRD-SH-RS-0101", "qualification check", token
                ).fields_json

            eventually(read)
            fed.stop_node(Region.HUB)
            fed.stop_node(Region.ZJ)
            cache = directory / "zj" / "catalogue-cache.jwt"
            cache.write_text(cache.read_text()[:-8] + "AAAAAAAA")
            fed.spawn(Region.ZJ)  # not healthy without a catalogue, but it answers
            deadline = time.monotonic() + 30
            while True:
                try:
                    read()
                except IntegrityError as exc:
                    assert "failed verification" in exc.message
                    break
                except Unavailable:  # still starting
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
                else:
                    pytest.fail("a region with a tampered catalogue granted a read")
            assert client.health(Region.ZJ) == "NOT_SERVING"
    finally:
        fed.stop()
