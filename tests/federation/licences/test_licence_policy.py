"""Tests for the exchange authorisation policy."""

from __future__ import annotations

import pytest

from federation.errors import InvalidArgument, PermissionDenied
from federation.licences import (
    ExchangePolicy,
    default_policy,
    filter_fields,
    licence_type_by_key,
)
from federation.regions import Region

PURPOSE = "申请驾驶证异地换证"

SMALL = """
[service_items."T-1"]
name = "test item"

[[service_items."T-1".rules]]
licence_type = "driving_licence"
regions = ["SH", "330000"]
fields = ["holder_name", "vehicle_class"]

[[service_items."T-1".rules]]
licence_type = "driving_licence"
regions = ["ZJ"]
fields = ["first_issue_date"]
"""


def test_default_policy_loads_and_round_trips() -> None:
    policy = default_policy()
    assert len(policy.items) >= 8
    again = ExchangePolicy.from_dict(policy.to_dict())
    assert again.to_dict() == policy.to_dict()


def test_grant_returns_the_item_fields() -> None:
    decision = default_policy().decide(Region.ZJ, "driving_licence", "YRD-GA-0001", PURPOSE)
    assert decision.granted and decision.require() is decision
    assert "vehicle_class" in decision.fields and "address" not in decision.fields
    assert decision.requesting_region == "330000"
    assert decision.audit_detail()["granted"] is True


def test_requested_fields_are_narrowed_and_withheld_reported() -> None:
    decision = default_policy().decide(
        "SH", licence_type_by_key("driving_licence"), "YRD-GA-0001", PURPOSE,
        ["holder_name", "address"],
    )
    assert decision.granted
    assert decision.fields == {"holder_name"}
    assert decision.withheld == {"address"}
    assert "withheld ['address']" in decision.reason


def test_rules_matching_the_region_are_united() -> None:
    policy = ExchangePolicy.from_toml(SMALL)
    zj = policy.decide(Region.ZJ, "driving_licence", "T-1", PURPOSE)
    assert zj.fields == {"holder_name", "vehicle_class", "first_issue_date"}
    sh = policy.decide(Region.SH, "driving_licence", "T-1", PURPOSE)
    assert sh.fields == {"holder_name", "vehicle_class"}


@pytest.mark.parametrize(
    ("region", "licence_type", "item", "purpose", "requested", "reason"),
    [
        ("ZJ", "driving_licence", "YRD-GA-0001", "  ", None, "stated purpose"),
        ("ZJ", "driving_licence", "YRD-GA-0001", "x" * 501, None, "exceeds"),
        ("ZJ", "driving_licence", "NOPE-1", PURPOSE, None, "not in the catalogue"),
        ("ZJ", "marriage_certificate", "YRD-GA-0001", PURPOSE, None, "does not use"),
        ("HUB", "vehicle_licence", "YRD-GA-0002", PURPOSE, None, "region HUB may not read"),
        ("ZJ", "driving_licence", "YRD-GA-0001", PURPOSE, ["file_number"], "none of the"),
    ],
)
def test_refusals_say_why(region: str, licence_type: str, item: str, purpose: str,
                          requested: list[str] | None, reason: str) -> None:
    decision = default_policy().decide(region, licence_type, item, purpose, requested)
    assert not decision.granted and reason in decision.reason
    assert decision.fields == frozenset()
    with pytest.raises(PermissionDenied, match=reason.split()[0]):
        decision.require()
    with pytest.raises(PermissionDenied):
        filter_fields(decision, {"holder_name": "张三"})


def test_filter_fields_keeps_only_granted() -> None:
    decision = default_policy().decide(Region.AH, "business_licence", "YRD-QY-0001", "设立分支机构")
    claims = {"holder_name": "某公司", "business_scope": "软件", "secret": "x"}
    assert filter_fields(decision, claims) == {"holder_name": "某公司", "business_scope": "软件"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("service_items = 1", "'service_items' table"),
        ('[service_items."bad code!"]\nrules = []', "not a valid code"),
        ('[service_items."A"]\nname = "x"', "'rules' list"),
        ('[service_items."A"]\nrules = [{fields = ["holder_name"]}]', "needs 'licence_type'"),
        ('[service_items."A"]\nrules = [{licence_type = "fishing", fields = ["x"]}]',
         "no licence type"),
        ('[service_items."A"]\nrules = [{licence_type = "driving_licence", fields = ["colour"]}]',
         "no field"),
        ('[service_items."A"]\nrules = [{licence_type = "driving_licence", fields = []}]',
         "non-empty list"),
        ('[service_items."A"]\nrules = [{licence_type = "driving_licence", '
         'fields = ["address"]}]', "need allow_sensitive"),
        ('[service_items."A"]\nrules = [{licence_type = "driving_licence", regions = ["XX"], '
         'fields = ["sex"]}]', "unknown region"),
        ('[service_items."A"]\nrules = [1]', "must be a table"),
        ("[[[", "not valid TOML"),
    ],
)
def test_bad_policies_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        ExchangePolicy.from_toml(text)
