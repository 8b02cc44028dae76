"""An emulated WAN: one link spec per directed node-to-node pair, read from a TOML file."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from federation.errors import InvalidArgument
from federation.regions import Region, parse_region

# Linux's minimum TCP retransmission timeout: what a lost segment costs before it is resent
TCP_RTO_MIN_MS = 200.0
DEFAULT_BURST_BYTES = 16 * 1024


class LinkSpec(BaseModel):
    """One direction of a link: what a chunk of bytes from FROM to TO goes through."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delay_ms: float = Field(0.0, ge=0, le=60_000)
    jitter_ms: float = Field(0.0, ge=0, le=60_000)
    # probability that a chunk is "lost": a user-space TCP proxy cannot drop bytes from a
    # stream (TCP would resend them), so a loss costs the chunk a retransmission timeout
    loss: float = Field(0.0, ge=0, lt=1)
    rto_ms: float = Field(TCP_RTO_MIN_MS, ge=0, le=60_000)
    bandwidth_kbps: float | None = Field(None, gt=0)  # None: unlimited
    burst_bytes: int = Field(DEFAULT_BURST_BYTES, ge=1)
    partitioned: bool = False

    @classmethod
    def ideal(cls) -> LinkSpec:
        """No delay, no loss, no limit: the proxy's own overhead only."""
        return cls.model_validate({})

    def with_changes(self, **changes: Any) -> LinkSpec:
        """A copy with `changes` applied and validated (faults change a link for a window)."""
        return LinkSpec(**{**self.model_dump(), **changes})


def link_key(source: Region, target: Region) -> str:
    """The directed link's name, `"FROM->TO"` with region codes (the report's `links` keys)."""
    return f"{source.code}->{target.code}"


def parse_link_key(key: str) -> tuple[Region, Region]:
    source, sep, target = key.partition("->")
    if not sep:
        raise ValueError(f"link {key!r} must be written FROM->TO (e.g. 310000->320000)")
    try:
        a, b = parse_region(source.strip()), parse_region(target.strip())
    except InvalidArgument as exc:
        raise ValueError(f"link {key!r}: {exc.message}") from None
    if a is b:
        raise ValueError(f"link {key!r} connects a node to itself")
    return a, b


class PairSpec(BaseModel):
    """Both directions of a link from one published round-trip time: delay = rtt / 2 each way."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rtt_ms: float = Field(ge=0, le=60_000)
    jitter_ms: float = Field(0.0, ge=0, le=60_000)
    loss: float = Field(0.0, ge=0, lt=1)
    bandwidth_kbps: float | None = Field(None, gt=0)

    def one_way(self) -> LinkSpec:
        return LinkSpec(
            delay_ms=self.rtt_ms / 2,
            jitter_ms=self.jitter_ms,
            loss=self.loss,
            rto_ms=TCP_RTO_MIN_MS,
            bandwidth_kbps=self.bandwidth_kbps,
            burst_bytes=DEFAULT_BURST_BYTES,
        )


class Topology(BaseModel):
    """Every directed link between the federation's five nodes, each fully specified."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    source: str = ""
    links: dict[str, LinkSpec]

    @model_validator(mode="after")
    def _complete(self) -> Topology:
        for key in self.links:
            parse_link_key(key)
        wanted = {link_key(a, b) for a, b in itertools.permutations(Region, 2)}
        missing = sorted(wanted - set(self.links))
        if missing:
            raise ValueError(f"links missing for {', '.join(missing)}")
        extra = sorted(set(self.links) - wanted)
        if extra:
            raise ValueError(f"links not written as FROM->TO region codes: {', '.join(extra)}")
        return self

    def link(self, source: Region, target: Region) -> LinkSpec:
        return self.links[link_key(source, target)]

    @classmethod
    def uniform(cls, name: str, spec: LinkSpec) -> Topology:
        """Every link alike (e.g. zero delay: the proxies' own overhead)."""
        return cls(
            name=name,
            links={link_key(a, b): spec for a, b in itertools.permutations(Region, 2)},
        )


def topology_from_dict(raw: dict[str, Any]) -> Topology:
    """`[default]` for every link, `[pairs."A-B"]` symmetric RTTs, `[links."A->B"]` overrides."""
    raw = dict(raw)
    default = LinkSpec(**raw.pop("default", {}))
    links: dict[str, LinkSpec] = {
        link_key(a, b): default for a, b in itertools.permutations(Region, 2)
    }
    for key, value in dict(raw.pop("pairs", {})).items():
        first, sep, second = str(key).partition("-")
        if not sep or first.endswith(">") or second.startswith(">"):
            raise ValueError(f"pair {key!r} must be written A-B (e.g. 310000-100000)")
        a, b = parse_link_key(f"{first}->{second}")
        one_way = PairSpec(**value).one_way()
        links[link_key(a, b)] = links[link_key(b, a)] = one_way
    for key, value in dict(raw.pop("links", {})).items():
        a, b = parse_link_key(str(key))
        links[link_key(a, b)] = links[link_key(a, b)].with_changes(**value)
    return Topology(links=links, **raw)


def load_topology(path: Path) -> Topology:
    """Parse and validate a topology file; errors name the file and what is wrong."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidArgument(f"topology file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{path}: cannot read the topology: {exc}") from None
    try:
        return topology_from_dict(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'topology'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidArgument(f"{path}: {problems}") from None
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"{path}: {exc}") from None


DEFAULT_TOPOLOGY = Path(__file__).parent / "topologies" / "yrd-default.toml"
