"""The CLI's output rules: epoch-seconds fields gain an ISO 8601 China Standard Time twin."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nodes.cli import common
from nodes.cli.common import with_cst_times

EXP = 1790000000  # 2026-09-21T22:13:20+08:00


def test_each_epoch_field_keeps_its_number_and_gains_a_cst_twin() -> None:
    out = with_cst_times(
        {
            "session_expires_at": 1790000000.5,
            "claims": {"iat": str(EXP - 300), "exp": str(EXP), "sub": "x"},
            "events": [{"seq": 1, "time": EXP}],
            "revoked_at": 0,
        }
    )
    assert out["session_expires_at"] == 1790000000.5
    assert out["session_expires_at_cst"] == "2026-09-21T22:13:20+08:00"
    # int64 claims come out of the protobuf JSON mapping as strings: numbers again
    assert out["claims"] == {
        "iat": EXP - 300,
        "iat_cst": "2026-09-21T22:08:20+08:00",
        "exp": EXP,
        "exp_cst": "2026-09-21T22:13:20+08:00",
        "sub": "x",
    }
    assert out["events"] == [{"seq": 1, "time": EXP, "time_cst": "2026-09-21T22:13:20+08:00"}]
    assert list(out)[:2] == ["session_expires_at", "session_expires_at_cst"]  # side by side
    assert out["revoked_at_cst"] == "1970-01-01T08:00:00+08:00"


def test_other_fields_and_non_numbers_are_left_alone() -> None:
    value = {
        "deadline_ms": 500,
        "elapsed_ms": 3.5,
        "seq": EXP,
        "issue_date": "2026-01-01",
        "created_at": None,
        "updated_at": True,
        "decided_at": "soon",
        "expires_at": 10**15,
        "rated_at": -1,
    }
    assert with_cst_times(value) == value
    already = {"time": EXP, "time_cst": "given"}
    assert with_cst_times(already) == already


def test_emit_prints_the_rule() -> None:
    import click

    @click.command()
    def show() -> None:
        common.emit({"revoked_at": EXP})
        common.emit_line({"time": EXP})

    result = CliRunner().invoke(show)
    assert result.exit_code == 0, result.output
    first, second = result.stdout.split("}\n", 1)
    assert json.loads(first + "}") == {
        "revoked_at": EXP,
        "revoked_at_cst": "2026-09-21T22:13:20+08:00",
    }
    assert json.loads(second) == {"time": EXP, "time_cst": "2026-09-21T22:13:20+08:00"}
