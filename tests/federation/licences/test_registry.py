"""The licence registry: issue idempotently, aggregate by holder or party, publish statuses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from federation.clock import CHINA_STANDARD_TIME, FixedClock
from federation.codes import make_citizen_id, make_credit_code
from federation.crypto.jose import Jwk, SigningKey
from federation.errors import AlreadyExists, InvalidArgument, Unauthenticated
from federation.licences import (
    ElectronicSeal,
    IssuingAuthority,
    LicenceStatus,
    certify_seal_key,
    verify_sealed,
    verify_status_list,
)
from federation.licences.registry import IssueRequest, LicenceRegistry
from federation.regions import Region
from federation.storage import Store, open_store

NOW = dt.datetime(2025, 6, 1, 10, 0, tzinfo=CHINA_STANDARD_TIME).timestamp()
YEAR_S = 366 * 86400
REPRESENTATIVE = make_citizen_id("320505", dt.date(1985, 3, 9), 57)
ENTERPRISE = make_credit_code("9", "1", "320505", "MA1XK7Q2")
BUSINESS_FIELDS = {
    "entity_type": "有限责任公司(自然人投资或控股)",
    "legal_representative": "李四",
    "legal_representative_id": REPRESENTATIVE,
    "registered_capital": 5_000_000,
    "established_date": "2019-08-08",
    "business_scope": "软件开发；信息技术咨询服务",
    "domicile": "苏州工业园区星湖街328号",
}
DRIVING_FIELDS = {
    "sex": "男",
    "nationality": "中国",
    "birth_date": "1985-03-09",
    "address": "江苏省苏州市工业园区星湖街1号",
    "first_issue_date": "2005-03-01",
    "vehicle_class": "C1",
    "file_number": "320500123456",
}


class Jiangsu:
    """Jiangsu's region key and one market-regulation authority with a certified seal."""

    def __init__(self) -> None:
        self.region_key = SigningKey.generate()
        authority = IssuingAuthority(
            make_credit_code("1", "1", "320500", "01401186"), "苏州市市场监督管理局", "320500"
        )
        seal_key = SigningKey.generate()
        certificate = certify_seal_key(
            self.region_key, Region.JS, authority, seal_key.jwk, 5 * YEAR_S, NOW - YEAR_S
        )
        self.seal = ElectronicSeal(authority, seal_key, certificate)

    def seal_for(self, authority_code: str, type_code: str) -> ElectronicSeal:
        return self.seal

    def resolver(self, region_code: str, kid: str) -> Jwk:
        if region_code == Region.JS.code and kid == self.region_key.kid:
            return self.region_key.jwk
        raise Unauthenticated(f"key {kid} of region {region_code} is not in the trust list")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store("sqlite:///" + str(tmp_path / "s.sqlite3"))
    yield opened
    opened.close()


@pytest.fixture
def jiangsu() -> Jiangsu:
    return Jiangsu()


@pytest.fixture
def registry(store: Store, jiangsu: Jiangsu) -> LicenceRegistry:
    return LicenceRegistry(
        region=Region.JS,
        store=store,
        seal_for=jiangsu.seal_for,
        status_key=lambda: jiangsu.region_key,
        clock=FixedClock(NOW),
    )


def business_request(request_id: str = "biz-1", **changes: object) -> IssueRequest:
    request = IssueRequest(
        request_id=request_id,
        licence_type="business_licence",
        holder_code=ENTERPRISE,
        holder_name="苏州云帆信息科技有限公司",
        issue_date="2019-08-08",
        fields=BUSINESS_FIELDS,
    )
    return replace(request, **changes)  # type: ignore[arg-type]


def driving_request(request_id: str = "drv-1") -> IssueRequest:
    return IssueRequest(
        request_id=request_id,
        licence_type="driving_licence",
        holder_code=REPRESENTATIVE,
        holder_name="李四",
        number=REPRESENTATIVE,
        valid_until="2031-01-02",
        fields=DRIVING_FIELDS,
    )


def test_representative_aggregation_lists_the_enterprise_business_licence(
    registry: LicenceRegistry,
) -> None:
    business, created = registry.issue(business_request())
    driving, _ = registry.issue(driving_request())
    assert created and business.parties == (REPRESENTATIVE,)
    assert driving.parties == ()

    mine = registry.summaries(REPRESENTATIVE)
    assert {s.identifier for s in mine} == {business.identifier, driving.identifier}
    shown = next(s for s in mine if s.identifier == business.identifier)
    assert shown.licence_name == "营业执照"
    assert shown.issuing_region == Region.JS.code
    assert shown.status == "valid"
    # the enterprise still sees its own licence, and nobody else sees it
    assert [s.identifier for s in registry.summaries(ENTERPRISE)] == [business.identifier]
    other = make_citizen_id("320505", dt.date(1990, 1, 1), 11)
    assert registry.summaries(other) == []


def test_business_licence_without_representative_id_has_no_parties(
    registry: LicenceRegistry,
) -> None:
    fields = {k: v for k, v in BUSINESS_FIELDS.items() if k != "legal_representative_id"}
    record, _ = registry.issue(business_request(fields=fields))
    assert record.parties == ()
    assert registry.summaries(REPRESENTATIVE) == []


def test_retry_of_the_same_request_returns_the_same_record(
    registry: LicenceRegistry, store: Store
) -> None:
    first, created = registry.issue(business_request())
    again, created_again = registry.issue(business_request())
    assert created is True and created_again is False
    assert again == first
    assert store.status_entries() == [(first.status_index, int(LicenceStatus.VALID))]
    assert [s.identifier for s in registry.summaries(REPRESENTATIVE)] == [first.identifier]


