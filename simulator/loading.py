"""Scenario files: read YAML or TOML, apply dotted --set overrides, validate with clear errors."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simulator.scenario import ALL_DAYS, Scenario, ScenarioError

__all__ = [
    "apply_overrides",
    "build_scenario",
    "default_scenario",
    "load_scenario",
    "mmc_scenario",
    "read_raw",
]

_CLOCK = re.compile(r"\d{1,2}:\d{2}")


def _format_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        got = err.get("input")
        tail = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        lines.append(f"{loc or '<scenario>'}: {msg}{tail}")
    return "invalid scenario:\n  " + "\n  ".join(lines)


def _parse_value(text: str) -> Any:
    if _CLOCK.fullmatch(text.strip()):
        return text.strip()  # YAML 1.1 would read 11:00 as the sexagesimal number 660
    import yaml  # here, not at the top: `yrd sim mmc` never reads YAML

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply 'dotted.key=value' overrides (values parsed as YAML) to a raw scenario mapping."""
    out: dict[str, Any] = _deep_copy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ScenarioError(f"override {item!r} must look like key=value")
        node: Any = out
        parts = key.split(".")
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[_index(key, part, node)]
                continue
            if not isinstance(node, dict):
                raise ScenarioError(f"{key}: {part!r} is not a mapping")
            node = node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list):
            node[_index(key, last, node)] = _parse_value(raw)
        elif isinstance(node, dict):
            node[last] = _parse_value(raw)
        else:
            raise ScenarioError(f"{key}: cannot set a key inside a scalar")
    return out


def _index(key: str, part: str, node: list[Any]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ScenarioError(f"{key}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


def _deep_copy(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_deep_copy(v) for v in data]
    return data


def _resolve_paths(data: Any, base: Path) -> Any:
    """Empirical latency paths are relative to the scenario file."""
    if isinstance(data, dict):
        out = {k: _resolve_paths(v, base) for k, v in data.items()}
        if out.get("kind") == "empirical" and isinstance(out.get("path"), str):
            p = Path(out["path"])
            out["path"] = str(p if p.is_absolute() else (base / p))
        return out
    if isinstance(data, list):
        return [_resolve_paths(v, base) for v in data]
    return data


def read_raw(source: str | Path) -> dict[str, Any]:
    """Read a scenario file (.yaml/.yml/.toml) or the word 'default' into a raw mapping."""
    import yaml

    if str(source) == "default":
        text = resources.files("simulator.scenarios").joinpath("yrd_default.yaml").read_text()
        loaded = yaml.safe_load(text)
        base = Path(str(resources.files("simulator.scenarios")))
    else:
        path = Path(source)
        if not path.is_file():
            raise ScenarioError(f"scenario file {str(path)!r} does not exist")
        text = path.read_text()
        try:
            loaded = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
            raise ScenarioError(f"{path}: cannot parse: {exc}") from exc
        base = path.parent
    if not isinstance(loaded, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping at the top level")
    resolved: dict[str, Any] = _resolve_paths(loaded, base)
    return resolved


def build_scenario(data: Mapping[str, Any]) -> Scenario:
    """Validate a raw mapping, raising ScenarioError with one line per problem."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_error(exc)) from None


def load_scenario(source: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load, override and validate a scenario file, or 'default' for the shipped YRD scenario."""
    return build_scenario(apply_overrides(read_raw(source), overrides))


def default_scenario(overrides: Iterable[str] = ()) -> Scenario:
    """The shipped Yangtze River Delta scenario."""
    return load_scenario("default", overrides)


def mmc_scenario(
    servers: int,
    arrival_rate: float,
    service_rate: float,
    customers: int,
    warmup: int = 0,
    seed: int = 1,
    capacity: int | None = None,
    abandonment_rate: float | None = None,
) -> Scenario:
    """The engine reduced to one window pool: M/M/c, M/M/c/K or M/M/c+M (rates per minute)."""
    if capacity is not None and capacity < servers:
        raise ScenarioError(f"capacity: must be >= servers ({capacity} < {servers})")
    if abandonment_rate is not None and abandonment_rate <= 0:
        raise ScenarioError(f"abandonment_rate: must be > 0 (got {abandonment_rate})")
    if service_rate <= 0:
        raise ScenarioError(f"service_rate: must be > 0 (got {service_rate})")
    patience = (
        None
        if abandonment_rate is None
        else {"kind": "exponential", "mean": 1.0 / abandonment_rate}
    )
    data = {
        "name": f"M/M/{servers}"
        + (f"/{capacity}" if capacity else "")
        + ("+M" if patience else ""),
        "regions": {
            "SH": {
                "arrivals": {"local_per_hour": arrival_rate * 60.0},
                "calendar": {"open": "00:00", "close": "24:00", "days": list(ALL_DAYS)},
                "clerks": {
                    "shifts": [{"start": "00:00", "end": "24:00", "staff": servers}],
                    "days": list(ALL_DAYS),
                },
            }
        },
        "case": {"local_service": {"kind": "exponential", "mean": 1.0 / service_rate}},
        "behaviour": {
            "balk_queue": None if capacity is None else capacity - servers,
            "patience": patience,
        },
        "output": {"service_level_min": [0.0]},
        "run": {
            "horizon_days": None,
            "max_arrivals": customers,
            "warmup_arrivals": warmup,
            "seed": seed,
        },
    }
    return build_scenario(data)
