"""`yrd licence`: text versus file arguments of any length, wallets of either key type, and every
error as one JSON document with a non-zero exit (no traceback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from federation.crypto.jose import Jwk, SigningKey
from nodes.cli import root
from nodes.cli.licence import _text_or_file

LONG_QR = "YRD1:" + "A" * 3000  # one path component far past NAME_MAX, under PATH_MAX
LONG_PLAIN = "eyJhbGciOiJFZERTQSJ9." * 150  # no '~', no prefix: used to reach Path.exists()


def yrd(*args: str) -> Result:
    return CliRunner().invoke(root, ["licence", *args])


def json_error(result: Result) -> dict[str, Any]:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    doc: dict[str, Any] = json.loads(result.stderr)
    assert set(doc) == {"error", "message"}
    return doc


@pytest.mark.parametrize(
    "text",
    [LONG_QR, LONG_PLAIN, "x" * 300, "a~b~", "x" * 100_000, "nul\x00inside", "  padded~  "],
)
def test_text_is_told_apart_without_asking_the_file_system(text: str) -> None:
    assert _text_or_file(text) == text.strip()


def test_a_file_argument_is_read(tmp_path: Path) -> None:
    path = tmp_path / "licence.txt"
    path.write_text("  abc.def.ghi~  \n", encoding="utf-8")
    assert _text_or_file(str(path)) == "abc.def.ghi~"
    assert _text_or_file(str(tmp_path)) == str(tmp_path)  # a folder is not a licence file


@pytest.mark.parametrize("command", ["verify", "verify-presentation"])
@pytest.mark.parametrize("text", [LONG_QR, LONG_PLAIN])
def test_long_arguments_do_not_crash(tmp_path: Path, command: str, text: str) -> None:
    result = yrd(command, "--dir", str(tmp_path / "none"), "--region", "SH", text)
    doc = json_error(result)
    assert "File name too long" not in doc["message"]


def test_an_unexpected_exception_is_a_json_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nodes.client

    class Broken:
        def __init__(self, *args: object) -> None:
            raise RuntimeError("boom")

    monkeypatch.setattr(nodes.client, "FederationClient", Broken)
    result = yrd("verify", "--dir", str(tmp_path), "--region", "SH", "a.b.c~")
    assert json_error(result) == {"error": "INTERNAL", "message": "RuntimeError: boom"}
    assert result.exit_code == 1


def test_the_traceback_is_shown_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nodes.client

    class Broken:
        def __init__(self, *args: object) -> None:
            raise RuntimeError("boom")

    monkeypatch.setattr(nodes.client, "FederationClient", Broken)
    monkeypatch.setenv("YRD_TRACEBACK", "1")
    result = yrd("verify", "--dir", str(tmp_path), "--region", "SH", "a.b.c~")
    assert result.exit_code == 1 and "Traceback" in result.stderr
    assert json.loads(result.stderr.splitlines()[-1])["error"] == "INTERNAL"


def test_an_os_error_is_a_json_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nodes.client

    class Unreadable:
        def __init__(self, *args: object) -> None:
            raise PermissionError(13, "Permission denied", str(tmp_path / "ca.key"))

    monkeypatch.setattr(nodes.client, "FederationClient", Unreadable)
    doc = json_error(yrd("verify", "--dir", str(tmp_path), "--region", "SH", "a.b.c~"))
    assert doc["error"] == "INTERNAL" and "Permission denied" in doc["message"]


@pytest.mark.parametrize(("alg", "crv"), [("EdDSA", "Ed25519"), ("ES256", "P-256")])
def test_wallet_of_either_key_type(tmp_path: Path, alg: str, crv: str) -> None:
    out = tmp_path / "wallet.pem"
    result = yrd("wallet", "--out", str(out), "--alg", alg)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    key = SigningKey.from_pem(out.read_bytes())
    assert doc["alg"] == key.alg == alg and doc["jwk"]["crv"] == crv
    assert Jwk.from_dict(doc["jwk"]) == key.jwk
    assert "d" not in doc["jwk"] and doc["jwk"]["use"] == "sig"
    again = yrd("wallet", "--out", str(out), "--alg", alg)
    assert json_error(again)["error"] == "USAGE" and again.exit_code == 2
    assert SigningKey.from_pem(out.read_bytes()).jwk == key.jwk  # not overwritten


def test_wallet_defaults_to_eddsa_and_refuses_other_algorithms(tmp_path: Path) -> None:
    assert json.loads(yrd("wallet", "--out", str(tmp_path / "w")).stdout)["alg"] == "EdDSA"
    assert yrd("wallet", "--out", str(tmp_path / "x"), "--alg", "HS256").exit_code == 2


def test_challenge_then_present_with_its_nonce(tmp_path: Path, fed_dir: Path) -> None:
    """`yrd licence challenge` -> `present --nonce` -> `verify-presentation --nonce`, once."""
    import secrets

    from nodes.client import FederationClient
    from nodes.demo.licences import DRIVING_FIELDS
    from tests._support.nodes import new_citizen

    wallet = SigningKey.generate()
    wallet_path = tmp_path / "wallet.pem"
    wallet_path.write_bytes(wallet.to_pem())
    with FederationClient(fed_dir) as client:
        doc = client.issue_licence(
            "JS", secrets.token_hex(6), "driving_licence", new_citizen(), "测试人",
            DRIVING_FIELDS, valid_until="2030-01-01", holder_jwk=wallet.jwk.to_dict(),
        )  # fmt: skip
    licence_path = tmp_path / "licence.txt"
    licence_path.write_text(doc.sd_jwt, encoding="utf-8")
    d = ["--dir", str(fed_dir)]

    challenge = yrd("challenge", *d, "--region", "ZJ")
    assert challenge.exit_code == 0, challenge.output
    issued = json.loads(challenge.stdout)
    assert issued["audience"] == "yrd:zj:330000" and issued["nonce"]
    nonce = issued["nonce"]
    shown = yrd(
        "present", "--licence", str(licence_path), "--wallet", str(wallet_path),
        "--disclose", "holder_name", "--audience", "ZJ", "--nonce", nonce,
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    presentation = json.loads(shown.stdout)["presentation"]
    verify = ["verify-presentation", *d, "--region", "ZJ", "--nonce", nonce, presentation]
    first = yrd(*verify)
    assert first.exit_code == 0, first.output
    answer = json.loads(first.stdout)
    assert answer["nonce"] == nonce and answer["disclosed"] == {"holder_name": "测试人"}
    assert json_error(yrd(*verify))["error"] == "UNAUTHENTICATED"  # answered once