def test_request_id_reused_with_other_content_is_refused(
    registry: LicenceRegistry, store: Store
) -> None:
    first, _ = registry.issue(business_request())
    changed = {**BUSINESS_FIELDS, "registered_capital": 6_000_000}
    with pytest.raises(AlreadyExists, match="request id biz-1 was reused"):
        registry.issue(business_request(fields=changed))
    assert store.status_entries() == [(first.status_index, int(LicenceStatus.VALID))]


def test_revocation_shows_in_the_record_and_the_signed_status_list(
    registry: LicenceRegistry, jiangsu: Jiangsu
) -> None:
    record, _ = registry.issue(business_request())
    before = verify_status_list(
        registry.signed_status_list(), jiangsu.resolver, NOW, registry.status_uri, Region.JS
    )
    assert before.status_of(record.status_index) is LicenceStatus.VALID

    revoked = registry.change_status(record.identifier, LicenceStatus.REVOKED)
    assert revoked.status == int(LicenceStatus.REVOKED)
    assert revoked.parties == (REPRESENTATIVE,)
    assert registry.get(record.identifier) == revoked
    after = verify_status_list(
        registry.signed_status_list(), jiangsu.resolver, NOW, registry.status_uri, Region.JS
    )
    assert after.status_of(record.status_index) is LicenceStatus.REVOKED
    assert [s.status for s in registry.summaries(REPRESENTATIVE)] == ["revoked"]



def test_a_status_index_taken_by_another_process_is_chosen_again(
    store: Store, jiangsu: Jiangsu
) -> None:
    """Two registries on one store (two worker processes or replicas) draw the same indices."""
    import random

    def registry_drawing(seed: int) -> LicenceRegistry:
        return LicenceRegistry(
            region=Region.JS,
            store=store,
            seal_for=jiangsu.seal_for,
            status_key=lambda: jiangsu.region_key,
            clock=FixedClock(NOW),
            rng=random.Random(seed),
        )

    a, b = registry_drawing(7), registry_drawing(7)
    first, _ = b.issue(driving_request("drv-1"))  # b's first draw; b now knows only it
    second, _ = a.issue(business_request("biz-1"))  # a skips that draw, takes its second
    # b's second draw is the index `a` just took, unknown to b: it must choose again
    third, created = b.issue(business_request("biz-2"))
    assert created
    assert third.status_index not in (first.status_index, second.status_index)
    indices = [index for index, _ in store.status_entries()]
    assert sorted(indices) == sorted(
        {first.status_index, second.status_index, third.status_index}
    )


def test_a_public_registry_names_https_addresses_and_still_serves_the_legacy_list(
    store: Store, jiangsu: Jiangsu
) -> None:
    base = "https://js.yrd.example:8443"
    registry = LicenceRegistry(
        region=Region.JS,
        store=store,
        seal_for=jiangsu.seal_for,
        status_key=lambda: jiangsu.region_key,
        clock=FixedClock(NOW),
        public_url=base + "/",
    )
    record, _ = registry.issue(business_request())
    registry.change_status(record.identifier, LicenceStatus.SUSPENDED)
    verified = verify_sealed(record.sd_jwt, jiangsu.resolver, NOW)
    code = jiangsu.seal.authority.credit_code
    assert verified.metadata.issuer == f"{base}/authorities/{code}"
    assert verified.licence.status is not None
    assert verified.licence.status.uri == registry.status_uri == f"{base}/status/320000/1"
    assert registry.status_uri_of(record) == registry.status_uri
    for uri in (registry.status_uri, "yrd:status:320000:1"):  # an old licence's name too
        listed = verify_status_list(
            registry.signed_status_list(uri), jiangsu.resolver, NOW, uri, Region.JS
        )
        assert listed.status_of(record.status_index) is LicenceStatus.SUSPENDED
    for foreign in ("https://other.example/status/320000/1", "yrd:status:330000:1"):
        with pytest.raises(InvalidArgument, match="publishes"):
            registry.signed_status_list(foreign)
    with pytest.raises(InvalidArgument, match="not a federation status list uri"):
        registry.signed_status_list("ftp://x/status")


def test_until_the_trust_list_lists_a_public_url_licences_keep_legacy_names(
    store: Store, jiangsu: Jiangsu
) -> None:
    listed = [""]
    registry = LicenceRegistry(
        region=Region.JS,
        store=store,
        seal_for=jiangsu.seal_for,
        status_key=lambda: jiangsu.region_key,
        clock=FixedClock(NOW),
        public_url=lambda: listed[0],
    )
    before, _ = registry.issue(business_request("biz-legacy"))
    listed[0] = "https://js.yrd.example"
    after, _ = registry.issue(driving_request("drv-listed"))
    old = verify_sealed(before.sd_jwt, jiangsu.resolver, NOW).metadata
    new = verify_sealed(after.sd_jwt, jiangsu.resolver, NOW).metadata
    assert old.status is not None and old.status.uri == "yrd:status:320000:1"
    assert old.issuer == old.authority.credit_code
    assert new.status is not None and new.status.uri == "https://js.yrd.example/status/320000/1"
    assert new.issuer == f"https://js.yrd.example/authorities/{new.authority.credit_code}"
    assert registry.status_uri_of(before) == "yrd:status:320000:1"
    assert registry.publishes(old.status.uri) and registry.publishes(new.status.uri)
