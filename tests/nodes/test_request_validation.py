"""Malformed requests at a real node: precise INVALID_ARGUMENT, audited, and the node lives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest

from federation.storage import open_store
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.pb.v1 import case_pb2, identity_pb2, licence_pb2

IDENTITY = "/yrd.federation.v1.IdentityService/"
LICENCE = "/yrd.federation.v1.LicenceService/"
CASES = "/yrd.federation.v1.CaseService/"


def audit_since(fed_dir: Path, region: str, after: int) -> list[Any]:
    store = open_store(load_config(fed_dir / f"{region}.toml").store_url)
    try:
        return list(store.audit_entries(after))
    finally:
        store.close()


def audit_head(fed_dir: Path, region: str) -> int:
    store = open_store(load_config(fed_dir / f"{region}.toml").store_url)
    try:
        return store.audit_head()[0]
    finally:
        store.close()


def raw_unary(client: FederationClient, region: str, method: str, payload: bytes) -> grpc.RpcError:
    call = client.channel(region).unary_unary(method)  # no serializers: bytes on the wire
    with pytest.raises(grpc.RpcError) as info:
        call(payload, timeout=5)
    return info.value


def refused_with(fed_dir: Path, region: str, head: int, method: str, code: str) -> bool:
    return any(
        e.action == method and e.outcome == f"refused:{code}"
        for e in audit_since(fed_dir, region, head)
    )


@pytest.mark.parametrize(
    "method",
    [IDENTITY + "VerifyToken", LICENCE + "IssueLicence", CASES + "SubmitCase", CASES + "WatchCase"],
)
def test_undecodable_bytes_are_invalid_argument_and_audited(
    client: FederationClient, fed_dir: Path, method: str
) -> None:
    head = audit_head(fed_dir, "sh")
    if method.endswith("WatchCase"):
        call = client.channel("SH").unary_stream(method)
        with pytest.raises(grpc.RpcError) as info:
            list(call(b"\xff\xff\xff\xff", timeout=5))
        error: grpc.RpcError = info.value
    else:
        error = raw_unary(client, "SH", method, b"\xff\xff\xff\xff")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "not a valid protobuf message" in (error.details() or "")
    assert refused_with(fed_dir, "sh", head, method, "INVALID_ARGUMENT")
    assert client.health("SH") == "SERVING"


def test_deeply_nested_json_is_invalid_argument(client: FederationClient, fed_dir: Path) -> None:
    head = audit_head(fed_dir, "js")
    # past the parser's recursion limit, and parseable but deeper than any licence field
    for nested in ("[" * 100_000, '{"a": ' + "[" * 40 + "]" * 40 + "}"):
        request = licence_pb2.IssueLicenceRequest(
            request_id="nested", licence_type="driving_licence", fields_json=nested
        )
        error = raw_unary(client, "JS", LICENCE + "IssueLicence", request.SerializeToString())
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        assert "fields_json" in (error.details() or "")
    assert refused_with(fed_dir, "js", head, LICENCE + "IssueLicence", "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    ("method", "message"),
    [
        (
            IDENTITY + "RegisterSubject",
            identity_pb2.RegisterSubjectRequest(
                kind="natural", subject_id="3" * 1_000_000, name="x", password="y"
            ),
        ),
        (CASES + "GetCase", case_pb2.CaseRef(case_id="C32-" + "A" * 300_000, owner_region="JS")),
        (LICENCE + "GetLicence", licence_pb2.GetLicenceRequest(identifier="1.2\x00.3")),
    ],
    ids=["1MB-subject-id", "long-case-id", "nul-in-identifier"],
)
def test_oversized_or_nul_identifiers_are_invalid_argument(
    client: FederationClient, fed_dir: Path, method: str, message: Any
) -> None:
    head = audit_head(fed_dir, "js")
    error = raw_unary(client, "JS", method, message.SerializeToString())
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert refused_with(fed_dir, "js", head, method, "INVALID_ARGUMENT")

