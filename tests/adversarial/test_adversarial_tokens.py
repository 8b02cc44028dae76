"""Forged federated tokens and a 16-thread replay race, against real nodes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from federation.regions import Region
from tests.adversarial.cases import ITEM, wait_for_item
from tests.adversarial.harness import Harness, Tally, assert_clean
from tests.adversarial.tokens import VERIFIER, run_forged_tokens, run_replay_race

REGIONS = (Region.HUB, Region.SH, Region.JS, Region.AH)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_forged_tokens_are_refused_and_audited(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    wait_for_item(adversary, (VERIFIER,))  # SubmitCase must reach the token check
    tally = record(run_forged_tokens(adversary, ITEM))
    assert tally.notes["control_genuine_token"] == "OK"
    assert_clean(tally)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_sixteen_threads_replaying_one_token_only_one_wins(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    tally = record(run_replay_race(adversary, threads=16, rounds=3))
    assert tally.notes["accepted_per_round"] == [1, 1, 1]
    assert tally.notes["presentations_accepted_per_round"] == [1, 1, 1]
    assert_clean(tally)
