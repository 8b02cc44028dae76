"""`yrd federation init --force`: a used directory becomes a fresh federation that starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from federation.errors import FailedPrecondition, NotFound, Unauthenticated
from federation.regions import Region
from nodes.cli import root
from nodes.client import FederationClient
from nodes.ops.federation_dir import made_by_init
from nodes.ops.provisioning import Layout, init_federation, read_trust_list
from nodes.ops.supervisor import Federation
from tests._support.nodes import new_citizen

PASSWORD = "Lotus-pond-2024"


def _init(directory: Path, *extra: str) -> tuple[int, str]:
    args = ["federation", "init", "--dir", str(directory), "--base-port", "0"]
    result = CliRunner().invoke(root, [*args, "--password-cost", "10", *extra])
    return result.exit_code, result.output


def test_force_refuses_a_directory_that_holds_no_federation(tmp_path: Path) -> None:
    precious = tmp_path / "thesis"
    (precious / "chapters").mkdir(parents=True)
    (precious / "chapters" / "one.md").write_text("years of work")
    (precious / "ca").mkdir()  # even with names init would use
    (precious / "ca" / "root.crt").write_text("mine")
    code, output = _init(precious, "--force")
    assert code == 7, output  # FAILED_PRECONDITION
    assert "holds no federation" in output
    assert (precious / "chapters" / "one.md").read_text() == "years of work"
    assert (precious / "ca" / "root.crt").read_text() == "mine"
    assert sorted(p.name for p in precious.iterdir()) == ["ca", "chapters"]


def test_force_replaces_only_what_init_made(tmp_path: Path) -> None:
    directory = tmp_path / "fed"
    init_federation(directory, base_port=0, password_cost_log2=10)
    old = read_trust_list(Layout(directory))
    (directory / "NOTES.txt").write_text("keep me")
    (directory / "sh" / "node.sqlite3").write_text("old store")
    (directory / "sh" / "signing" / "old-kid.key").write_text("old key")
    (directory / "zj" / "catalogue-cache.jwt").write_text("old catalogue")
    (directory / "hub" / "catalogue.jwt").write_text("old hub catalogue")
    assert _init(directory, "--force")[0] == 0
    new = read_trust_list(Layout(directory))
    assert new.root_ca_fingerprint != old.root_ca_fingerprint
    assert (directory / "NOTES.txt").read_text() == "keep me"
    for stale in ("sh/node.sqlite3", "sh/signing/old-kid.key", "zj/catalogue-cache.jwt"):
        assert not (directory / stale).exists(), stale
    assert not (directory / "hub" / "catalogue.jwt").exists()
    assert all(p.exists() for p in made_by_init(Layout(directory)))


def test_force_over_a_used_federation_starts_fresh(tmp_path: Path) -> None:
    directory = tmp_path / "fed"
    assert _init(directory)[0] == 0
    subject = new_citizen()
    with Federation(directory), FederationClient(directory) as client:
        client.register("ZJ", "natural", subject, "旧人", PASSWORD)
        assert client.login("ZJ", subject, PASSWORD, ["SH"]).session_id
        with pytest.raises(FailedPrecondition, match="still runs"):
            init_federation(directory, base_port=0, password_cost_log2=10, force=True)
    code, output = _init(directory, "--force")
    assert code == 0, output
    assert json.loads(output)["trust_list_version"] == 1
    with Federation(directory) as fed, FederationClient(directory) as client:
        assert set(fed.procs) == set(Region)
        for region in Region:
            assert client.health(region) == "SERVING", region
        with pytest.raises((NotFound, Unauthenticated)):
            client.login("ZJ", subject, PASSWORD, ["SH"])
        again = client.register("ZJ", "natural", subject, "新人", PASSWORD)
        assert again.subject_id == subject
        login = client.login("ZJ", subject, PASSWORD, ["SH"])
        assert client.verify_token("SH", login.tokens[Region.SH.entity_id]).claims.sub == subject


@pytest.mark.postgres
def test_force_over_a_postgresql_federation_drops_only_its_node_schemas(
    tmp_path: Path, postgres_url: str
) -> None:
    import psycopg

    prefix = postgres_url.rsplit("schema=", 1)[1]
    base = postgres_url.split("?")[0]
    directory = tmp_path / "fed"
    regions = (Region.HUB, Region.ZJ, Region.SH)
    options = {"base_port": 0, "password_cost_log2": 10, "store": "postgresql"}
    init_federation(directory, postgres_url=postgres_url, **options)  # type: ignore[arg-type]
    subject = new_citizen()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {prefix}_js")  # named like a node's, but no node store
        conn.execute(f"CREATE TABLE {prefix}_js.mine (x int)")
    try:
        with Federation(directory, regions=regions), FederationClient(directory) as client:
            client.register("ZJ", "natural", subject, "旧人", PASSWORD)
        init_federation(directory, postgres_url=postgres_url, force=True, **options)  # type: ignore[arg-type]
        with Federation(directory, regions=regions), FederationClient(directory) as client:
            with pytest.raises((NotFound, Unauthenticated)):
                client.login("ZJ", subject, PASSWORD, ["SH"])
            assert client.register("ZJ", "natural", subject, "新人", PASSWORD).subject_id
        with psycopg.connect(base, autocommit=True) as conn:
            kept = conn.execute(f"SELECT count(*) FROM {prefix}_js.mine").fetchone()
        assert kept == (0,)
    finally:
        from tests._support.storage import drop_node_schemas

        drop_node_schemas(postgres_url, prefix)
