"""Many open WatchCase streams, and kill -9 in the middle of concurrent writes."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from federation.regions import Region
from tests.adversarial.cases import file_case
from tests.adversarial.harness import Harness, Tally, assert_clean
from tests.adversarial.load import run_kill9_under_writes, run_many_streams

REGIONS = (Region.HUB, Region.SH, Region.JS, Region.AH)
STREAMS = int(os.environ.get("YRD_ADVERSARIAL_STREAMS", "2000"))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_health_and_unary_calls_answer_while_many_streams_are_open(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    case = file_case(adversary)
    tally = record(run_many_streams(adversary, case, count=STREAMS))
    assert tally.notes["streams_opened"] == STREAMS
    assert_clean(tally)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_kill_9_under_write_load_loses_no_acknowledged_write(
    adversary: Harness, record: Callable[[Tally], Tally]
) -> None:
    tally = record(run_kill9_under_writes(adversary, Region.AH, writers=4))
    assert "skipped" not in tally.notes
    assert tally.notes["acknowledged_subjects"] + tally.notes["acknowledged_licences"] > 0
    assert tally.notes["audit_chain"]["ok"]
    assert_clean(tally)
