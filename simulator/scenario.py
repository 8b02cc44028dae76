"""Validated, frozen scenario model (loading from files lives in simulator.loading)."""

from __future__ import annotations

import itertools
import math
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.distributions import Distribution

__all__ = [
    "REGIONS",
    "AppointmentSpec",
    "ArrivalSpec",
    "BehaviourSpec",
    "CalendarSpec",
    "CaseSpec",
    "DecisionSpec",
    "DeliverySpec",
    "HubSpec",
    "LinkSpec",
    "MaterialsSpec",
    "OutputSpec",
    "RegionSpec",
    "RunSpec",
    "Scenario",
    "ScenarioError",
    "ShiftSpec",
    "StaffingSpec",
    "parse_clock",
]

#: Region codes of the delta; anything else is rejected.
REGIONS: tuple[str, ...] = ("SH", "JS", "ZJ", "AH")
RegionCode = Literal["SH", "JS", "ZJ", "AH"]
ALL_DAYS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
WORKDAYS: tuple[int, ...] = (0, 1, 2, 3, 4)
_SUM_TOL = 1e-6


class ScenarioError(ValueError):
    """An invalid scenario; the message names each offending key and the problem."""


def parse_clock(text: str) -> float:
    """'HH:MM' -> minutes after midnight (24:00 allowed)."""
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"time of day {text!r} must look like HH:MM")
    hours, minutes = int(parts[0]), int(parts[1])
    if minutes >= 60 or hours * 60 + minutes > 1440:
        raise ValueError(f"time of day {text!r} is out of range 00:00..24:00")
    return float(hours * 60 + minutes)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_days(days: tuple[int, ...]) -> tuple[int, ...]:
    if any(d < 0 or d > 6 for d in days):
        raise ValueError(f"weekdays must be 0 (Monday) .. 6 (Sunday), got {list(days)}")
    if len(set(days)) != len(days):
        raise ValueError(f"weekdays repeat: {list(days)}")
    return days


class ShiftSpec(_Model):
    """Staff on duty between two times of day."""

    start: str
    end: str
    staff: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ShiftSpec:
        if parse_clock(self.end) <= parse_clock(self.start):
            raise ValueError(f"shift ends ({self.end}) at or before it starts ({self.start})")
        return self


class StaffingSpec(_Model):
    """Shifts of a staff pool on the given weekdays; shifts must not overlap."""

    shifts: tuple[ShiftSpec, ...] = ()
    days: tuple[int, ...] = WORKDAYS

    _days = field_validator("days")(_check_days)

    @model_validator(mode="after")
    def _no_overlap(self) -> StaffingSpec:
        spans = sorted(self.shifts, key=lambda s: (parse_clock(s.start), parse_clock(s.end)))
        for a, b in itertools.pairwise(spans):
            if parse_clock(b.start) < parse_clock(a.end):
                raise ValueError(
                    f"shifts overlap: {a.start}-{a.end} and {b.start}-{b.end} "
                    "(give each period once, with the staff on duty then)"
                )
        return self

    def peak(self) -> int:
        """Largest number on duty at once."""
        return max((s.staff for s in self.shifts), default=0)


class CalendarSpec(_Model):
    """Opening hours; arrivals happen only while open."""

    open: str = "09:00"
    close: str = "17:00"
    days: tuple[int, ...] = WORKDAYS
    drain_queue_at_close: bool = True

    _days = field_validator("days")(_check_days)

    @model_validator(mode="after")
    def _ordered(self) -> CalendarSpec:
        if parse_clock(self.close) <= parse_clock(self.open):
            raise ValueError(f"close ({self.close}) must be after open ({self.open})")
        return self


class AppointmentSpec(_Model):
    """Share of applicants who book a slot; they arrive near the slot start with priority."""

    share: float = Field(default=0.0, ge=0, le=1)
    slot_min: float = Field(default=30.0, gt=0)
    punctuality_sd_min: float = Field(default=5.0, ge=0)
    no_show: float = Field(default=0.0, ge=0, le=1)


