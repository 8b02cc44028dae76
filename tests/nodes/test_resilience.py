"""Hub outages, key rotation, crash durability and the PostgreSQL store, on real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.regions import Region
from nodes.client import FederationClient
from nodes.ops.provisioning import Layout, rotate_keys
from nodes.ops.supervisor import Federation
from tests._support.nodes import eventually, make_federation, new_citizen
from tests._support.storage import drop_node_schemas

PASSWORD = "Lotus-pond-2024"


def test_regions_keep_serving_on_cached_trust_list_while_hub_is_down(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, fed = small_fed
    with FederationClient(directory) as client:
        subject = new_citizen()
        client.register("ZJ", "natural", subject, "Cache Test", PASSWORD)
        fed.stop_node(Region.HUB)
        login = client.login("ZJ", subject, PASSWORD, ["SH"])
        assert client.verify_token("SH", login.tokens[Region.SH.entity_id]).claims.sub == subject
        # a region restarted during the outage starts from its on-disk cache
        fed.stop_node(Region.SH)
        assert (Layout(directory).node_dir(Region.SH) / "trustlist-cache.jwt").exists()
        fed.start_node(Region.SH)
        token = client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
        assert client.verify_token("SH", token).claims.sub == subject


def test_rotated_key_signs_new_tokens_and_old_tokens_still_verify(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, _fed = small_fed
    with FederationClient(directory) as client:
        subject = new_citizen()
        client.register("ZJ", "natural", subject, "Rotation Test", PASSWORD)
        login = client.login("ZJ", subject, PASSWORD, ["SH"])
        old_token = client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
        new_jwk, trust_list = rotate_keys(directory, Region.ZJ)
        assert trust_list.version == 2

        def minted_with_new_key() -> str:
            token = client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
            import json

            from federation.crypto.jose import b64url_decode

            header = json.loads(b64url_decode(token.split(".")[0]))
            assert header["kid"] == new_jwk.kid
            return token

        new_token = eventually(minted_with_new_key, timeout_s=10.0)
        assert client.verify_token("SH", old_token).claims.sub == subject
        assert client.verify_token("SH", new_token).claims.sub == subject


def test_acknowledged_writes_survive_kill_9(small_fed: tuple[Path, Federation]) -> None:
    directory, fed = small_fed
    with FederationClient(directory) as client:
        subjects = [new_citizen() for _ in range(5)]
        for subject in subjects:
            client.register("ZJ", "natural", subject, "Durable", PASSWORD)
        fed.kill_node(Region.ZJ)
        fed.start_node(Region.ZJ)
        for subject in subjects:
            login = client.login("ZJ", subject, PASSWORD, ["SH"])
            assert login.session_id


@pytest.mark.postgres
def test_nodes_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """Every node in its own schema (prefix from the URL); writes survive kill -9."""
    prefix = postgres_url.rsplit("schema=", 1)[1]
    directory = make_federation(
        tmp_path / "federation", store="postgresql", postgres_url=postgres_url
    )
    try:
        with Federation(directory, regions=(Region.HUB, Region.ZJ, Region.SH)) as fed:
            assert "schema=" + prefix + "_zj" in (directory / "zj.toml").read_text()
            with FederationClient(directory) as client:
                subject = new_citizen()
                client.register("ZJ", "natural", subject, "PG Person", PASSWORD)
                fed.kill_node(Region.ZJ)
                fed.start_node(Region.ZJ)
                login = client.login("ZJ", subject, PASSWORD, ["SH"])
                claims = client.verify_token("SH", login.tokens[Region.SH.entity_id]).claims
                assert claims.sub == subject
    finally:
        drop_node_schemas(postgres_url, prefix)
