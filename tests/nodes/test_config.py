"""Tests for node configuration: TOML loading, validation messages, path resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from federation.errors import InvalidArgument
from nodes.config import FaceQuota, NodeConfig, load_config, render_config

REQUIRED: dict[str, Any] = {
    "region": "310000",
    "entity_id": "yrd:sh:310000",
    "port": 50052,
    "hub_endpoint": "127.0.0.1:50051",
    "store_url": "sqlite:///{dir}/sh/node.sqlite3",
    "ca_cert": "ca/root.crt",
    "tls_cert": "sh/tls.crt",
    "tls_key": "sh/tls.key",
    "anchor_jwk": "anchor/trust-anchor.jwk.json",
    "signing_keys_dir": "sh/signing",
    "node_dir": "sh",
    "trust_list_cache": "sh/trustlist-cache.jwt",
}


def write(tmp_path: Path, values: dict[str, Any], quotas: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(render_config(values, quotas), encoding="utf-8")
    return path


def test_load_config_ok(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, REQUIRED))
    assert config.region == "310000" and config.entity_id == "yrd:sh:310000"
    assert config.endpoint == "127.0.0.1:50052" and not config.is_hub
    assert config.region_enum.short == "SH"
    # defaults
    assert (config.token_ttl_s, config.clock_skew_s, config.password_cost_log2) == (600, 30, 14)
    assert config.face_quotas == {} and config.trust_list_source is None
    assert config.public_port is None  # no public HTTPS unless configured


def test_public_port_is_optional_and_zero_is_ephemeral(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, {**REQUIRED, "public_port": 0})).public_port == 0
    assert load_config(write(tmp_path, {**REQUIRED, "public_port": 50062})).public_port == 50062
    for bad in (-1, 70000):
        _, message = _error_for(tmp_path, {**REQUIRED, "public_port": bad})
        assert "public_port" in message


def test_observability_is_off_unless_configured(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, REQUIRED))
    assert (config.metrics_port, config.trace_export, config.access_log) == (None, "", None)
    on = load_config(
        write(
            tmp_path,
            {
                **REQUIRED,
                "metrics_port": 0,
                "access_log": "sh/access.log",
                "trace_export": "file:sh/spans.jsonl",
            },
        )
    )
    base = tmp_path.resolve()
    assert on.metrics_port == 0  # any free port
    assert on.access_log == base / "sh" / "access.log"
    assert on.trace_export == f"file:{base / 'sh' / 'spans.jsonl'}"
    otlp = "otlp:http://127.0.0.1:4318/v1/traces"
    assert load_config(write(tmp_path, {**REQUIRED, "trace_export": otlp})).trace_export == otlp


@pytest.mark.parametrize(
    ("export", "says"),
    [
        ("jaeger:x", "use '' (off), 'file:PATH'"),
        ("file:", "use '' (off), 'file:PATH'"),
        ("otlp:127.0.0.1:4318", "must be an http(s) URL"),
    ],
)
def test_bad_trace_export_is_named(tmp_path: Path, export: str, says: str) -> None:
    _, message = _error_for(tmp_path, {**REQUIRED, "trace_export": export})
    assert "trace_export" in message and says in message


def test_relative_paths_are_resolved_against_the_file(tmp_path: Path) -> None:
    sub = tmp_path / "fed"
    sub.mkdir()
    config = load_config(write(sub, REQUIRED))
    base = sub.resolve()
    assert config.ca_cert == base / "ca" / "root.crt"
    assert config.tls_key == base / "sh" / "tls.key"
    assert config.signing_keys_dir == base / "sh" / "signing"
    assert config.node_dir == base / "sh"
    assert config.trust_list_cache == base / "sh" / "trustlist-cache.jwt"
    assert config.anchor_jwk.is_absolute()


def test_paths_resolve_the_same_from_another_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, REQUIRED)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("..") / path.name)
    assert config.ca_cert == tmp_path.resolve() / "ca" / "root.crt"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {**REQUIRED, "ca_cert": "/etc/yrd/root.crt"}))
    assert config.ca_cert == Path("/etc/yrd/root.crt")


def test_dir_substitution_in_store_url(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, REQUIRED))
    assert config.store_url == f"sqlite:///{tmp_path.resolve()}/sh/node.sqlite3"
    pg = load_config(write(tmp_path, {**REQUIRED, "store_url": "postgresql://db/x?schema=yrd_sh"}))
    assert pg.store_url == "postgresql://db/x?schema=yrd_sh"


def test_region_may_be_named_and_is_stored_as_a_code(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, {**REQUIRED, "region": "shanghai"})).region == "310000"


def test_hub_config_with_face_quotas(tmp_path: Path) -> None:
    values = {
        **REQUIRED, "region": "100000", "entity_id": "yrd:hub:100000",
        "trust_list_source": "trustlist.json", "anchor_key": "anchor/trust-anchor.key",
        "face_threshold": 0.9,
    }
    quotas = {"310000": {"daily_limit": 5, "rate_per_s": 2.5, "burst": 3}, "330000": {}}
    config = load_config(write(tmp_path, values, quotas))
    assert config.is_hub
    assert config.face_quotas["310000"] == FaceQuota(daily_limit=5, rate_per_s=2.5, burst=3)
    assert config.face_quotas["330000"] == FaceQuota()
    assert config.trust_list_source == tmp_path.resolve() / "trustlist.json"
    assert config.face_threshold == 0.9


def test_render_escapes_quotes_and_backslashes(tmp_path: Path) -> None:
    tricky = 'host\\with "quotes"'
    config = load_config(write(tmp_path, {**REQUIRED, "hub_endpoint": tricky}))
    assert config.hub_endpoint == tricky


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, REQUIRED))
    with pytest.raises(pydantic.ValidationError):
        config.port = 1  # type: ignore[misc]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(InvalidArgument) as info:
        load_config(path)
    assert str(path) in info.value.message and "yrd federation init" in info.value.message


def test_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text('region = "310000\nport = = 1\n', encoding="utf-8")
    with pytest.raises(InvalidArgument) as info:
        load_config(path)
    assert info.value.message.startswith(f"{path}: not valid TOML")


def _error_for(tmp_path: Path, values: dict[str, Any], quotas: Any = None) -> tuple[Path, str]:
    path = write(tmp_path, values, quotas)
    with pytest.raises(InvalidArgument) as info:
        load_config(path)
    return path, info.value.message


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path, message = _error_for(tmp_path, {**REQUIRED, "prot": 50052})
    assert message.startswith(f"{path}: ") and "prot" in message


def test_missing_key_is_named(tmp_path: Path) -> None:
    values = {k: v for k, v in REQUIRED.items() if k != "hub_endpoint"}
    path, message = _error_for(tmp_path, values)
    assert message.startswith(f"{path}: ") and "hub_endpoint" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("port", 70000), ("port", -1), ("port", "fifty"), ("token_ttl_s", 0),
        ("token_ttl_s", 1801), ("clock_skew_s", 301), ("password_cost_log2", 9),
        ("password_cost_log2", 21), ("threads", 0), ("threads", 257), ("processes", 0),
        ("processes", 65), ("face_threshold", 0),
        ("face_threshold", 1.5), ("trust_list_refresh_s", 0), ("revocation_poll_s", -1),
        ("max_message_bytes", 1023), ("peer_timeout_s", 0),
    ],
)
def test_out_of_range_values_name_file_and_key(tmp_path: Path, key: str, value: Any) -> None:
    path, message = _error_for(tmp_path, {**REQUIRED, key: value})
    assert message.startswith(f"{path}: {key}: ")


@pytest.mark.parametrize(
    ("quota", "loc"),
    [({"daily_limit": -1}, "daily_limit"), ({"rate_per_s": 0}, "rate_per_s"),
     ({"burst": 0}, "burst"), ({"bursts": 3}, "bursts")],
)
def test_bad_face_quota_names_the_table_and_key(
    tmp_path: Path, quota: dict[str, Any], loc: str
) -> None:
    path, message = _error_for(tmp_path, REQUIRED, {"310000": quota})
    assert message.startswith(f"{path}: face_quotas.310000.{loc}: ")


@pytest.mark.parametrize("region", ["XX", "110000"])
def test_bad_region_names_file_and_key(tmp_path: Path, region: str) -> None:
    path, message = _error_for(tmp_path, {**REQUIRED, "region": region})
    assert message.startswith(f"{path}: region: ")


def test_bad_region_is_still_invalid_argument(tmp_path: Path) -> None:
    _, message = _error_for(tmp_path, {**REQUIRED, "region": "XX"})
    assert "unknown region 'XX'" in message


@pytest.mark.parametrize("code", ["31000", "999999", "HUB"])
def test_face_quota_for_an_unknown_region_is_refused(tmp_path: Path, code: str) -> None:
    _error_for(tmp_path, REQUIRED, {code: {"daily_limit": 5}})


def test_face_quota_keys_accept_short_names_and_become_codes(tmp_path: Path) -> None:
    path = write(tmp_path, REQUIRED, {"SH": {"daily_limit": 5}})
    assert load_config(path).face_quotas["310000"].daily_limit == 5


@pytest.mark.parametrize("kind", ["gb18030", "directory"])
def test_unreadable_config_is_invalid_argument_naming_the_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "node.toml"
    if kind == "gb18030":
        path.write_bytes('region = "上海"'.encode("gb18030"))
    else:
        path.mkdir()
    with pytest.raises(InvalidArgument, match=str(path)):
        load_config(path)


def test_node_config_validates_directly() -> None:
    base = {k: v for k, v in REQUIRED.items()}
    assert NodeConfig(**base).port == 50052
    with pytest.raises(pydantic.ValidationError):
        NodeConfig(**{**base, "threads": 0})


def test_old_workers_key_is_read_as_threads_with_a_deprecation_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="yrd.config"):
        config = load_config(write(tmp_path, {**REQUIRED, "workers": 4}))
    assert config.threads == 4 and config.processes == 1
    assert "old name of 'threads'" in caplog.text
    path, message = _error_for(tmp_path, {**REQUIRED, "workers": 4, "threads": 4})
    assert message.startswith(f"{path}: ") and "'threads' only" in message


def test_the_hub_runs_as_one_process(tmp_path: Path) -> None:
    hub = {**REQUIRED, "region": "HUB", "entity_id": "yrd:hub:100000", "processes": 2}
    path, message = _error_for(tmp_path, hub)
    assert message.startswith(f"{path}: processes: ") and "the hub runs as one process" in message
    assert load_config(write(tmp_path, {**REQUIRED, "processes": 4})).processes == 4
