"""Evaluation statistics (好差评) over a region's cases: per item and per window, JSON-ready."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from federation.cases.workdays import is_overdue
from federation.errors import InvalidArgument
from federation.storage.base import CaseEvent, CaseRating, CaseRecord

APPROVED = "approved"
REJECTED = "rejected"
RETURNED = "returned"
DECISIONS = frozenset({APPROVED, REJECTED})
SCORES = (1, 2, 3, 4, 5)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) over sorted values."""
    if not sorted_values:
        raise InvalidArgument("percentile of no values")
    if not 0.0 <= fraction <= 1.0:
        raise InvalidArgument(f"percentile fraction must be 0..1, got {fraction}")
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    below, above = sorted_values[low], sorted_values[high]
    # Clamped so rounding can neither leave the bracket nor break monotonicity in `fraction`.
    return min(max(below + (above - below) * (position - low), below), above)


@dataclass(frozen=True)
class CaseOutcome:
    """What the event history says about one case, as the statistics need it."""

    case: CaseRecord
    decision: str | None  # "approved" | "rejected" | None (not yet decided)
    decided_at: float | None
    started_at: float
    returns: int
    rating: CaseRating | None

    @property
    def decision_seconds(self) -> float | None:
        return None if self.decided_at is None else self.decided_at - self.started_at

    @property
    def first_time_success(self) -> bool:
        return self.decision == APPROVED and self.returns == 0

    def overdue(self, now: float) -> bool:
        return is_overdue(self.case.deadline_at, now, self.decided_at)


def case_outcome(
    case: CaseRecord, events: Sequence[CaseEvent], rating: CaseRating | None
) -> CaseOutcome:
    """Read decision, its time and the number of returns from a case's events (by seq).

    The first approve or reject event is the decision; time runs from the first event (the
    submission), or from the case's creation when no event is given.
    """
    ordered = sorted(events, key=lambda e: e.seq)
    for event in ordered:
        if event.case_id != case.case_id:
            raise InvalidArgument(
                f"event {event.seq} of case {event.case_id} filed under {case.case_id}"
            )
    decision = next((e for e in ordered if e.to_state in DECISIONS), None)
    return CaseOutcome(
        case=case,
        decision=None if decision is None else decision.to_state,
        decided_at=None if decision is None else decision.time,
        started_at=ordered[0].time if ordered else case.created_at,
        returns=sum(1 for e in ordered if e.to_state == RETURNED),
        rating=rating,
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _durations(outcomes: Sequence[CaseOutcome]) -> dict[str, float | int | None]:
    seconds = sorted(s for o in outcomes if (s := o.decision_seconds) is not None)
    if not seconds:
        return {"count": 0, "mean_s": None, "p50_s": None, "p90_s": None}
    return {
        "count": len(seconds),
        "mean_s": math.fsum(seconds) / len(seconds),
        "p50_s": percentile(seconds, 0.5),
        "p90_s": percentile(seconds, 0.9),
    }


def _ratings(outcomes: Sequence[CaseOutcome]) -> dict[str, Any]:
    scores = [o.rating.score for o in outcomes if o.rating is not None]
    return {
        "count": len(scores),
        "mean": math.fsum(scores) / len(scores) if scores else None,
        "distribution": {str(s): scores.count(s) for s in SCORES},
    }


def summarise(outcomes: Sequence[CaseOutcome], now: float) -> dict[str, Any]:
    """One statistics block: volume, decisions, first-time success, time, overdue, ratings."""
    decided = [o for o in outcomes if o.decision is not None]
    approved = sum(1 for o in decided if o.decision == APPROVED)
    first_time = sum(1 for o in decided if o.first_time_success)
    overdue = sum(1 for o in outcomes if o.overdue(now))
    states: dict[str, int] = {}
    for outcome in outcomes:
        states[outcome.case.state] = states.get(outcome.case.state, 0) + 1
    return {
        "volume": len(outcomes),
        "decided": len(decided),
        "open": len(outcomes) - len(decided),
        "approved": approved,
        "rejected": len(decided) - approved,
        "returned": sum(1 for o in outcomes if o.returns),
        "return_events": sum(o.returns for o in outcomes),
        "first_time_success": first_time,
        "first_time_success_rate": _rate(first_time, len(decided)),
        "time_to_decision": _durations(outcomes),
        "overdue": overdue,
        "overdue_share": _rate(overdue, len(outcomes)),
        "ratings": _ratings(outcomes),
        "states": dict(sorted(states.items())),
    }


def _ratings_by_case(ratings: Sequence[CaseRating], case_ids: set[str]) -> dict[str, CaseRating]:
    latest: dict[str, CaseRating] = {}
    for rating in ratings:
        if rating.score not in SCORES:
            raise InvalidArgument(f"rating of case {rating.case_id} is {rating.score}, not 1..5")
        if rating.case_id not in case_ids:
            continue
        known = latest.get(rating.case_id)
        if known is None or rating.rated_at >= known.rated_at:
            latest[rating.case_id] = rating
    return latest


def _grouped(
    outcomes: Sequence[CaseOutcome],
    key: Callable[[CaseOutcome], tuple[str, ...]],
    names: tuple[str, ...],
    now: float,
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], list[CaseOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(key(outcome), []).append(outcome)
    return [
        {**dict(zip(names, group, strict=True)), **summarise(members, now)}
        for group, members in sorted(groups.items())
    ]


def region_stats(
    cases: Sequence[CaseRecord],
    events: Mapping[str, Sequence[CaseEvent]],
    ratings: Sequence[CaseRating],
    now: float,
) -> dict[str, Any]:
    """Statistics for `yrd stats`: overall, per service item and per window (region + id).

    `events` maps case id to that case's events; ratings of cases not listed are ignored.
    Rates are fractions in 0..1 and None when nothing was decided (or no case exists).
    """
    ids = [case.case_id for case in cases]
    if len(set(ids)) != len(ids):
        raise InvalidArgument("a case is listed twice")
    rated = _ratings_by_case(ratings, set(ids))
    outcomes = [
        case_outcome(case, events.get(case.case_id, ()), rated.get(case.case_id)) for case in cases
    ]
    return {
        "generated_at": now,
        "owner_regions": sorted({case.owner_region for case in cases}),
        "overall": summarise(outcomes, now),
        "items": _grouped(outcomes, lambda o: (o.case.item_code,), ("item_code",), now),
        "windows": _grouped(
            outcomes,
            lambda o: (o.case.window_region, o.case.window_id),
            ("window_region", "window_id"),
            now,
        ),
    }


# The state-name constants stay module-level: listing them would break plain sorted() order.
__all__ = [
    "CaseOutcome",
    "case_outcome",
    "percentile",
    "region_stats",
    "summarise",
]
