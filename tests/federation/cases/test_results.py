"""The result licence of an approved case: fields carried, fields overlaid, what it supersedes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.cases.catalogue import starter_catalogue
from federation.cases.results import ResultIssuer, plan_result
from federation.clock import FixedClock
from federation.errors import FailedPrecondition
from federation.licences import LicenceStatus
from federation.licences.registry import LicenceRegistry
from federation.licences.types import get_licence_type
from federation.regions import Region
from federation.storage import open_store
from federation.storage.base import CaseRecord

JS = "320000"
ITEM = starter_catalogue().get("YRD-JS-QY-0101")  # result: business_licence
NO_RESULT = starter_catalogue().get("YRD-JS-YB-0101")
BUSINESS = get_licence_type("business_licence")
COMPANY = "91320506MA1X2Y3Z4A"
OWN = {
    "holder_name": "苏州湖畔科技有限公司",
    "holder_code": COMPANY,
    "number": "N-1",
    "legal_representative": "李娜",
    "domicile": "苏州旧址",
    "registered_capital": "100万",
}


def case(materials: list[dict[str, Any]], requested: dict[str, Any] | None = None) -> CaseRecord:
    return CaseRecord(
        case_id="C32-ABC",
        request_id="310000/r",
        request_hash="h",
        item_code=ITEM.code,
        owner_region=JS,
        window_region="310000",
        window_id="SH-1",
        applicant_id="340104199009091234",
        state="under_review",
        data={
            "applicant_name": "李娜",
            "on_behalf_of": COMPANY,
            "materials": materials,
            "requested": requested or {},
        },
        created_at=1.0,
        updated_at=1.0,
        deadline_at=2.0,
    )


def biz(owner: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "licence_type": "business_licence",
        "identifier": f"1.2.156.biz.{owner}",
        "owner_region": owner,
        "fields": fields or {"domicile": "disclosed", "holder_code": COMPANY},
    }


def never(identifier: str) -> dict[str, Any]:
    raise AssertionError(f"read {identifier} from the own register")


def test_a_licence_held_here_is_read_in_full_then_overlaid_and_superseded() -> None:
    reads: list[str] = []

    def read_own(identifier: str) -> dict[str, Any]:
        reads.append(identifier)
        return dict(OWN)

    plan = plan_result(case([biz(JS)], {"domicile": "金鸡湖大道 88 号"}), ITEM, JS, read_own)
    request = plan.request
    assert reads == ["1.2.156.biz.320000"] and plan.superseded == ("1.2.156.biz.320000",)
    assert request.request_id == "C32-ABC-result" and request.licence_type == "business_licence"
    assert (request.holder_code, request.holder_name) == (COMPANY, "苏州湖畔科技有限公司")
    assert request.fields == {
        "legal_representative": "李娜",
        "domicile": "金鸡湖大道 88 号",
        "registered_capital": "100万",
    }


def test_a_licence_from_elsewhere_gives_only_what_was_disclosed_and_is_not_revoked() -> None:
    plan = plan_result(case([biz("330000")]), ITEM, JS, never)
    assert plan.superseded == ()
    assert plan.request.fields == {"domicile": "disclosed"}
    assert plan.request.holder_name == "李娜"  # no holder_name disclosed: the applicant's


def test_without_a_material_of_the_result_type_only_the_request_counts() -> None:
    idc = {"licence_type": "resident_identity_card", "owner_region": JS, "identifier": "x"}
    plan = plan_result(case([idc], {"domicile": "新", "not_a_field": 1}), ITEM, JS, never)
    assert plan.request.fields == {"domicile": "新"} and plan.superseded == ()


def test_an_item_without_a_result_licence_is_refused_precisely() -> None:
    with pytest.raises(FailedPrecondition, match="issues no result licence"):
        plan_result(replace(case([]), item_code=NO_RESULT.code), NO_RESULT, JS, never)


@given(
    requested=st.dictionaries(
        st.sampled_from([*BUSINESS.field_names, "holder_code", "number", "x", "holder_name"]),
        st.text(max_size=8),
        max_size=6,
    )
)
def test_the_result_carries_only_fields_of_its_type_never_a_personal_one(
    requested: dict[str, Any],
) -> None:
    plan = plan_result(case([biz(JS)], requested), ITEM, JS, lambda _: dict(OWN))
    fields = dict(plan.request.fields or {})
    assert set(fields) <= set(BUSINESS.field_names)
    assert "holder_code" not in fields and "number" not in fields
    for name, value in requested.items():
        if name in BUSINESS.field_names:
            assert fields[name] == value  # what was asked for wins over the register


def test_an_approval_retried_after_issuing_still_revokes_what_it_supersedes(
    tmp_path: Path,
) -> None:
    """The first approval issued the result but stopped before revoking the old licence (a
    crash): the retry finds the issued result (created False) and revokes the old one then."""
    from tests.federation.licences.test_registry import (
        ENTERPRISE,
        NOW,
        Jiangsu,
        business_request,
    )

    jiangsu = Jiangsu()
    store = open_store("sqlite:///" + str(tmp_path / "s.sqlite3"))
    try:
        registry = LicenceRegistry(
            region=Region.JS,
            store=store,
            seal_for=jiangsu.seal_for,
            status_key=lambda: jiangsu.region_key,
            clock=FixedClock(NOW),
        )
        old, _ = registry.issue(business_request())
        issuer = ResultIssuer(JS, registry, jiangsu.resolver, FixedClock(NOW))
        approved = case([{**biz(JS), "identifier": old.identifier}], {"domicile": "新址"})
        approved = replace(approved, data={**approved.data, "on_behalf_of": ENTERPRISE})
        plan = plan_result(approved, ITEM, JS, issuer.read_own)
        registry.issue(plan.request)  # the first attempt got this far
        assert registry.get(old.identifier).status == LicenceStatus.VALID

        result = issuer(approved, ITEM)
        assert result.revoked == (old.identifier,)  # named in the approval's audit entry
        assert registry.get(old.identifier).status == LicenceStatus.REVOKED
        assert issuer(approved, ITEM) == result  # and a further retry changes nothing
        assert registry.get(old.identifier).status == LicenceStatus.REVOKED
    finally:
        store.close()
