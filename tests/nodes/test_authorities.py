"""A region's authorities: each answers to one national department, and seals its work."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.cases.catalogue import starter_catalogue
from federation.cases.departments import sealing_department
from federation.crypto.jose import SigningKey
from federation.errors import FailedPrecondition
from federation.licences.types import MOHRSS, MPS, SAMR, Department
from federation.regions import Region
from nodes.servicers.authorities import AuthorityRegistry, provision_authorities


@pytest.fixture(scope="module")
def authorities(tmp_path_factory: pytest.TempPathFactory) -> AuthorityRegistry:
    node_dir: Path = tmp_path_factory.mktemp("sh")
    provision_authorities(node_dir, Region.SH, SigningKey.generate(), 1_750_000_000)
    return AuthorityRegistry.load(node_dir)


def test_each_department_has_its_own_authority(authorities: AuthorityRegistry) -> None:
    for department, word in ((MPS, "公安"), (SAMR, "市场监督管理"), (MOHRSS, "人力资源")):
        authority = authorities.for_department(department, "310000")
        assert authority.departments == {department.credit_code}
        assert word in authority.info.name


def test_a_social_security_case_is_sealed_by_human_resources_not_public_security(
    authorities: AuthorityRegistry,
) -> None:
    item = starter_catalogue().get("YRD-SH-RS-0101")  # needs only an identity card (MPS)
    department = sealing_department(item.code, item.department)
    assert authorities.for_department(department, "310000").departments == {MOHRSS.credit_code}


def test_a_department_without_an_authority_is_refused_precisely(
    authorities: AuthorityRegistry,
) -> None:
    unknown = Department("11100000000000000X", "某部", "Some Ministry")
    with pytest.raises(FailedPrecondition, match="region 310000 has no issuing authority for 某部"):
        authorities.for_department(unknown, "310000")
    with pytest.raises(FailedPrecondition):
        AuthorityRegistry({}).for_department(MPS, "310000")
