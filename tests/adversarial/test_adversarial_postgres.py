"""The fuzz corpus and kill -9 under writes again, on nodes whose stores are PostgreSQL.

Some defects only PostgreSQL shows: text past a btree index entry's size (a 1 MB subject id),
NUL characters in text. Every node has its own schema, dropped with the federation. Skipped
without a server on 127.0.0.1:5432 unless YRD_REQUIRE_POSTGRES=1, which makes that a failure.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from federation.regions import Region
from tests.adversarial.cases import wait_for_item
from tests.adversarial.fuzz import FORWARDED_ITEM, all_rpcs, run_forwarded_faults
from tests.adversarial.fuzz import run_fuzz as fuzz
from tests.adversarial.harness import Harness, Tally, assert_clean
from tests.adversarial.load import run_kill9_under_writes

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

STORE = "postgresql"
REGIONS = (Region.HUB, Region.SH, Region.JS, Region.ZJ, Region.AH)
SEED = 20261202
# fewer random requests per method than on SQLite (every method still gets undecodable,
# mutated and hostile ones); the store limits below cover every string field instead
PER_METHOD = 12


def on_postgresql(harness: Harness, tally: Tally) -> Tally:
    assert {harness.backend(r) for r in REGIONS} == {"postgresql"}
    tally.attack = f"{tally.attack} [postgresql]"
    return tally


@pytest.mark.timeout(150)
def test_fuzz_corpus_and_store_limits_on_postgresql_get_precise_audited_refusals(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    tally = fuzz(
        adversary,
        {
            Region.SH: [adversary.operator(), adversary.region(Region.JS)],
            Region.HUB: [adversary.operator(), adversary.region(Region.SH)],
        },
        seed=SEED,
        per_method=PER_METHOD,
        store_limits=True,
    )
    record(on_postgresql(adversary, tally))
    assert tally.notes["methods"] == len(all_rpcs())  # every method reached some node
    kinds = tally.notes["codes_by_kind"]
    assert {"undecodable", "mutated", "hostile", "store_limit"} <= set(kinds)
    assert_clean(tally)


@pytest.mark.timeout(90)
def test_hostile_json_forwarded_to_a_postgresql_owner_gets_a_precise_refusal(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    wait_for_item(adversary, (Region.SH,), item=FORWARDED_ITEM)
    tally = run_forwarded_faults(adversary, Region.SH, Region.JS)
    assert_clean(record(on_postgresql(adversary, tally)))


@pytest.mark.timeout(120)
def test_kill_9_under_write_load_on_postgresql_loses_no_acknowledged_write(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    tally = record(on_postgresql(adversary, run_kill9_under_writes(adversary, Region.AH)))
    assert "skipped" not in tally.notes
    assert tally.notes["acknowledged_subjects"] + tally.notes["acknowledged_licences"] > 0
    assert tally.notes["audit_chain"]["ok"]
    assert_clean(tally)
