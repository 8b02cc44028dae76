"""Node configuration: a frozen, validated value object parsed from one TOML file per node."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from federation.errors import InvalidArgument
from federation.regions import Region, parse_region

log = logging.getLogger("yrd.config")

# `workers` was the thread-pool size until worker processes came (`processes`, `--workers`)
DEPRECATED_WORKERS = (
    "config key 'workers' is the old name of 'threads' (the RPC thread pool of each process);"
    " it is read as 'threads'. Rename it; worker processes are 'processes' or `--workers N`."
)
MAX_PROCESSES = 64


def parse_trace_export(value: str) -> tuple[str, str]:
    """('', '') when off, ('file', path) or ('otlp', url); InvalidArgument for anything else."""
    if not value:
        return "", ""
    kind, _, where = value.partition(":")
    if kind not in ("file", "otlp") or not where:
        raise InvalidArgument(
            f"trace_export {value!r}: use '' (off), 'file:PATH' (JSON lines of finished spans) "
            "or 'otlp:URL' (an OTLP/HTTP collector, e.g. otlp:http://127.0.0.1:4318/v1/traces)"
        )
    if kind == "otlp" and not where.startswith(("http://", "https://")):
        raise InvalidArgument(f"trace_export {value!r}: the OTLP endpoint must be an http(s) URL")
    return kind, where


class FaceQuota(BaseModel):
    """The hub's face verification allowance for one region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily_limit: int = Field(10_000, ge=0)
    rate_per_s: float = Field(50.0, gt=0)
    burst: int = Field(100, ge=1)


class NodeConfig(BaseModel):
    """Everything one node needs; relative paths are resolved against the config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str
    entity_id: str
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    # the public read-only HTTPS port (JWKS, issuer metadata, status list); None: not served
    public_port: int | None = Field(None, ge=0, le=65535)
    hub_endpoint: str
    store_url: str
    ca_cert: Path
    tls_cert: Path
    tls_key: Path
    anchor_jwk: Path
    signing_keys_dir: Path
    node_dir: Path
    trust_list_cache: Path
    trust_list_refresh_s: float = Field(30.0, gt=0)
    revocation_poll_s: float = Field(2.0, gt=0)
    token_ttl_s: int = Field(600, gt=0, le=1800)
    clock_skew_s: int = Field(30, ge=0, le=300)
    password_cost_log2: int = Field(14, ge=10, le=20)
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    # RPC thread pool of each process (the key was `workers` before worker processes came)
    threads: int = Field(16, ge=1, le=256)
    # worker processes sharing host:port by SO_REUSEPORT (`yrd node serve --workers N`)
    processes: int = Field(1, ge=1, le=MAX_PROCESSES)
    peer_timeout_s: float = Field(2.0, gt=0)
    status_list_ttl_s: int = Field(300, ge=1, le=86400)
    # observability (README "Metrics, traces and access logs"): the Prometheus endpoint is
    # read-only and unauthenticated, so `host` should be an internal interface; None: off,
    # 0: any free port (the node reports which)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    # "" off, "file:PATH" (JSON lines of finished spans), "otlp:URL" (OTLP/HTTP collector)
    trace_export: str = ""
    # one JSON line per served RPC; None: off
    access_log: Path | None = None
    # hub only
    trust_list_source: Path | None = None
    trust_list_signed: Path | None = None
    anchor_key: Path | None = None
    face_threshold: float = Field(0.85, gt=0, le=1)
    face_quotas: dict[str, FaceQuota] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _old_workers_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "workers" in data:
            data = dict(data)
            workers = data.pop("workers")
            if "threads" in data:
                raise ValueError("give 'threads' only ('workers' is its deprecated old name)")
            log.warning(DEPRECATED_WORKERS)
            data["threads"] = workers
        return data

    @field_validator("processes")
    @classmethod
    def _hub_is_one_process(cls, value: int, info: ValidationInfo) -> int:
        if value > 1 and info.data.get("region") == Region.HUB.code:
            raise ValueError(
                "the hub runs as one process (it alone re-signs the trust list and the"
                " catalogue files it publishes); scale out the regions instead"
            )
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        try:
            return parse_region(value).code
        except InvalidArgument as exc:
            raise ValueError(exc.message) from None

    @field_validator("face_quotas")
    @classmethod
    def _quota_regions(cls, value: dict[str, FaceQuota]) -> dict[str, FaceQuota]:
        out: dict[str, FaceQuota] = {}
        for key, quota in value.items():
            try:
                region = parse_region(key)
            except InvalidArgument as exc:
                raise ValueError(f"face quota for {key!r}: {exc.message}") from None
            if not region.is_province:
                raise ValueError("face quotas are for provinces, not the hub")
            out[region.code] = quota
        return out

    @field_validator("trace_export")
    @classmethod
    def _trace_export(cls, value: str) -> str:
        try:
            parse_trace_export(value)
        except InvalidArgument as exc:
            raise ValueError(exc.message) from None
        return value

    @property
    def workers(self) -> int:
        """Deprecated: the old name of `threads` (worker processes are `processes`)."""
        return self.threads

    @property
    def region_enum(self) -> Region:
        return parse_region(self.region)

    @property
    def is_hub(self) -> bool:
        return self.region_enum is Region.HUB

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


_PATH_KEYS = (
    "ca_cert",
    "tls_cert",
    "tls_key",
    "anchor_jwk",
    "signing_keys_dir",
    "node_dir",
    "trust_list_cache",
    "trust_list_source",
    "trust_list_signed",
    "anchor_key",
    "access_log",
)


def load_config(path: Path) -> NodeConfig:
    """Parse and validate a node's TOML file; errors name the file and the key."""
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidArgument(
            f"config file {path} not found; create one with `yrd federation init`"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{path}: cannot read the config file: {exc}") from None
    base = path.resolve().parent
    for key in _PATH_KEYS:
        if key in raw:
            raw[key] = base / str(raw[key])
    export = str(raw.get("trace_export", ""))
    if export.startswith("file:") and export[5:] and not Path(export[5:]).is_absolute():
        raw["trace_export"] = "file:" + str(base / export[5:])
    if "store_url" in raw:
        raw["store_url"] = str(raw["store_url"]).replace("{dir}", str(base))
    try:
        return NodeConfig(**raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidArgument(f"{path}: {problems}") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_config(values: dict[str, Any], quotas: dict[str, dict[str, Any]] | None = None) -> str:
    """Write a flat TOML document (plus the hub's [face_quotas.<code>] tables)."""
    lines = [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    for code, quota in (quotas or {}).items():
        lines.append("")
        lines.append(f'[face_quotas."{code}"]')
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in quota.items())
    return "\n".join(lines) + "\n"
