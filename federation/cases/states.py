"""The state machine of a cross-province case: which action moves which state where."""

from __future__ import annotations

import enum

from federation.errors import FailedPrecondition, InvalidArgument


class CaseState(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"
    RESULT_ISSUED = "result_issued"
    CLOSED = "closed"


S = CaseState

# action -> (states it may start from, state it leads to)
ACTIONS: dict[str, tuple[frozenset[CaseState], CaseState]] = {
    "accept": (frozenset({S.SUBMITTED}), S.ACCEPTED),
    "start_review": (frozenset({S.ACCEPTED}), S.UNDER_REVIEW),
    "approve": (frozenset({S.UNDER_REVIEW}), S.APPROVED),
    "return": (frozenset({S.UNDER_REVIEW}), S.RETURNED),
    "reject": (frozenset({S.ACCEPTED, S.UNDER_REVIEW}), S.REJECTED),
    "resubmit": (frozenset({S.RETURNED}), S.SUBMITTED),
    "issue_result": (frozenset({S.APPROVED}), S.RESULT_ISSUED),
    "close": (frozenset({S.RESULT_ISSUED, S.REJECTED}), S.CLOSED),
}

REVIEWER_ACTIONS = ("start_review", "approve", "return", "reject")
DECIDED = frozenset({S.APPROVED, S.REJECTED, S.RESULT_ISSUED, S.CLOSED})


def parse_state(text: str) -> CaseState:
    try:
        return CaseState(text)
    except ValueError:
        raise InvalidArgument(f"unknown case state {text!r}") from None


def next_state(current: CaseState | str, action: str) -> CaseState:
    """Where `action` leads from `current`; a transition the machine forbids is refused."""
    state = parse_state(str(current))
    rule = ACTIONS.get(action)
    if rule is None:
        raise InvalidArgument(f"unknown case action {action!r}; use one of {sorted(ACTIONS)}")
    sources, target = rule
    if state not in sources:
        allowed = sorted(a for a, (src, _) in ACTIONS.items() if state in src)
        raise FailedPrecondition(
            f"cannot {action} a case that is {state.value}; "
            f"from {state.value} the case can: {', '.join(allowed) or 'nothing (it is closed)'}"
        )
    return target


__all__ = [
    "ACTIONS",
    "DECIDED",
    "REVIEWER_ACTIONS",
    "CaseState",
    "next_state",
    "parse_state",
]
