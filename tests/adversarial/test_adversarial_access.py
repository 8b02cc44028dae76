"""Wrong-role and foreign certificates, and the confused deputy on case forwarding."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from federation.regions import Region
from tests.adversarial.cases import file_case
from tests.adversarial.harness import Harness, Tally, assert_clean
from tests.adversarial.roles import (
    role_table,
    run_confused_deputy,
    run_tokenless_reads,
    run_wrong_roles,
)

REGIONS = (Region.HUB, Region.SH, Region.JS, Region.AH)


def test_role_table_covers_operator_and_region_only_methods() -> None:
    roles = role_table()
    assert any("region" not in allowed for allowed in roles.values())
    assert any("operator" not in allowed for allowed in roles.values())


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_wrong_role_and_foreign_certificates_are_refused_and_audited(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    tally = record(
        run_wrong_roles(
            adversary,
            {Region.SH: adversary.region(Region.JS), Region.HUB: adversary.region(Region.SH)},
        )
    )
    assert tally.notes["role_checks"] > 0
    assert_clean(tally)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_region_cannot_use_the_window_region_as_a_deputy(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    case = file_case(adversary)  # owner SH, filed at the JS window
    tally = record(run_confused_deputy(adversary, case, Region.AH))
    assert tally.notes["control_window_reads_its_case"] == "OK"
    assert_clean(tally)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_personal_data_is_not_served_to_a_region_without_the_persons_token(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    case = file_case(adversary)
    tally = record(run_tokenless_reads(adversary, case, Region.AH))
    assert "ListLocalLicences" in tally.notes["methods"]
    assert_clean(tally)