class ArrivalSpec(_Model):
    """Poisson arrivals: rate per open hour x hourly profile x weekday factor."""

    cross_per_hour: float = Field(default=0.0, ge=0)
    local_per_hour: float = Field(default=0.0, ge=0)
    hourly_profile: tuple[float, ...] = (1.0,) * 24
    day_factors: tuple[float, ...] = (1.0,) * 7
    appointments: AppointmentSpec = AppointmentSpec()

    @field_validator("hourly_profile")
    @classmethod
    def _profile(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != 24 or any(x < 0 or not math.isfinite(x) for x in v):
            raise ValueError("hourly_profile needs 24 finite factors >= 0 (hour 0 first)")
        return v

    @field_validator("day_factors")
    @classmethod
    def _days(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != 7 or any(x < 0 or not math.isfinite(x) for x in v):
            raise ValueError("day_factors needs 7 finite factors >= 0 (Monday first)")
        return v


class RegionSpec(_Model):
    """One region's service centre: demand, destinations, calendar, clerks, reviewers."""

    arrivals: ArrivalSpec = ArrivalSpec()
    od: dict[RegionCode, float] = Field(default_factory=dict)
    calendar: CalendarSpec = CalendarSpec()
    clerks: StaffingSpec = StaffingSpec()
    reviewers: StaffingSpec = StaffingSpec()
    face_quota_per_day: int | None = Field(default=None, ge=0)

    @field_validator("od")
    @classmethod
    def _od_row(cls, v: dict[RegionCode, float]) -> dict[RegionCode, float]:
        for dest, share in v.items():
            if not 0 <= share <= 1:
                raise ValueError(f"share for {dest} is {share}, must lie in [0, 1]")
        total = math.fsum(v.values())
        if v and abs(total - 1) > _SUM_TOL:
            raise ValueError(f"OD row sums to {total:.6g}, must sum to 1")
        return v


class HubSpec(_Model):
    """National hub face verification: shared concurrency, latency, retries, manual fallback."""

    concurrency: int = Field(default=20, ge=1)
    latency: Distribution = Distribution(kind="constant", value=15, unit="s")
    failure_prob: float = Field(default=0.05, ge=0, le=1)
    max_retries: int = Field(default=2, ge=0)
    manual_check: Distribution = Distribution(kind="constant", value=3)


class LinkSpec(_Model):
    """One federation link for e-licence fetches."""

    latency: Distribution = Distribution(kind="constant", value=0.2, unit="s")
    failure_prob: float = Field(default=0.01, ge=0, le=1)
    timeout_s: float = Field(default=5.0, gt=0)
    retries: int = Field(default=1, ge=0)


class MaterialsSpec(_Model):
    """E-licences fetched per case over links 'FROM->TO'; failures fall back to paper scans."""

    licences_per_case: int = Field(default=2, ge=0)
    default_link: LinkSpec = LinkSpec()
    links: dict[str, LinkSpec] = Field(default_factory=dict)
    paper_scan: Distribution = Distribution(kind="constant", value=2)

    @field_validator("links")
    @classmethod
    def _link_names(cls, v: dict[str, LinkSpec]) -> dict[str, LinkSpec]:
        for name in v:
            parts = name.split("->")
            if len(parts) != 2 or any(p not in REGIONS for p in parts):
                raise ValueError(f"link {name!r} must be 'FROM->TO' with regions in {REGIONS}")
        return v

    def link(self, origin: str, dest: str) -> LinkSpec:
        """The link used to fetch materials for a case from origin to dest."""
        return self.links.get(f"{origin}->{dest}", self.default_link)


class DecisionSpec(_Model):
    """Outcome probabilities of a remote review; they must sum to 1."""

    approve: float = Field(default=0.88, ge=0, le=1)
    return_: float = Field(default=0.10, ge=0, le=1, alias="return")
    reject: float = Field(default=0.02, ge=0, le=1)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _sums(self) -> DecisionSpec:
        total = self.approve + self.return_ + self.reject
        if abs(total - 1) > _SUM_TOL:
            raise ValueError(f"approve + return + reject = {total:.6g}, must be 1")
        return self


class DeliverySpec(_Model):
    """Result delivery: e-licence at once, otherwise express."""

    electronic_share: float = Field(default=0.7, ge=0, le=1)
    express: Distribution = Distribution(kind="uniform", low=1, high=3, unit="d")


class CaseSpec(_Model):
    """Window work and the remote-virtual-window path."""

    formal_share: float = Field(default=0.08, ge=0, le=1)
    contact_service: Distribution = Distribution(kind="lognormal", mean=9.5, cv=0.8)
    local_service: Distribution = Distribution(kind="lognormal", mean=9.5, cv=0.8)
    intake: Distribution = Distribution(kind="lognormal", mean=5, cv=0.5)
    session: Distribution = Distribution(kind="lognormal", mean=20, sd=12)
    clerk_held: bool = True
    decision: DecisionSpec = DecisionSpec()
    rework_delay: Distribution = Distribution(kind="uniform", low=1, high=5, unit="d")
    max_returns: int = Field(default=2, ge=0)
    delivery: DeliverySpec = DeliverySpec()


class BehaviourSpec(_Model):
    """Applicant behaviour: balking, reneging, green channel."""

    balk_queue: int | None = Field(default=None, ge=0)
    balk_prob: float = Field(default=1.0, ge=0, le=1)
    patience: Distribution | None = None
    green_share: float = Field(default=0.0, ge=0, le=1)


class OutputSpec(_Model):
    """What to report and how finely."""

    service_level_min: tuple[float, ...] = (10.0,)
    first_response_target_min: float = Field(default=1.0, ge=0)
    sample_interval_min: float = Field(default=15.0, gt=0)
    max_series_points: int = Field(default=2048, ge=16)
    trace: str | None = None

    @field_validator("service_level_min")
    @classmethod
    def _targets(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(t < 0 for t in v):
            raise ValueError("service level targets must be >= 0 minutes")
        return v


class RunSpec(_Model):
    """Length of a run, warm-up, seed."""

    horizon_days: float | None = Field(default=7.0, gt=0)
    warmup_days: float = Field(default=0.0, ge=0)
    max_arrivals: int | None = Field(default=None, ge=1)
    warmup_arrivals: int = Field(default=0, ge=0)
    start_weekday: int = Field(default=0, ge=0, le=6)
    seed: int = Field(default=20230606, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> RunSpec:
        if self.horizon_days is None and self.max_arrivals is None:
            raise ValueError("give horizon_days or max_arrivals, or the run never ends")
        if self.horizon_days is not None and self.warmup_days >= self.horizon_days:
            raise ValueError(f"warmup_days ({self.warmup_days}) must be < horizon_days")
        if self.max_arrivals is not None and self.warmup_arrivals >= self.max_arrivals:
            raise ValueError(f"warmup_arrivals ({self.warmup_arrivals}) must be < max_arrivals")
        return self


class Scenario(_Model):
    """A complete, validated simulation scenario (clock in minutes)."""

    name: str = "scenario"
    description: str = ""
    regions: dict[RegionCode, RegionSpec]
    hub: HubSpec = HubSpec()
    materials: MaterialsSpec = MaterialsSpec()
    case: CaseSpec = CaseSpec()
    behaviour: BehaviourSpec = BehaviourSpec()
    run: RunSpec = RunSpec()
    output: OutputSpec = OutputSpec()

    @field_validator("regions")
    @classmethod
    def _known(cls, v: dict[RegionCode, RegionSpec]) -> dict[RegionCode, RegionSpec]:
        if not v:
            raise ValueError("at least one region is needed")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        problems: list[str] = []
        for code, region in self.regions.items():
            cross = region.arrivals.cross_per_hour > 0
            if cross and not region.od:
                problems.append(f"regions.{code}.od: cross-province arrivals need an OD row")
            for dest in region.od:
                if dest == code:
                    problems.append(f"regions.{code}.od.{dest}: own region (use local_per_hour)")
                elif dest not in self.regions:
                    problems.append(f"regions.{code}.od.{dest}: region {dest} is not modelled")
            busy = cross or region.arrivals.local_per_hour > 0
            if busy and region.clerks.peak() == 0:
                problems.append(f"regions.{code}.clerks.shifts: arrivals but no clerk on duty")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def region_codes(self) -> tuple[str, ...]:
        """Modelled regions in canonical order."""
        return tuple(r for r in REGIONS if r in self.regions)

    def region(self, code: str) -> RegionSpec:
        """One region's spec by code."""
        return self.regions[cast(RegionCode, code)]
