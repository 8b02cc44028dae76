"""Clients check WHICH member answers: a node certificate names its entity in a DNS SAN and
every channel to a member checks that name, so another member answering at its address (a
redirected connection, a port given twice) is refused at the TLS handshake."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from federation.crypto.pki import (
    cert_to_pem,
    create_root_ca,
    issue_node_certificate,
    key_to_pem,
    load_cert_pem,
    load_private_key_pem,
)
from federation.regions import Region
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.errors import WrongPeer, error_from_rpc
from nodes.ops.provisioning import Layout, read_trust_list, write_trust_list
from nodes.ops.supervisor import Federation
from nodes.peering.channels import secure_channel
from nodes.tls import TlsMaterial
from tests._support.certs import without_entity_dns
from tests._support.nodes import eventually, make_federation

# how gRPC words a server certificate lacking the checked name (see nodes.errors)
WRONG_SERVER = ("Hostname Verification Check failed", "is not in peer certificate")


@dataclass(frozen=True)
class Redirected:
    """Hub and Shanghai running; the trust list (version `version`) gives ZJ the hub's address."""

    directory: Path
    fed: Federation
    version: int


@pytest.fixture(scope="module")
def redirected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redirected]:
    directory = make_federation(tmp_path_factory.mktemp("srvid") / "f")
    layout = Layout(directory)
    with Federation(directory, regions=(Region.HUB, Region.SH)) as fed:
        trust = read_trust_list(layout)
        hub = trust.member(Region.HUB.entity_id)
        zj = replace(trust.member(Region.ZJ.entity_id), endpoint=hub.endpoint)
        moved = replace(trust.with_member(zj), version=trust.version + 1)
        write_trust_list(layout, moved)  # the hub re-reads it; Shanghai fetches it from the hub
        yield Redirected(directory, fed, moved.version)


def test_a_client_dialling_zj_at_the_hubs_address_is_refused_at_tls(
    redirected: Redirected,
) -> None:
    with FederationClient(redirected.directory) as client:
        assert client.endpoint("ZJ") == client.endpoint("HUB")
        assert client.health("HUB") == "SERVING"  # the same address, dialled as the hub
        with pytest.raises(WrongPeer, match="not the member dialled") as refused:
            client.health("ZJ")
        assert "yrd federation init" in str(refused.value)
        # on the wire: UNAVAILABLE at the handshake, before any call reached the hub
        stub = health_pb2_grpc.HealthStub(client.channel("ZJ"))
        with pytest.raises(grpc.RpcError) as raw:
            stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert raw.value.code() is grpc.StatusCode.UNAVAILABLE
    assert any(words in (raw.value.details() or "") for words in WRONG_SERVER)


def test_a_node_calling_a_peer_answered_by_another_member_is_refused(
    redirected: Redirected,
) -> None:
    with FederationClient(redirected.directory) as client:
        eventually(
            lambda: _holds(client, Region.SH, redirected.version), timeout_s=20.0, pause_s=0.2
        )
        # Shanghai echoes every peer over its own peer channels, at the trust list's addresses
        status = client.status("SH", probe_peers=True, peer_timeout_s=5.0)
    peers = {p.entity_id: p for p in status.peers}
    hub, zj = peers[Region.HUB.entity_id], peers[Region.ZJ.entity_id]
    assert hub.endpoint == zj.endpoint
    assert hub.reachable  # the hub at its own address answers as the hub
    assert not zj.reachable  # ... and is refused when Shanghai wants ZJ there
    assert zj.error.startswith("UNAVAILABLE")
    assert any(words in zj.error for words in WRONG_SERVER), zj.error


def test_a_node_fetching_the_trust_list_from_another_member_than_the_hub_is_refused(
    redirected: Redirected,
) -> None:
    """Jiangsu's `hub_endpoint` pointed at Shanghai: its trust-list refresh reaches Shanghai, and
    the handshake refuses it for not being the hub (Jiangsu keeps serving on its cached list)."""
    layout = Layout(redirected.directory)
    redirected.fed.start_node(Region.JS)  # a first start fetches the list and caches it
    redirected.fed.stop_node(Region.JS)
    config = layout.config(Region.JS)
    sh = load_config(layout.config(Region.SH)).endpoint
    lines = [
        f'hub_endpoint = "{sh}"' if line.startswith("hub_endpoint =") else line
        for line in config.read_text().splitlines()
    ]
    config.write_text("\n".join(lines) + "\n")
    redirected.fed.start_node(Region.JS)
    with FederationClient(redirected.directory) as client:
        error = eventually(lambda: _refresh_error(client, Region.JS), timeout_s=20.0, pause_s=0.2)
    assert any(words in error for words in WRONG_SERVER), error


def _refresh_error(client: FederationClient, region: Region) -> str:
    error = client.status(region, probe_peers=False).trust_list_refresh_error
    if not error:
        raise AssertionError(f"{region.short} has not failed a trust-list refresh yet")
    return error


def test_a_node_refuses_to_start_with_a_certificate_that_does_not_name_it(
    redirected: Redirected,
) -> None:
    layout = Layout(redirected.directory)
    cert_path = layout.node_dir(Region.AH) / "tls.crt"
    ca_key = load_private_key_pem(layout.ca_key.read_bytes())
    legacy = without_entity_dns(load_cert_pem(cert_path.read_bytes()), ca_key)
    cert_path.write_bytes(cert_to_pem(legacy))  # as issued before the entity DNS SAN
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nodes.cli",
            "node",
            "serve",
            "--config",
            str(layout.config(Region.AH)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "FAILED_PRECONDITION" in out
    assert "does not name this node's entity yrd:ah:340000" in out
    assert "yrd federation reissue-tls --dir DIR" in out


def _holds(client: FederationClient, region: Region, version: int) -> None:
    held = client.status(region, probe_peers=False).trust_list_version
    if held < version:
        raise AssertionError(f"{region.short} holds trust list {held}, not yet {version}")


@pytest.fixture(scope="module")
def hostless() -> Iterator[tuple[TlsMaterial, int]]:
    """A real mTLS server whose certificate names ZJ but no host at all (no localhost, no IP)."""
    ca_key, ca_cert = create_root_ca()
    key, cert = issue_node_certificate(ca_key, ca_cert, Region.ZJ.entity_id, "330000", hosts=())
    op_key, op_cert = issue_node_certificate(
        ca_key, ca_cert, "yrd:operator:100000", "100000", server=False
    )
    ca = cert_to_pem(ca_cert)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_secure_port(
        "127.0.0.1:0", TlsMaterial(ca, cert_to_pem(cert), key_to_pem(key)).server_credentials()
    )
    server.start()
    try:
        yield TlsMaterial(ca, cert_to_pem(op_cert), key_to_pem(op_key)), port
    finally:
        server.stop(None)


def test_the_member_is_checked_not_the_host(hostless: tuple[TlsMaterial, int]) -> None:
    """Replicas of a region share its certificate: their hosts need not be in it."""
    client, port = hostless
    creds = client.channel_credentials()
    endpoint = f"127.0.0.1:{port}"
    for target in (endpoint, f"{endpoint},{endpoint}"):  # one address, and a replica list
        with secure_channel(target, creds, Region.ZJ.entity_id) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with (
        secure_channel(endpoint, creds, Region.JS.entity_id) as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    error = error_from_rpc(refused.value, "health check at JS")
    assert isinstance(error, WrongPeer)
    assert "not the member dialled" in str(error)
