"""The case state machine against the issue's table: allowed moves, refusals, closed is terminal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.cases.states import (
    ACTIONS,
    DECIDED,
    REVIEWER_ACTIONS,
    CaseState,
    next_state,
    parse_state,
)
from federation.errors import FailedPrecondition, InvalidArgument

S = CaseState

# Written out from issue 5 (submitted -> accepted -> under review -> approved / returned /
# rejected -> result issued -> closed; returned cases are supplemented and resubmitted), not
# derived from ACTIONS, so a change to the machine has to change this table too.
EXPECTED: dict[tuple[CaseState, str], CaseState] = {
    (S.SUBMITTED, "accept"): S.ACCEPTED,
    (S.ACCEPTED, "start_review"): S.UNDER_REVIEW,
    (S.ACCEPTED, "reject"): S.REJECTED,
    (S.UNDER_REVIEW, "approve"): S.APPROVED,
    (S.UNDER_REVIEW, "return"): S.RETURNED,
    (S.UNDER_REVIEW, "reject"): S.REJECTED,
    (S.RETURNED, "resubmit"): S.SUBMITTED,
    (S.APPROVED, "issue_result"): S.RESULT_ISSUED,
    (S.RESULT_ISSUED, "close"): S.CLOSED,
    (S.REJECTED, "close"): S.CLOSED,
}
ALL_ACTIONS = (
    "accept",
    "start_review",
    "approve",
    "return",
    "reject",
    "resubmit",
    "issue_result",
    "close",
)
FORBIDDEN = [(s, a) for s in CaseState for a in ALL_ACTIONS if (s, a) not in EXPECTED]


def allowed_from(state: CaseState) -> list[str]:
    return sorted(a for (s, a) in EXPECTED if s is state)


def test_the_machine_knows_exactly_the_issue_actions_and_states() -> None:
    assert set(ACTIONS) == set(ALL_ACTIONS)
    assert [s.value for s in CaseState] == [
        "submitted",
        "accepted",
        "under_review",
        "approved",
        "returned",
        "rejected",
        "result_issued",
        "closed",
    ]
    assert REVIEWER_ACTIONS == ("start_review", "approve", "return", "reject")
    assert frozenset({S.APPROVED, S.REJECTED, S.RESULT_ISSUED, S.CLOSED}) == DECIDED


@pytest.mark.parametrize(("state", "action"), sorted(EXPECTED, key=str))
def test_every_allowed_transition(state: CaseState, action: str) -> None:
    target = EXPECTED[(state, action)]
    assert next_state(state, action) is target
    assert next_state(state.value, action) is target  # stored states are plain strings


@pytest.mark.parametrize(("state", "action"), FORBIDDEN, ids=[f"{s}-{a}" for s, a in FORBIDDEN])
def test_every_forbidden_transition_names_what_is_allowed(state: CaseState, action: str) -> None:
    with pytest.raises(FailedPrecondition) as info:
        next_state(state, action)
    message = info.value.message
    assert f"cannot {action} a case that is {state.value}" in message
    allowed = allowed_from(state)
    if allowed:
        assert message.endswith(f"the case can: {', '.join(allowed)}")
    else:
        assert state is S.CLOSED
        assert "nothing (it is closed)" in message


def test_every_state_but_closed_has_a_way_out_and_closed_is_reachable() -> None:
    for state in CaseState:
        assert bool(allowed_from(state)) is (state is not S.CLOSED)
    # closed is reachable from submitted along both the approval and the rejection path
    state = S.SUBMITTED
    for action in ("accept", "start_review", "approve", "issue_result", "close"):
        state = next_state(state, action)
    assert state is S.CLOSED
    state = S.SUBMITTED
    for action in ("accept", "reject", "close"):
        state = next_state(state, action)
    assert state is S.CLOSED


def test_unknown_action_and_unknown_state_are_invalid_arguments() -> None:
    with pytest.raises(InvalidArgument, match="unknown case action 'approve_all'") as info:
        next_state(S.UNDER_REVIEW, "approve_all")
    assert "accept" in info.value.message and "resubmit" in info.value.message
    with pytest.raises(InvalidArgument, match="unknown case state 'pending'"):
        next_state("pending", "accept")
    with pytest.raises(InvalidArgument, match="unknown case state"):
        parse_state("CLOSED")  # states are case-sensitive stored values
    assert parse_state("under_review") is S.UNDER_REVIEW


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, len(ALL_ACTIONS) - 1)), max_size=40))
def test_random_action_sequences_follow_the_table(steps: list[tuple[bool, int]]) -> None:
    # Half the steps pick an action the state allows, so runs do reach closed.
    state = S.SUBMITTED
    closed_seen = False
    for prefer_allowed, index in steps:
        allowed = allowed_from(state) if prefer_allowed else []
        action = allowed[index % len(allowed)] if allowed else ALL_ACTIONS[index]
        expected = EXPECTED.get((state, action))
        if expected is None:
            with pytest.raises(FailedPrecondition):
                next_state(state, action)
        else:
            state = next_state(state, action)
            assert state is expected
        assert isinstance(state, CaseState)
        if closed_seen:
            assert state is S.CLOSED  # closed is terminal
        closed_seen = closed_seen or state is S.CLOSED


@given(st.sampled_from(ALL_ACTIONS))
def test_closed_is_terminal_for_every_action(action: str) -> None:
    with pytest.raises(FailedPrecondition, match="it is closed"):
        next_state(S.CLOSED, action)
