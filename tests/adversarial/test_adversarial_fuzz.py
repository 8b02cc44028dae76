"""Every RPC of the generated descriptors, fed undecodable, mutated and hostile requests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from federation.regions import Region
from tests.adversarial.cases import wait_for_item
from tests.adversarial.fuzz import FORWARDED_ITEM, all_rpcs, run_forwarded_faults
from tests.adversarial.fuzz import run_fuzz as fuzz
from tests.adversarial.harness import Harness, Tally, assert_clean

# all four regions: requests naming another owner region are forwarded to a live node
REGIONS = (Region.HUB, Region.SH, Region.JS, Region.ZJ, Region.AH)
SEED = 20261201
PER_METHOD = 30


def test_descriptors_name_every_service() -> None:
    services = {rpc.service.rsplit(".", 1)[1] for rpc in all_rpcs()}
    assert {
        "IdentityService",
        "LicenceService",
        "CaseService",
        "CatalogueService",
        "FaceService",
        "TrustListService",
        "DiagnosticsService",
    } <= services


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_fuzz_corpus_over_every_rpc_gets_precise_audited_refusals(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    tally = record(
        fuzz(
            adversary,
            {
                Region.SH: [adversary.operator(), adversary.region(Region.JS)],
                Region.HUB: [adversary.operator(), adversary.region(Region.SH)],
            },
            seed=SEED,
            per_method=PER_METHOD,
        )
    )
    assert tally.notes["methods"] == len(all_rpcs())  # every method reached some node
    assert_clean(tally)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_hostile_json_forwarded_to_the_owner_region_gets_a_precise_refusal(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    wait_for_item(adversary, (Region.SH,), item=FORWARDED_ITEM)
    assert_clean(record(run_forwarded_faults(adversary, Region.SH, Region.JS)))
