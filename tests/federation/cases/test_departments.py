"""A case archive is sealed by the department that owns the item, or by no one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.cases.catalogue import starter_catalogue
from federation.cases.departments import FUNCTIONS, national_department, sealing_department
from federation.errors import FailedPrecondition
from federation.licences.types import MCA, MOHRSS, MPS, NHC, SAMR


@pytest.mark.parametrize(
    ("name", "department"),
    [
        ("上海市公安局人口管理办公室", MPS),
        ("江苏省公安厅交通警察总队", MPS),
        ("浙江省市场监督管理局", SAMR),
        ("江苏省民政厅", MCA),
        ("浙江省卫生健康委员会", NHC),
        ("安徽省人力资源和社会保障厅", MOHRSS),
        ("上海市公积金管理中心", None),
        ("江苏省医疗保障局", None),
        ("公安与民政联合办公室", None),  # two functions: never guess
    ],
)
def test_a_provincial_department_answers_to_its_national_counterpart(
    name: str, department: object
) -> None:
    assert national_department(name) == department


def test_a_provident_fund_case_is_not_sealed_by_public_security() -> None:
    item = starter_catalogue().get("YRD-SH-GJJ-0101")
    assert item.required_licences[0].licence_type == "resident_identity_card"  # an MPS type
    with pytest.raises(FailedPrecondition, match="上海市公积金管理中心"):
        sealing_department(item.code, item.department)


def test_every_starter_item_is_sealed_by_its_own_department_or_refused() -> None:
    for item in starter_catalogue().items:
        department = national_department(item.department)
        if department is None:
            assert any(office in item.department for office in ("公积金", "住房资金", "医疗保障"))
            with pytest.raises(FailedPrecondition, match=item.code):
                sealing_department(item.code, item.department)
        else:
            assert sealing_department(item.code, item.department) == department


@given(st.text(max_size=20))
def test_a_name_without_exactly_one_function_has_no_sealer(name: str) -> None:
    matches = {dept for function, dept in FUNCTIONS if function in name}
    assert national_department(name) == (matches.pop() if len(matches) == 1 else None)
