"""Passwords and session secrets from one source (option, file, environment, hidden prompt),
and the face template checks, through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nodes.cli import root
from nodes.cli.common import secret_options
from tests._support.nodes import new_citizen, template

PASSWORD = "Lotus pond 2024 ☂"  # spaces and non-ASCII survive every source


@click.command()
@secret_options("password", confirm=True)
def show(password: str) -> None:
    click.echo(json.dumps({"password": password}))


def _password(result: object) -> str:
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    last = result.stdout.strip().splitlines()[-1]  # type: ignore[attr-defined]
    return str(json.loads(last)["password"])


def test_each_source_gives_the_password(tmp_path: Path) -> None:
    runner = CliRunner()
    file = tmp_path / "pw.txt"
    file.write_text(PASSWORD + "\r\nsecond line ignored\n", encoding="utf-8")
    assert _password(runner.invoke(show, ["--password", PASSWORD])) == PASSWORD
    assert _password(runner.invoke(show, ["--password-file", str(file)])) == PASSWORD
    assert _password(runner.invoke(show, ["--password-file", "-"], input=PASSWORD + "\n")) == (
        PASSWORD
    )
    env = {"YRD_TEST_PW": PASSWORD}
    assert _password(runner.invoke(show, ["--password-env", "YRD_TEST_PW"], env=env)) == PASSWORD


def test_no_source_prompts_hidden_and_confirms() -> None:
    result = CliRunner().invoke(show, [], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert _password(result) == PASSWORD
    assert PASSWORD not in result.stdout.splitlines()[0]  # hidden: not echoed
    assert "Password" in result.stdout and "Repeat for confirmation" in result.stdout
    mismatch = CliRunner().invoke(show, [], input=f"{PASSWORD}\nother\n")
    assert mismatch.exit_code != 0


@pytest.mark.parametrize(
    ("args", "env", "stdin", "message"),
    [
        (["--password", "a", "--password-env", "X"], {"X": "b"}, None, "one way only"),
        (["--password-file", "F", "--password-env", "X"], {"X": "b"}, None, "--password-file and"),
        (["--password-env", "YRD_UNSET_VAR"], {}, None, "YRD_UNSET_VAR is not set"),
        (["--password-env", "X"], {"X": ""}, None, "empty"),
        (["--password-file", "missing.txt"], {}, None, "cannot read missing.txt"),
        (["--password-file", "-"], {}, "\n", "empty"),
        ([], {}, "", "no password: give --password-file, --password-env"),
    ],
)
def test_bad_sources_are_usage_errors(
    args: list[str],
    env: dict[str, str],
    stdin: str | None,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("F").write_text("pw")
    result = CliRunner().invoke(show, args, env=env, input=stdin)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_every_password_command_offers_every_source() -> None:
    runner = CliRunner()
    for command, name in [
        ("register", "password"),
        ("enrol-face", "password"),
        ("login", "password"),
        ("token", "secret"),
        ("logout", "secret"),
    ]:
        text = runner.invoke(root, ["identity", command, "--help"]).output
        for flag in (f"--{name} ", f"--{name}-file", f"--{name}-env"):
            assert flag in text, (command, flag)
    assert "64 to 1024" in runner.invoke(root, ["identity", "--help"]).output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[0.5, 1.0]", "64..1024 dimensions, got 2"),
        (json.dumps([0.0] * 64), "all zeros"),
        ("[" + ", ".join(["1.0"] * 63 + ["NaN"]) + "]", "NaN or infinity"),
        ('{"template": [1.0]}', "expected a JSON array of numbers"),
        (json.dumps(["1.0"] * 64), "expected a JSON array of numbers"),
        ("not json", "not a JSON array of numbers"),
    ],
)
def test_bad_face_templates_are_refused_before_any_call(
    content: str, message: str, tmp_path: Path
) -> None:
    face = tmp_path / "face.json"
    face.write_text(content)
    result = CliRunner().invoke(
        root,
        [
            "identity",
            "enrol-face",
            "--dir",
            str(tmp_path / "no-federation"),
            "--region",
            "ZJ",
            "--id",
            "x",
            "--password",
            "pw",
            "--face",
            str(face),
        ],
    )
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_register_login_and_logout_with_secrets_off_the_command_line(
    fed_dir: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    subject = new_citizen()
    d = ["--dir", str(fed_dir), "--region", "ZJ"]
    reg = runner.invoke(
        root,
        ["identity", "register", *d, "--id", subject, "--name", "Prompted Person"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert reg.exit_code == 0, reg.output
    face = tmp_path / "face.json"
    face.write_text(json.dumps(template(7)))
    enrol = runner.invoke(
        root,
        [
            "identity",
            "enrol-face",
            *d,
            "--id",
            subject,
            "--password-env",
            "PW",
            "--face",
            str(face),
        ],
        env={"PW": PASSWORD},
    )
    assert enrol.exit_code == 0, enrol.output
    pw_file = tmp_path / "pw"
    pw_file.write_text(PASSWORD + "\n", encoding="utf-8")
    login = runner.invoke(
        root,
        [
            "identity",
            "login",
            *d,
            "--id",
            subject,
            "--password-file",
            str(pw_file),
            "--audience",
            "SH",
            "--acr",
            "high",
            "--face",
            str(face),
        ],
    )
    assert login.exit_code == 0, login.output
    out = json.loads(login.stdout)
    assert out["session_expires_at_cst"].endswith("+08:00")
    wrong = runner.invoke(
        root, ["identity", "login", *d, "--id", subject, "--audience", "SH"], input="wrong\n"
    )
    assert wrong.exit_code == 3, wrong.output
    logout = runner.invoke(
        root,
        ["identity", "logout", *d, "--session", out["session_id"], "--secret-env", "S"],
        env={"S": out["session_secret"]},
    )
    assert logout.exit_code == 0, logout.output
    assert json.loads(logout.stdout)["revoked_at_cst"].endswith("+08:00")
