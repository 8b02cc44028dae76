"""Test world for licences: region keys, trust-list resolver, authorities, seals, licences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from federation.clock import CHINA_STANDARD_TIME
from federation.codes import make_citizen_id, make_credit_code
from federation.crypto.jose import Jwk, SigningKey
from federation.errors import Unauthenticated
from federation.licences import (
    ElectronicSeal,
    IssuingAuthority,
    Licence,
    StatusReference,
    build_licence,
    certify_seal_key,
    licence_type_by_key,
    seal_licence,
)
from federation.licences.types import FieldValue
from federation.regions import Region

NOW = dt.datetime(2025, 6, 1, 10, 0, tzinfo=CHINA_STANDARD_TIME).timestamp()
YEAR_S = 366 * 86400

PERSON_ID = make_citizen_id("320102", dt.date(1990, 5, 17), 123)
ENTERPRISE_CODE = make_credit_code("9", "1", "320505", "MA1XK7Q2")

DRIVING_FIELDS: dict[str, FieldValue] = {
    "sex": "男",
    "nationality": "中国",
    "birth_date": "1990-05-17",
    "address": "江苏省南京市玄武区中山东路1号",
    "first_issue_date": "2010-03-01",
    "vehicle_class": "C1",
    "file_number": "320100123456",
}

BUSINESS_FIELDS: dict[str, FieldValue] = {
    "entity_type": "有限责任公司(自然人投资或控股)",
    "legal_representative": "李四",
    "registered_capital": 5_000_000,
    "established_date": "2019-08-08",
    "business_scope": "软件开发；信息技术咨询服务",
    "domicile": "苏州工业园区星湖街328号",
}


@dataclass
class World:
    """Four regions with keys in a trust list, two Jiangsu authorities with certified seals."""

    region_keys: dict[Region, SigningKey]
    police: IssuingAuthority
    market: IssuingAuthority
    seals: dict[str, ElectronicSeal]
    holder_key: SigningKey
    revoked_kids: set[str] = field(default_factory=set)

    def resolver(self, region_code: str, kid: str) -> Jwk:
        """The trust-list lookup a node would do: (region code, kid) -> key, or Unauthenticated."""
        for region, key in self.region_keys.items():
            if region.code == region_code and key.kid == kid and kid not in self.revoked_kids:
                return key.jwk
        raise Unauthenticated(f"key {kid} of region {region_code} is not in the trust list")

    def seal_for(self, authority: IssuingAuthority) -> ElectronicSeal:
        return self.seals[authority.credit_code]

    def driving_licence(self, **changes: object) -> Licence:
        values: dict[str, object] = {
            "serial": "JS2025000001",
            "number": PERSON_ID,
            "holder_name": "张三",
            "holder_code": PERSON_ID,
            "issue_date": dt.date(2025, 1, 2),
            "valid_from": dt.date(2025, 1, 2),
            "valid_until": dt.date(2031, 1, 2),
            "fields": DRIVING_FIELDS,
            "status": StatusReference("https://js.yrd.example/status/police/1", 1234),
        }
        values.update(changes)
        return build_licence(licence_type_by_key("driving_licence"), self.police, **values)  # type: ignore[arg-type]

    def business_licence(self, **changes: object) -> Licence:
        values: dict[str, object] = {
            "serial": "SZ2019000777",
            "number": ENTERPRISE_CODE,
            "holder_name": "苏州云帆信息科技有限公司",
            "holder_code": ENTERPRISE_CODE,
            "issue_date": dt.date(2019, 8, 8),
            "valid_from": dt.date(2019, 8, 8),
            "valid_until": None,
            "fields": BUSINESS_FIELDS,
            "status": StatusReference("https://js.yrd.example/status/market/1", 77),
        }
        values.update(changes)
        return build_licence(licence_type_by_key("business_licence"), self.market, **values)  # type: ignore[arg-type]

    def seal(self, licence: Licence, now: float = NOW, bind: bool = True) -> str:
        holder = self.holder_key.jwk if bind else None
        return seal_licence(licence, self.seal_for(licence.authority), now, holder).serialize()


def make_world() -> World:
    region_keys = {region: SigningKey.generate() for region in Region}
    police = IssuingAuthority(
        make_credit_code("1", "1", "320000", "01400123"), "江苏省公安厅交通警察总队", "320000"
    )
    market = IssuingAuthority(
        make_credit_code("1", "1", "320500", "01401186"), "苏州市市场监督管理局", "320500"
    )
    seals = {}
    for authority in (police, market):
        key = SigningKey.generate()
        cert = certify_seal_key(
            region_keys[Region.JS], Region.JS, authority, key.jwk, 5 * YEAR_S, NOW - YEAR_S
        )
        seals[authority.credit_code] = ElectronicSeal(authority, key, cert)
    return World(region_keys, police, market, seals, SigningKey.generate())


class NonceLedger:
    """A verifier's memory of used nonces (the `nonce_checker` callback)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.calls = 0

    def __call__(self, nonce: str) -> bool:
        self.calls += 1
        if nonce in self.seen:
            return False
        self.seen.add(nonce)
        return True


Resolver = Callable[[str, str], Jwk]
FieldMap = Mapping[str, FieldValue]
