"""Mutual TLS only: foreign CAs, unlisted certificates, wrong roles, oversized messages."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from federation.crypto.pki import (
    cert_to_pem,
    create_root_ca,
    issue_node_certificate,
    key_to_pem,
    load_cert_pem,
    load_private_key_pem,
)
from federation.regions import Region
from federation.storage import open_store
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.ops.provisioning import Layout
from nodes.pb.v1 import diagnostics_pb2, diagnostics_pb2_grpc, hub_pb2, hub_pb2_grpc
from nodes.peering.targets import server_name_options


def _channel(
    client: FederationClient, region: str, ca: bytes, cert: bytes, key: bytes
) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    member = client.member(region)
    return grpc.secure_channel(member.endpoint, creds, server_name_options(member.entity_id))


def _echo(channel: grpc.Channel) -> bytes:
    stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(channel)
    return bytes(stub.Echo(diagnostics_pb2.EchoRequest(payload=b"hi"), timeout=5).payload)


def test_peer_from_another_ca_cannot_connect(client: FederationClient, fed_dir: Path) -> None:
    layout = Layout(fed_dir)
    other_key, other_ca = create_root_ca("Impostor Root")
    key, cert = issue_node_certificate(other_key, other_ca, "yrd:sh:310000", "310000")
    with _channel(
        client, "SH", layout.ca_cert.read_bytes(), cert_to_pem(cert), key_to_pem(key)
    ) as ch, pytest.raises(grpc.RpcError) as info:
        _echo(ch)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plaintext_client_cannot_connect(client: FederationClient) -> None:
    with grpc.insecure_channel(client.endpoint("SH")) as ch, pytest.raises(grpc.RpcError) as info:
        _echo(ch)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_chained_but_unlisted_certificate_is_refused_and_audited(
    client: FederationClient, fed_dir: Path
) -> None:
    layout = Layout(fed_dir)
    ca_key = load_private_key_pem(layout.ca_key.read_bytes())
    ca_cert = load_cert_pem(layout.ca_cert.read_bytes())
    key, cert = issue_node_certificate(ca_key, ca_cert, "yrd:rogue:999999", "999999")
    with _channel(
        client, "SH", layout.ca_cert.read_bytes(), cert_to_pem(cert), key_to_pem(key)
    ) as ch, pytest.raises(grpc.RpcError) as info:
        _echo(ch)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "not listed in the federation trust list" in (info.value.details() or "")
    store = open_store(load_config(layout.config(Region.SH)).store_url)
    try:
        entries = list(store.audit_entries())
    finally:
        store.close()
    refusals = [e for e in entries if e.actor == "yrd:rogue:999999"]
    assert refusals and refusals[-1].outcome == "refused:PERMISSION_DENIED"


def test_operator_may_not_spend_a_regions_face_quota(client: FederationClient) -> None:
    stub = hub_pb2_grpc.FaceServiceStub(client.channel("HUB"))
    with pytest.raises(grpc.RpcError) as info:
        stub.VerifyFace(hub_pb2.VerifyFaceRequest(subject_id="x", template=[1.0] * 64), timeout=5)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "needs one of: region" in (info.value.details() or "")


def test_oversized_message_is_refused_and_node_keeps_serving(client: FederationClient) -> None:
    stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(client.channel("SH"))
    with pytest.raises(grpc.RpcError) as info:
        stub.Echo(diagnostics_pb2.EchoRequest(payload=b"x" * (5 * 1024 * 1024)), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert client.echo("SH", b"still here") == b"still here"


def test_health_and_reflection(client: FederationClient) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    for region in Region:
        assert client.health(region) == "SERVING"
    assert client.health("SH", "yrd.federation.v1.IdentityService") == "SERVING"
    stub = reflection_pb2_grpc.ServerReflectionStub(client.channel("SH"))
    replies = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert "yrd.federation.v1.IdentityService" in names
    assert "grpc.health.v1.Health" in names
