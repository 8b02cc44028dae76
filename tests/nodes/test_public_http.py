"""The public HTTPS endpoint of region nodes, read by a plain client with no client certificate."""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import socket
import ssl
import zlib
from pathlib import Path

from grpc_reflection.v1alpha import reflection_pb2
from jwcrypto import jwk, jws

from federation.regions import Region
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.demo.licences import DRIVING_FIELDS
from nodes.ops.supervisor import Federation
from nodes.public import server_tls_context, status_list_path
from tests._support.nodes import eventually, new_citizen


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tls(directory: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(directory / "ca" / "root.crt"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _fetch(
    directory: Path, region: str, path: str, method: str = "GET", body: bytes | None = None
) -> http.client.HTTPResponse:
    config = load_config(directory / f"{region}.toml")
    assert config.public_port
    conn = http.client.HTTPSConnection(
        config.host, config.public_port, context=_tls(directory), timeout=5
    )
    conn.request(method, path, body=body)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def _statuses(lst: str, bits: int) -> list[int]:
    """An independent Token Status List decoder: zlib, then `bits`-bit entries, LSB first."""
    data = zlib.decompress(_b64(lst))
    per_byte, mask = 8 // bits, (1 << bits) - 1
    return [(byte >> (i * bits)) & mask for byte in data for i in range(per_byte)]


def _sealed_status(sd_jwt: str) -> dict[str, object]:
    payload = json.loads(_b64(sd_jwt.split("~", 1)[0].split(".")[1]))
    status = payload["status"]["status_list"]
    assert isinstance(status, dict)
    return status


def test_jwks_metadata_and_signed_status_list_for_anyone(
    shared_small_fed: tuple[Path, Federation],
) -> None:
    directory, _ = shared_small_fed
    with FederationClient(directory) as client:
        holder = new_citizen()
        kept = client.issue_licence(
            "ZJ", secrets.token_hex(6), "driving_licence", holder, "测试人", DRIVING_FIELDS
        )
        gone = client.issue_licence(
            "ZJ", secrets.token_hex(6), "driving_licence", holder, "测试人", DRIVING_FIELDS
        )
        client.change_licence_status("ZJ", gone.identifier, "revoke", "withdrawn")
        member = client.trust_list.member(Region.ZJ.entity_id)

    keys = _fetch(directory, "zj", "/.well-known/jwks.json")
    assert keys.status == 200 and keys.getheader("Content-Type") == "application/jwk-set+json"
    key_set = jwk.JWKSet.from_json(keys.body)  # type: ignore[attr-defined]
    kids = {k["kid"] for k in json.loads(keys.body)["keys"]}  # type: ignore[attr-defined]
    assert kids == {k.kid for k in (*member.signing_keys, *member.seal_keys)}
    assert member.seal_keys and member.seal_keys[0].kid in kids

    meta = _fetch(directory, "zj", "/.well-known/jwt-vc-issuer")
    config = load_config(directory / "zj.toml")
    document = json.loads(meta.body)  # type: ignore[attr-defined]
    assert document["issuer"] == f"https://{config.host}:{config.public_port}"
    assert document["jwks"] == json.loads(keys.body)  # type: ignore[attr-defined]

    reference = _sealed_status(gone.sd_jwt)
    path = status_list_path(str(reference["uri"]))
    assert path == "/status/330000/1"

    def revoked_bit_visible() -> tuple[dict[str, object], dict[str, object]]:
        listing = _fetch(directory, "zj", path)
        assert listing.status == 200
        assert listing.getheader("Content-Type") == "application/statuslist+jwt"
        token = jws.JWS()
        token.deserialize(listing.body.decode())  # type: ignore[attr-defined]
        header = token.jose_header
        token.verify(key_set.get_key(header["kid"]), alg="EdDSA")
        claims = json.loads(token.payload)
        statuses = _statuses(claims["status_list"]["lst"], claims["status_list"]["bits"])
        assert statuses[int(reference["idx"])] == 1  # type: ignore[call-overload]
        return header, claims

    header, claims = eventually(revoked_bit_visible, timeout_s=8.0, pause_s=0.5)
    assert header["typ"] == "statuslist+jwt"
    assert claims["sub"] == reference["uri"]
    assert claims["exp"] > claims["iat"] and claims["ttl"] > 0
    statuses = _statuses(claims["status_list"]["lst"], claims["status_list"]["bits"])
    assert statuses[int(_sealed_status(kept.sd_jwt)["idx"])] == 0  # type: ignore[call-overload]

    head = _fetch(directory, "zj", path, method="HEAD")
    assert head.status == 200 and head.body == b""  # type: ignore[attr-defined]
    assert int(head.getheader("Content-Length") or 0) > 0


def test_only_read_only_known_paths_are_served(shared_small_fed: tuple[Path, Federation]) -> None:
    directory, _ = shared_small_fed
    for path in ("/", "/.well-known/", "/status/", "/status/310000/1", "/../zj/tls.key", "/x"):
        assert _fetch(directory, "zj", path).status == 404, path
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        refused = _fetch(directory, "zj", "/.well-known/jwks.json", method=method)
        assert refused.status == 405 and refused.getheader("Allow") == "GET, HEAD"
    config = load_config(directory / "zj.toml")
    assert config.public_port
    with (
        socket.create_connection((config.host, config.public_port), timeout=5) as raw,
        _tls(directory).wrap_socket(raw, server_hostname=config.host) as tls,
    ):
        tls.sendall(b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n")
        assert tls.recv(64).startswith(b"HTTP/1.1 431")
    assert load_config(directory / "hub.toml").public_port is None


def test_tls_is_1_2_or_newer_and_asks_no_client_certificate(
    shared_small_fed: tuple[Path, Federation],
) -> None:
    directory, _ = shared_small_fed
    config = load_config(directory / "sh.toml")
    context = server_tls_context(config.tls_cert, config.tls_key)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.verify_mode is ssl.CERT_NONE
    assert config.public_port
    with (
        socket.create_connection((config.host, config.public_port), timeout=5) as raw,
        _tls(directory).wrap_socket(raw, server_hostname=config.host) as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_reflection_v1_and_v1alpha_list_the_services(
    shared_small_fed: tuple[Path, Federation],
) -> None:
    directory, _ = shared_small_fed
    with FederationClient(directory) as client:
        channel = client.channel("SH")
        expected = {
            "grpc.health.v1.Health",
            "yrd.federation.v1.LicenceService",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        }
        for method in (
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ):
            call = channel.stream_stream(
                method,
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
            )
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            (reply,) = list(call(iter([request]), timeout=5))
            names = {s.name for s in reply.list_services_response.service}
            assert expected <= names, (method, names)
            for symbol in (
                "yrd.federation.v1.LicenceService",
                "grpc.reflection.v1.ServerReflection",
            ):
                request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
                (reply,) = list(call(iter([request]), timeout=5))
                assert reply.file_descriptor_response.file_descriptor_proto, (method, symbol)
