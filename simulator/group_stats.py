"""Everything reported for one region or origin-destination pair: waits, outcomes, throughput."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from simulator.records import CaseRecord, Summary

__all__ = ["GroupStats"]


class GroupStats:
    """Everything reported for one region or one origin-destination pair."""

    __slots__ = (
        "completions_by_hour",
        "first_decisions",
        "first_response",
        "first_time_approved",
        "outcomes",
        "result_time",
        "rework",
        "sojourn",
        "visits",
        "wait",
    )

    def __init__(self, thresholds: Sequence[float], response_target: float) -> None:
        self.wait = Summary(thresholds)
        self.sojourn = Summary()
        self.first_response = Summary((response_target,))
        self.result_time = Summary()
        self.outcomes: dict[str, int] = {}
        self.visits = 0
        self.rework = 0
        self.first_decisions = 0
        self.first_time_approved = 0
        self.completions_by_hour = [0] * 24

    def add(self, rec: CaseRecord) -> None:
        """Fold one visit record in."""
        self.visits += 1
        outcome = rec.outcome
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome != "balked":
            self.wait.add(rec.wait)
        if rec.visit:
            self.rework += 1
        if outcome == "balked" or outcome == "reneged":
            return
        self.sojourn.add(rec.sojourn)
        end = rec.arrival + rec.sojourn
        self.completions_by_hour[int(end % 1440.0) // 60] += 1
        if rec.first_response == rec.first_response:  # not nan: a remote review happened
            self.first_response.add(rec.first_response)
            if not rec.visit:
                self.first_decisions += 1
                self.first_time_approved += outcome == "approved"
        if rec.result_time == rec.result_time:
            self.result_time.add(rec.result_time)

    def merge(self, other: GroupStats) -> None:
        """Fold another group in (every field is additive)."""
        self.wait.merge(other.wait)
        self.sojourn.merge(other.sojourn)
        self.first_response.merge(other.first_response)
        self.result_time.merge(other.result_time)
        for key, count in other.outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + count
        self.visits += other.visits
        self.rework += other.rework
        self.first_decisions += other.first_decisions
        self.first_time_approved += other.first_time_approved
        self.completions_by_hour = [
            a + b for a, b in zip(self.completions_by_hour, other.completions_by_hour, strict=True)
        ]

    def to_dict(
        self,
        observed_min: float,
        observed_days: float,
        open_min: float,
        hours_of_day: Sequence[float],
    ) -> dict[str, Any]:
        """JSON-ready report of the group over the observed period.

        ``open_min`` is the part of it the group's windows were open: throughput per open hour
        divides by it (visits finished after closing, while the queue drains, count too).
        ``hours_of_day`` says how many hours were observed at each hour of day on the days
        the hall opens; the throughput by hour of day divides by them.
        """
        left = self.outcomes.get("balked", 0) + self.outcomes.get("reneged", 0)
        completed = self.visits - left
        hours, open_hours = observed_min / 60.0, open_min / 60.0
        return {
            "visits": self.visits,
            "completed": completed,
            "outcomes": dict(sorted(self.outcomes.items())),
            "open_hours": open_hours,
            "throughput_per_open_hour": completed / open_hours if open_hours > 0 else math.nan,
            "throughput_per_clock_hour": completed / hours if hours > 0 else math.nan,
            "throughput_by_hour_of_day": [
                c / h if h > 0 else math.nan
                for c, h in zip(self.completions_by_hour, hours_of_day, strict=True)
            ],
            "completions_per_day_by_hour": [
                c / observed_days if observed_days > 0 else math.nan
                for c in self.completions_by_hour
            ],
            "abandonment": {
                "balked": self.outcomes.get("balked", 0),
                "reneged": self.outcomes.get("reneged", 0),
                "rate": left / self.visits if self.visits else math.nan,
            },
            "rework_visits": self.rework,
            "first_time_success": (
                self.first_time_approved / self.first_decisions
                if self.first_decisions
                else math.nan
            ),
            "wait": self.wait.to_dict(with_cdf=True),
            "sojourn": self.sojourn.to_dict(),
            "first_response": self.first_response.to_dict(),
            "result_time": self.result_time.to_dict(),
        }
