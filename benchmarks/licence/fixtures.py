"""The licence benchmark's untimed set-up: a pool of sealed licences, a holder in four regions."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks._federation import TokenMinter
from benchmarks.licence.config import AGGREGATOR, HOLDER_NAME, HOME, ISSUER, PASSWORD, log
from federation.codes import make_citizen_id, make_credit_code
from federation.identity.tokens import unverified_home_attestation
from federation.regions import Region
from nodes.client import FederationClient
from nodes.pb.v1 import licence_pb2


def driving_fields(i: int) -> dict[str, object]:
    return {
        "sex": "female" if i % 2 else "male",
        "nationality": "CHN",
        "birth_date": "1988-05-17",
        "address": f"南京市鼓楼区中山路 {100 + i} 号",
        "first_issue_date": "2012-03-01",
        "vehicle_class": "C1",
        "file_number": f"3201{i:08d}",
    }


def business_fields(i: int) -> dict[str, object]:
    return {
        "entity_type": "有限责任公司",
        "legal_representative": "陈静",
        "registered_capital": 1_000_000 + i,
        "established_date": "2019-08-08",
        "business_scope": "软件开发; 信息技术咨询服务",
        "domicile": f"苏州工业园区星湖街 {i} 号",
    }


@dataclass(frozen=True)
class PoolIssuer:
    """Where a pool's licences are sealed and how their holders and ids are named."""

    region: Region
    citizen_division: str  # of the driving licences' holders
    company_division: str  # of the business licences' holders
    credit_serial: str  # first two characters of the companies' credit code serials
    city: str  # in the companies' names
    ids: str = ""  # inserted in the request ids, so pools of one run never collide


ED25519_POOL = PoolIssuer(ISSUER, "320102", "320505", "MA", "苏州")


def issue_pool(
    client: FederationClient, count: int, tag: str, issuer: PoolIssuer = ED25519_POOL
) -> list[str]:
    """`count` licences sealed at `issuer` (ISSUER by default), half driving licences (people),
    half business licences (enterprises), all of them valid; returns their full SD-JWTs."""
    return [str(_issue_one(client, i, tag, issuer).sd_jwt) for i in range(count)]


def _issue_one(
    client: FederationClient, i: int, tag: str, issuer: PoolIssuer
) -> licence_pb2.LicenceDocument:
    if i % 2 == 0:
        born = datetime.date(1980 + i % 20, 1 + i % 12, 9)
        holder = make_citizen_id(issuer.citizen_division, born, i + 1)
        return client.issue_licence(
            issuer.region.short,
            f"{tag}-{issuer.ids}drv-{i}",
            "driving_licence",
            holder,
            f"驾驶人{i}",
            driving_fields(i),
            valid_from="2022-03-01",
            valid_until="2032-03-01",
        )
    company = make_credit_code("9", "1", issuer.company_division, f"{issuer.credit_serial}{i:06X}")
    return client.issue_licence(
        issuer.region.short,
        f"{tag}-{issuer.ids}biz-{i}",
        "business_licence",
        company,
        f"{issuer.city}基准{i}科技有限公司",
        business_fields(i),
        valid_until="2049-08-07",
    )


@dataclass(frozen=True)
class Holder:
    subject_id: str
    session_id: str
    licences_per_region: int
    driving_licence: str  # held by JS: the relayed read's object
    home_attestation: str  # the hub's, from the login: minted tokens carry it


def holder_everywhere(client: FederationClient, tag: str) -> Holder:
    """A Zhejiang resident holding one licence in each of the four provinces, logged in once."""
    subject = make_citizen_id("330106", datetime.date(1988, 5, 17), 23)
    client.register(HOME.short, "natural", subject, HOLDER_NAME, PASSWORD)
    drv = _issue_holder_licences(client, subject, tag)
    login = client.login(HOME.short, subject, PASSWORD, [AGGREGATOR.short])
    home = unverified_home_attestation(str(login.tokens[AGGREGATOR.entity_id]))
    return Holder(subject, str(login.session_id), 1, drv, home)


PERSON = {"sex": "female", "ethnicity": "汉", "birth_date": "1988-05-17"}
# the holder's licences, one a province: (region, id suffix, type, fields, (from, until))
HOLDER_LICENCES: tuple[tuple[str, str, str, dict[str, object], tuple[str, str]], ...] = (
    (
        "JS",
        "drv",
        "driving_licence",
        driving_fields(0),
        ("2022-03-01", "2032-03-01"),
    ),
    (
        "AH",
        "idc",
        "resident_identity_card",
        {**PERSON, "address": "合肥市蜀山区长江西路 1 号"},
        ("", "2040-09-09"),
    ),
    (
        "SH",
        "rp",
        "residence_permit",
        {
            **PERSON,
            "residence_address": "上海市浦东新区世纪大道 100 号",
            "household_address": "杭州市西湖区文三路 1 号",
        },
        ("", "2030-01-01"),
    ),
    (
        "ZJ",
        "ssc",
        "social_security_card",
        {"sex": "female", "ethnicity": "汉", "card_number": "A33010688", "bank": "中国工商银行"},
        ("", ""),
    ),
)


def _issue_holder_licences(client: FederationClient, subject: str, tag: str) -> str:
    """One licence of the holder's at each province; returns the JS driving licence's id."""
    identifiers = [
        client.issue_licence(
            region,
            f"{tag}-holder-{suffix}",
            kind,
            subject,
            HOLDER_NAME,
            fields,
            valid_from=valid_from,
            valid_until=valid_until,
        ).identifier
        for region, suffix, kind, fields, (valid_from, valid_until) in HOLDER_LICENCES
    ]
    return str(identifiers[0])


@dataclass(frozen=True)
class Fixtures:
    """What the set-up produced: the licence pool, the holder and a minter of her tokens."""

    pool: list[str]
    holder: Holder
    minter: TokenMinter
    setup_s: float

    def tokens(self, audience: Region, count: int) -> list[str]:
        """`count` single-use tokens of the holder's for `audience`, minted at HOME."""
        h = self.holder
        return self.minter.mint(
            count,
            subject=h.subject_id,
            session_id=h.session_id,
            audience=audience,
            name=HOLDER_NAME,
            home_attestation=h.home_attestation,
        )


def set_up(client: FederationClient, directory: Path, licences: int, tag: str) -> Fixtures:
    """Issue the pool and the holder's licences, log her in, load HOME's signing key."""
    log(f"set-up: {licences} licences at {ISSUER.short}, a holder in four provinces")
    t0 = time.perf_counter()
    pool = issue_pool(client, licences, tag)
    holder = holder_everywhere(client, tag)
    minter = TokenMinter(directory, client.trust_list, HOME)
    return Fixtures(pool, holder, minter, time.perf_counter() - t0)
