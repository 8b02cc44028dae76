"""The yrd command through click's runner: JSON out, domain errors as JSON with exit codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from federation.errors import InvalidArgument
from nodes.cli import root
from tests._support.nodes import new_citizen


def _json(output: str) -> object:
    return json.loads(output)


def test_every_command_has_help() -> None:
    runner = CliRunner()
    groups = {
        "node": ["serve", "health"],
        "federation": ["init", "rotate-keys", "reissue-tls", "retire-old-tls", "up", "trust-list"],
        "identity": ["register", "enrol-face", "login", "token", "verify", "logout"],
        "audit": ["verify", "show"],
    }
    assert runner.invoke(root, ["--help"]).exit_code == 0
    for group, commands in groups.items():
        assert runner.invoke(root, [group, "--help"]).exit_code == 0
        for command in commands:
            result = runner.invoke(root, [group, command, "--help"])
            assert result.exit_code == 0, (group, command, result.output)
            assert "Usage:" in result.output


def test_init_writes_material_and_trust_list_offline(tmp_path: Path) -> None:
    runner = CliRunner()
    directory = tmp_path / "fed"
    result = runner.invoke(
        root,
        [
            "federation",
            "init",
            "--dir",
            str(directory),
            "--base-port",
            "0",
            "--password-cost",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    out = _json(result.stdout)
    assert isinstance(out, dict) and len(out["configs"]) == 5
    for key in directory.rglob("*.key"):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, key
    again = runner.invoke(root, ["federation", "init", "--dir", str(directory)])
    assert again.exit_code == 7  # FAILED_PRECONDITION: already a federation there
    listed = runner.invoke(root, ["federation", "trust-list", "--dir", str(directory), "--offline"])
    assert listed.exit_code == 0
    trust = _json(listed.stdout)
    assert isinstance(trust, dict) and trust["verified"] is True
    regions = {m["region_code"]: m for m in trust["members"] if "region" in m["roles"]}
    assert set(regions) == {"310000", "320000", "330000", "340000"}
    assert all(m["jwks"]["keys"][0]["crv"] == "Ed25519" for m in regions.values())
    # seal-certifying keys are listed apart, as standard JWKs (their purpose is the list)
    assert all(len(m["seal_jwks"]["keys"]) == 1 for m in regions.values())
    rotated = runner.invoke(
        root, ["federation", "rotate-keys", "--dir", str(directory), "--region", "ZJ"]
    )
    assert rotated.exit_code == 0
    keys = _json(rotated.stdout)["keys"]  # type: ignore[index]
    assert [k["use"] for k in keys] == ["sig", "sig"]  # the token keys; the seal key stays
    assert "exp" in keys[1] and "exp" not in keys[0]


def test_identity_commands_against_running_nodes(fed_dir: Path) -> None:
    runner = CliRunner()
    subject = new_citizen()
    d = ["--dir", str(fed_dir)]
    reg = runner.invoke(
        root,
        [
            "identity",
            "register",
            *d,
            "--region",
            "ZJ",
            "--id",
            subject,
            "--name",
            "CLI Person",
            "--password",
            "Lotus-pond-2024",
        ],
    )
    assert reg.exit_code == 0, reg.output
    login = runner.invoke(
        root,
        [
            "identity",
            "login",
            *d,
            "--region",
            "330000",
            "--id",
            subject,
            "--password",
            "Lotus-pond-2024",
            "--audience",
            "SH",
        ],
    )
    assert login.exit_code == 0, login.output
    out = _json(login.stdout)
    assert isinstance(out, dict)
    token = out["tokens"]["yrd:sh:310000"]
    ok = runner.invoke(root, ["identity", "verify", *d, "--region", "SH", token])
    assert ok.exit_code == 0 and _json(ok.stdout)["claims"]["sub"] == subject  # type: ignore[index]
    replay = runner.invoke(root, ["identity", "verify", *d, "--region", "SH", token])
    assert replay.exit_code == 3
    assert "replay" in _json(replay.stderr)["message"]  # type: ignore[index]
    health = runner.invoke(root, ["node", "health", *d, "--region", "HUB"])
    assert _json(health.stdout) == {"region": "100000", "status": "SERVING"}
    live = runner.invoke(root, ["federation", "trust-list", *d])
    assert live.exit_code == 0 and _json(live.stdout)["source"] == "hub"  # type: ignore[index]


def test_bad_input_exit_codes(tmp_path: Path, fed_dir: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(
        root, ["identity", "verify", "--dir", str(tmp_path / "none"), "--region", "SH", "x.y.z"]
    )
    assert missing.exit_code == 2
    assert "yrd federation init" in _json(missing.stderr)["message"]  # type: ignore[index]
    region = runner.invoke(root, ["node", "health", "--dir", str(fed_dir), "--region", "Mars"])
    assert region.exit_code == 2
    assert "unknown region" in _json(region.stderr)["message"]  # type: ignore[index]


def test_audit_verify_detects_tampering(fed_dir: Path) -> None:
    import sqlite3

    from nodes.client import FederationClient

    with FederationClient(fed_dir) as client, pytest.raises(InvalidArgument):
        client.verify_token("SH", "not-a-token")  # a refusal Shanghai audits
    runner = CliRunner()
    config = fed_dir / "sh.toml"
    good = runner.invoke(root, ["audit", "verify", "--config", str(config)])
    assert good.exit_code == 0, good.output
    assert _json(good.stdout)["ok"] is True  # type: ignore[index]
    # tamper with a copy, never with the live node's store
    copy_dir = fed_dir.parent / "tampered"
    copy_dir.mkdir(exist_ok=True)
    db = copy_dir / "node.sqlite3"
    src = sqlite3.connect(fed_dir / "sh" / "node.sqlite3")
    dst = sqlite3.connect(db)
    src.backup(dst)
    src.close()
    table = dst.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name = 'audit_log'"
    ).fetchone()[0]
    dst.execute(f"UPDATE {table} SET outcome = outcome || '-tampered' WHERE seq = 1")
    dst.commit()
    dst.close()
    text = config.read_text().replace(str(fed_dir / "sh" / "node.sqlite3"), str(db))
    text = text.replace("{dir}/sh/node.sqlite3", str(db))
    for key in (
        "ca_cert",
        "tls_cert",
        "tls_key",
        "anchor_jwk",
        "signing_keys_dir",
        "trust_list_cache",
    ):
        text = text.replace(f'{key} = "', f'{key} = "{fed_dir}/')
    bad_config = copy_dir / "sh.toml"
    bad_config.write_text(text)
    bad = runner.invoke(root, ["audit", "verify", "--config", str(bad_config)])
    assert bad.exit_code == 10, bad.stdout
    assert _json(bad.stdout)["first_bad_seq"] == 1  # type: ignore[index]
