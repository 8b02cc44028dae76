"""A lab scenario: a timed fault schedule under an open-loop load mix, read from a TOML file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from federation.errors import InvalidArgument
from federation.regions import Region, parse_region
from nodes.lab.topology import DEFAULT_TOPOLOGY, parse_link_key

OPERATIONS = ("token_verify", "licence_verify", "aggregation", "case_submit")
FaultKind = Literal["partition", "kill", "freeze", "hub_outage", "slow_link"]
# a face assertion lives 300 s and every case's is made before the run starts
MAX_CASE_RUN_S = 240.0


def _region_code(value: str) -> str:
    try:
        return parse_region(value).code
    except InvalidArgument as exc:
        raise ValueError(exc.message) from None


class Fault(BaseModel):
    """One fault: what, where, from `at_s` (seconds into the run) for `duration_s`.

    - partition: every link to and from `region` (new connections refused, open ones stalled,
      or reset with `reset_connections`);
    - kill: SIGKILL the node of `region`; restarted after `duration_s` (none: stays dead);
    - freeze: SIGSTOP the node, SIGCONT after `duration_s`;
    - hub_outage: the hub killed (`mode = "kill"`, restarted after) or partitioned;
    - slow_link: `link` ("FROM->TO") gets `delay_ms`/`jitter_ms`/`loss`/`bandwidth_kbps`
      (only those given) for `duration_s`, both directions when `both_ways`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    at_s: float = Field(ge=0)
    duration_s: float | None = Field(None, gt=0)
    region: str | None = None
    mode: Literal["kill", "partition"] = "kill"
    reset_connections: bool = False
    link: str | None = None
    both_ways: bool = True
    delay_ms: float | None = Field(None, ge=0)
    jitter_ms: float | None = Field(None, ge=0)
    loss: float | None = Field(None, ge=0, lt=1)
    bandwidth_kbps: float | None = Field(None, gt=0)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        return None if value is None else _region_code(value)

    @field_validator("link")
    @classmethod
    def _known_link(cls, value: str | None) -> str | None:
        if value is None:
            return None
        a, b = parse_link_key(value)
        return f"{a.code}->{b.code}"

    @model_validator(mode="after")
    def _fits_kind(self) -> Fault:
        if self.kind in ("partition", "kill", "freeze") and self.region is None:
            raise ValueError(f"a {self.kind} fault needs `region`")
        if self.kind == "slow_link":
            if self.link is None:
                raise ValueError("a slow_link fault needs `link` (FROM->TO)")
            if self.duration_s is None:
                raise ValueError("a slow_link fault needs `duration_s`")
            if all(v is None for v in self.link_changes().values()):
                raise ValueError("a slow_link fault changes delay_ms, jitter_ms, loss or bandwidth")
        if self.kind in ("freeze", "partition") and self.duration_s is None:
            raise ValueError(f"a {self.kind} fault needs `duration_s`")
        if self.kind == "hub_outage" and self.region not in (None, Region.HUB.code):
            raise ValueError("a hub_outage is the hub's (leave out `region`)")
        return self

    @property
    def target(self) -> Region:
        if self.kind == "hub_outage":
            return Region.HUB
        if self.kind == "slow_link":
            assert self.link is not None
            return parse_link_key(self.link)[1]
        assert self.region is not None
        return parse_region(self.region)

    @property
    def end_s(self) -> float | None:
        return None if self.duration_s is None else self.at_s + self.duration_s

    def link_changes(self) -> dict[str, float | None]:
        return {
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
            "loss": self.loss,
            "bandwidth_kbps": self.bandwidth_kbps,
        }

    @property
    def label(self) -> str:
        if self.kind == "slow_link":
            return f"slow_link {self.link}"
        if self.kind == "hub_outage":
            return f"hub_outage ({self.mode})"
        return f"{self.kind} {self.target.short}"


class LoadMix(BaseModel):
    """Open-loop arrival rates, requests per second, of each operation (0: not sent)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_verify: float = Field(0.0, ge=0, le=2000)
    licence_verify: float = Field(0.0, ge=0, le=2000)
    aggregation: float = Field(0.0, ge=0, le=500)
    case_submit: float = Field(0.0, ge=0, le=20)
    arrivals: Literal["uniform", "poisson"] = "poisson"
    timeout_s: float = Field(5.0, gt=0, le=120)

    def rates(self) -> dict[str, float]:
        return {op: float(getattr(self, op)) for op in OPERATIONS if getattr(self, op) > 0}


class Scenario(BaseModel):
    """The whole experiment: topology, load mix, duration, faults, and how to judge recovery."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    topology: Path = DEFAULT_TOPOLOGY
    duration_s: float = Field(gt=0, le=3600)
    seed: int = 1
    load: LoadMix
    faults: tuple[Fault, ...] = ()
    link_probe_rate: float = Field(1.0, ge=0, le=50)  # echoes per second on each directed link
    overhead_echoes: int = Field(300, ge=0, le=100_000)
    recovery_window_s: float = Field(2.0, gt=0)
    recovery_min_requests: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _coherent(self) -> Scenario:
        if not self.load.rates():
            raise ValueError("the load mix sends nothing: give at least one operation a rate")
        for fault in self.faults:
            if fault.at_s >= self.duration_s:
                raise ValueError(f"{fault.label} starts at {fault.at_s} s, after the run ends")
        if self.load.case_submit > 0 and self.duration_s > MAX_CASE_RUN_S:
            raise ValueError(
                f"with case_submit the run lasts at most {MAX_CASE_RUN_S:.0f} s (the face "
                "assertions made before it expire after 300 s)"
            )
        return self


def load_scenario(path: Path) -> Scenario:
    """Parse a scenario file; `topology` is relative to it. Errors name the file and the key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidArgument(f"scenario file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{path}: cannot read the scenario: {exc}") from None
    if "topology" in raw:
        raw["topology"] = path.resolve().parent / str(raw["topology"])
    raw["faults"] = raw.pop("fault", [])
    try:
        return Scenario(**raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'scenario'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidArgument(f"{path}: {problems}") from None


SCENARIOS = Path(__file__).parent / "scenarios"
