"""`yrd lab`: help on every command, the topology printed, bad input as a JSON error."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nodes.cli import root


def test_every_lab_command_has_help() -> None:
    runner = CliRunner()
    for args in (["lab"], ["lab", "up"], ["lab", "run"], ["lab", "topology"]):
        result = runner.invoke(root, [*args, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_the_default_topology_prints_twenty_directed_links() -> None:
    result = CliRunner().invoke(root, ["lab", "topology"])
    assert result.exit_code == 0
    body = json.loads(result.output)
    assert body["name"] == "yrd-default" and len(body["links"]) == 20


def test_a_missing_or_bad_scenario_is_a_json_error(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(root, ["lab", "run", str(tmp_path / "nope.toml")])
    assert missing.exit_code != 0
    error = json.loads(missing.stderr)
    assert error["error"] == "INVALID_ARGUMENT" and "not found" in error["message"]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "x"\nduration_s = 5\n[load]\naggregation = 1\n[[fault]]\n'
        'kind = "freeze"\nregion = "JS"\nat_s = 1\n',
        encoding="utf-8",
    )
    result = runner.invoke(root, ["lab", "run", str(bad), "--dir", str(tmp_path / "lab")])
    assert result.exit_code != 0 and "needs `duration_s`" in json.loads(result.stderr)["message"]
    assert not (tmp_path / "lab").exists()  # refused before anything was created
