"""The service catalogue: validation, the starter items, versions, signing, derived policy."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.cases.catalogue import (
    CATALOGUE_TYP,
    DELIVERY_METHODS,
    Catalogue,
    CatalogueItem,
    RequiredLicence,
    catalogue_from_toml,
    sign_catalogue,
    starter_catalogue,
    verify_catalogue,
)
from federation.crypto.jose import Jwk, SigningKey, b64url_decode, b64url_encode, sign_compact
from federation.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from federation.identity.assurance import Assurance
from federation.licences.model import PERSONAL_CLAIMS
from federation.licences.policy import default_policy
from federation.licences.types import CATALOGUE as LICENCE_TYPES
from federation.licences.types import HolderKind
from federation.regions import PROVINCES, Region

NOW = 1_748_743_200  # 2025-06-01 10:00 CST
HUB_KEY = SigningKey.generate()
JS_BUSINESS_CHANGE = "YRD-JS-QY-0101"


@pytest.fixture(scope="module")
def starter() -> Catalogue:
    return starter_catalogue(NOW)


def hub_resolver(kid: str) -> Jwk:
    if kid != HUB_KEY.kid:
        raise Unauthenticated(f"key {kid} is not the hub's")
    return HUB_KEY.jwk


def item(**changes: Any) -> CatalogueItem:
    values: dict[str, Any] = {
        "code": "YRD-SH-TEST-0001",
        "name": "测试事项",
        "owner_region": "310000",
        "department": "上海市测试局",
        "required_acr": Assurance.SUBSTANTIAL,
        "required_licences": (
            RequiredLicence("resident_identity_card", ("holder_name", "holder_code"), "applicant"),
        ),
        "time_limit_days": 3,
        "face_required": False,
        "result_licence_type": None,
        "delivery_methods": ("electronic",),
    }
    values.update(changes)
    return CatalogueItem(**values)


# --- the starter catalogue -----------------------------------------------------------------------


def test_starter_has_enough_items_in_every_province(starter: Catalogue) -> None:
    assert len(starter.items) >= 24
    per_region = Counter(i.owner_region for i in starter.items)
    assert set(per_region) == {r.code for r in PROVINCES}
    assert min(per_region.values()) >= 5
    assert starter.version == 1 and starter.issued_at == NOW
    assert starter_catalogue().issued_at == 0


def test_starter_js_business_change_item_is_what_the_demo_needs(starter: Catalogue) -> None:
    change = starter.get(JS_BUSINESS_CHANGE)
    assert change.owner_region == Region.JS.code
    assert "企业变更登记" in change.name
    assert change.required_acr is Assurance.SUBSTANTIAL
    assert change.face_required is True
    assert change.time_limit_days == 1
    assert change.result_licence_type == "business_licence"
    assert change.delivery_methods == ("electronic", "express", "collect_at_window")
    assert change.required_licences == (
        RequiredLicence(
            "business_licence",
            (
                "holder_name",
                "holder_code",
                "number",
                "entity_type",
                "legal_representative",
                "domicile",
            ),
            "enterprise",
        ),
        RequiredLicence("resident_identity_card", ("holder_name", "holder_code"), "applicant"),
    )


def test_starter_keeps_sourced_time_limits(starter: Catalogue) -> None:
    limits = {i.code: i.time_limit_days for i in starter.items}
    assert limits["YRD-RS-0001"] == 15  # pension transfer
    for code, value in limits.items():
        name = starter.get(code).name
        if "企业变更登记" in name:
            assert value == 1, code
        if "医疗保险关系转移" in name:
            assert value == 15, code  # 10 + 5 working days


def test_starter_covers_every_item_of_the_default_policy_compatibly(starter: Catalogue) -> None:
    for policy_item in default_policy().items:
        catalogued = starter.get(policy_item.code)
        assert catalogued.required_licences, policy_item.code
        for rule in policy_item.rules:
            required = [
                r for r in catalogued.required_licences if r.licence_type == rule.licence_type
            ]
            assert required, (policy_item.code, rule.licence_type)
            assert set(required[0].fields) <= rule.fields, (policy_item.code, rule.licence_type)


def test_starter_exchange_policy_grants_the_demo_reads(starter: Catalogue) -> None:
    policy = starter.exchange_policy()
    assert {i.code for i in policy.items} == set(starter.codes)
    decision = policy.decide("SH", "business_licence", JS_BUSINESS_CHANGE, "企业变更登记")
    assert decision.granted
    assert decision.fields == {
        "holder_name",
        "holder_code",
        "number",
        "entity_type",
        "legal_representative",
        "domicile",
    }
    refused = policy.decide("SH", "pension_record", JS_BUSINESS_CHANGE, "企业变更登记")
    assert not refused.granted and "does not use pension_record" in refused.reason
    # sensitive fields (vin, engine number) need allow_sensitive in the derived rule
    vehicle = policy.decide("ZJ", "vehicle_licence", "YRD-GA-0002", "转移登记", ["vin"])
    assert vehicle.granted and vehicle.fields == {"vin"}


def test_catalogue_from_toml_reports_bad_toml() -> None:
    with pytest.raises(InvalidArgument, match="not valid TOML"):
        catalogue_from_toml("version = [")


# --- item validation ------------------------------------------------------------------------------


BAD_ITEMS: list[tuple[dict[str, Any], str]] = [
    ({"code": "bad code!"}, "not a valid item code"),
    ({"owner_region": "100000"}, "owner_region must be a province code"),
    ({"owner_region": "SH"}, "owner_region must be a province code"),
    ({"name": " "}, "name must be a non-empty string"),
    ({"department": ""}, "department must be a non-empty string"),
    ({"time_limit_days": 0}, "time_limit_days must be 1..365"),
    ({"time_limit_days": True}, "time_limit_days must be an integer"),
    ({"delivery_methods": ()}, "delivery_methods must be a non-empty tuple"),
    ({"delivery_methods": ("drone",)}, "unknown delivery method"),
    ({"delivery_methods": ("express", "express")}, "listed twice"),
    ({"result_licence_type": "passport"}, "result_licence_type: no licence type 'passport'"),
    ({"face_required": "yes"}, "face_required must be true or false"),
    ({"required_acr": "high"}, "required_acr must be an Assurance level"),
    (
        {"required_licences": (RequiredLicence("passport", ("holder_name",), "applicant"),)},
        r"required_licences\[0\]: licence_type: no licence type 'passport'",
    ),
    (
        {"required_licences": (RequiredLicence("driving_licence", ("colour",), "applicant"),)},
        r"driving_licence has no field\(s\) \['colour'\]",
    ),
    (
        {"required_licences": (RequiredLicence("driving_licence", (), "applicant"),)},
        "needs a non-empty tuple of fields",
    ),
    (
        {"required_licences": (RequiredLicence("business_licence", ("number",), "applicant"),)},
        "holder of business_licence must be 'enterprise'",
    ),
    (
        {
            "required_licences": (
                RequiredLicence("resident_identity_card", ("holder_name",), "applicant"),
                RequiredLicence("resident_identity_card", ("sex",), "applicant"),
            )
        },
        "resident_identity_card of the applicant is required twice",
    ),
]


@pytest.mark.parametrize(("changes", "message"), BAD_ITEMS)
def test_invalid_items_are_refused_naming_item_and_field(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as info:
        item(**changes)
    if "code" not in changes:
        assert "YRD-SH-TEST-0001" in info.value.message


def test_catalogue_refuses_duplicate_codes_and_bad_versions() -> None:
    with pytest.raises(InvalidArgument, match="listed twice"):
        Catalogue(1, 0, (item(), item()))
    with pytest.raises(InvalidArgument, match="version must be an integer"):
        Catalogue(-1, 0, ())


def test_from_dict_refuses_malformed_input(starter: Catalogue) -> None:
    data = starter.to_dict()
    data["items"][0]["required_acr"] = "extreme"
    with pytest.raises(InvalidArgument, match="unknown level of assurance 'extreme'"):
        Catalogue.from_dict(data)
    with pytest.raises(InvalidArgument, match="needs an 'items' list"):
        Catalogue.from_dict({"version": 1})
    with pytest.raises(InvalidArgument, match="fields' must be a list"):
        CatalogueItem.from_dict({**item().to_dict(), "required_licences": [{"fields": "x"}]})


# --- lookup, round trip, versions --------------------------------------------------------------


def test_get_unknown_item_suggests_close_codes(starter: Catalogue) -> None:
    with pytest.raises(NotFound, match=r"YRD-JS-QY-0110.*did you mean.*YRD-JS-QY-0101"):
        starter.get("YRD-JS-QY-0110")
    with pytest.raises(NotFound, match="not in catalogue version 1"):
        starter.get("nothing-like-it")


def test_items_of_accepts_codes_and_short_names(starter: Catalogue) -> None:
    js = starter.items_of("JS")
    assert js == starter.items_of("320000") and len(js) >= 5
    assert all(i.owner_region == "320000" for i in js)
    assert JS_BUSINESS_CHANGE in {i.code for i in js}


def test_round_trip_through_json(starter: Catalogue) -> None:
    text = json.dumps(starter.to_dict(), ensure_ascii=False)
    again = Catalogue.from_dict(json.loads(text))
    assert again == starter
    assert again.to_dict() == starter.to_dict()


def test_with_region_items_bumps_version_only_on_change(starter: Catalogue) -> None:
    js = starter.items_of("JS")
    assert starter.with_region_items("JS", js, NOW + 10) is starter
    assert starter.with_region_items("JS", reversed(js), NOW + 10) is starter
    changed = replace(js[0], time_limit_days=js[0].time_limit_days + 1)
    newer = starter.with_region_items("320000", (changed, *js[1:]), NOW + 10)
    assert newer.version == starter.version + 1 and newer.issued_at == NOW + 10
    assert newer.get(changed.code) == changed
    assert newer.items_of("SH") == starter.items_of("SH")
    fewer = newer.with_region_items("JS", js[1:], NOW + 20)
    assert fewer.version == starter.version + 2
    with pytest.raises(NotFound):
        fewer.get(js[0].code)
    assert len(fewer.items) == len(starter.items) - 1


def test_a_region_publishes_only_its_own_items(starter: Catalogue) -> None:
    sh_item = starter.items_of("SH")[0]
    with pytest.raises(PermissionDenied, match="region JS cannot publish"):
        starter.with_region_items("JS", (sh_item,), NOW)
    squatter = replace(sh_item, owner_region="320000")
    with pytest.raises(PermissionDenied, match="belongs to region 310000"):
        starter.with_region_items("JS", (squatter,), NOW)
    with pytest.raises(PermissionDenied, match="owns no service items"):
        starter.with_region_items("HUB", (), NOW)


# --- signing -----------------------------------------------------------------------------------


def test_signed_catalogue_verifies(starter: Catalogue) -> None:
    token = sign_catalogue(starter, HUB_KEY)
    assert verify_catalogue(token, hub_resolver, NOW) == starter


def test_forged_or_altered_catalogues_are_refused(starter: Catalogue) -> None:
    forger = SigningKey.generate()
    with pytest.raises(Unauthenticated, match="not the hub's"):
        verify_catalogue(sign_catalogue(starter, forger), hub_resolver, NOW)
    impostor = sign_compact(starter.to_dict(), forger, typ=CATALOGUE_TYP, extra_header=None)
    _, payload, signature = impostor.split(".")
    real_header = sign_catalogue(starter, HUB_KEY).split(".")[0]
    with pytest.raises(Unauthenticated, match="forged or altered"):
        verify_catalogue(f"{real_header}.{payload}.{signature}", hub_resolver, NOW)
    token = sign_catalogue(starter, HUB_KEY)
    head, body, sig = token.split(".")
    data = json.loads(b64url_decode(body))
    data["items"][0]["time_limit_days"] = 99
    altered = b64url_encode(json.dumps(data).encode())
    with pytest.raises(Unauthenticated, match="forged or altered"):
        verify_catalogue(f"{head}.{altered}.{sig}", hub_resolver, NOW)


def test_wrong_typ_and_future_catalogues_are_refused(starter: Catalogue) -> None:
    trust_list_like = sign_compact(starter.to_dict(), HUB_KEY, typ="trust-list+jwt")
    with pytest.raises(Unauthenticated, match="not a service catalogue"):
        verify_catalogue(trust_list_like, hub_resolver, NOW)
    future = sign_catalogue(replace(starter, issued_at=NOW + 3600), HUB_KEY)
    with pytest.raises(Unauthenticated, match="issued in the future"):
        verify_catalogue(future, hub_resolver, NOW)


# --- any valid field choice becomes a valid policy rule ---------------------------------------


@st.composite
def required_licences(draw: st.DrawFn) -> RequiredLicence:
    kind = draw(st.sampled_from(LICENCE_TYPES))
    names = (*PERSONAL_CLAIMS, *kind.field_names)
    fields = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    holder = "applicant" if kind.holder_kind is HolderKind.NATURAL else "enterprise"
    return RequiredLicence(kind.key, tuple(fields), holder)


@settings(max_examples=60)
@given(
    st.lists(required_licences(), max_size=4, unique_by=lambda r: r.licence_type),
    st.lists(st.sampled_from(DELIVERY_METHODS), min_size=1, unique=True),
    st.integers(min_value=1, max_value=365),
)
def test_any_valid_item_round_trips_and_yields_a_policy(
    required: list[RequiredLicence], methods: list[str], days: int
) -> None:
    built = item(
        required_licences=tuple(required), delivery_methods=tuple(methods), time_limit_days=days
    )
    assert CatalogueItem.from_dict(json.loads(json.dumps(built.to_dict()))) == built
    policy = Catalogue(1, 0, (built,)).exchange_policy()
    for licence in required:
        decision = policy.decide("AH", licence.licence_type, built.code, "办事")
        assert decision.granted and decision.fields == set(licence.fields)
