"""The public HTTPS server alone (no node): paths, methods, bounds and the status path mapping."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from federation.crypto.jose import SigningKey
from federation.crypto.pki import cert_to_pem, create_root_ca, issue_node_certificate, key_to_pem
from federation.errors import InvalidArgument
from federation.regions import Region
from federation.trust.trustlist import Member
from nodes.public import PublicDocuments, PublicServer, server_tls_context, status_list_path

TOKEN = "eyJ0eXAiOiJzdGF0dXNsaXN0K2p3dCJ9.e30.sig"
SEAL = SigningKey.generate()
AUTHORITY = "11310000MB0000001X"


def _member() -> Member:
    return Member(
        entity_id=Region.SH.entity_id,
        region_code=Region.SH.code,
        name="Shanghai",
        roles=("region",),
        endpoint="127.0.0.1:1",
        tls_fingerprints=("00",),
        signing_keys=(SigningKey.generate().jwk,),
        seal_keys=(SigningKey.generate().jwk,),
    )


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    ca_key, ca_cert = create_root_ca()
    key, cert = issue_node_certificate(ca_key, ca_cert, Region.SH.entity_id, Region.SH.code)
    paths = (directory / "ca.crt", directory / "tls.crt", directory / "tls.key")
    paths[0].write_bytes(cert_to_pem(ca_cert))
    paths[1].write_bytes(cert_to_pem(cert))
    paths[2].write_bytes(key_to_pem(key))
    return paths


Exchange = Callable[[bytes], Coroutine[Any, Any, bytes]]


def _run(
    tls_files: tuple[Path, Path, Path], body: Callable[[Exchange], Coroutine[Any, Any, None]]
) -> None:
    ca, cert, key = tls_files
    member = _member()
    docs = PublicDocuments(
        lambda: member,
        "https://127.0.0.1:1/status/310000/1",
        lambda: TOKEN,
        7,
        lambda code: (SEAL.jwk,) if code == AUTHORITY else (),
        lambda: "https://sh.yrd.example",
    )

    async def main() -> None:
        server = PublicServer(docs, "127.0.0.1", 0, server_tls_context(cert, key), 0.5)
        await server.start()
        client = ssl.create_default_context(cafile=str(ca))

        async def exchange(raw: bytes) -> bytes:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.port, ssl=client, server_hostname="127.0.0.1"
            )
            if raw:
                writer.write(raw)
                await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            return answer

        try:
            await body(exchange)
        finally:
            await server.stop()

    asyncio.run(main())


def _split(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


def test_documents_and_refusals(tls_files: tuple[Path, Path, Path]) -> None:
    async def body(exchange: Exchange) -> None:
        status, headers, content = _split(await exchange(b"GET /status/310000/1 HTTP/1.1\r\n\r\n"))
        assert status == 200 and content == TOKEN.encode()
        assert headers["content-type"] == "application/statuslist+jwt"
        assert headers["cache-control"] == "max-age=7"
        status, _, content = _split(
            await exchange(b"GET /.well-known/jwks.json?x=1 HTTP/1.0\r\n\r\n")
        )
        assert status == 200 and len(json.loads(content)["keys"]) == 2
        status, _, content = _split(
            await exchange(b"GET /.well-known/jwt-vc-issuer HTTP/1.1\r\n\r\n")
        )
        assert status == 200 and json.loads(content)["issuer"] == "https://sh.yrd.example"
        # an authority's metadata: /.well-known/jwt-vc-issuer + the path of its `iss`
        path = f"/.well-known/jwt-vc-issuer/authorities/{AUTHORITY}"
        status, _, content = _split(await exchange(f"GET {path} HTTP/1.1\r\n\r\n".encode()))
        assert status == 200 and json.loads(content) == {
            "issuer": f"https://sh.yrd.example/authorities/{AUTHORITY}",
            "jwks": {"keys": [SEAL.jwk.to_dict()]},
        }
        cases = {
            b"GET /.well-known/jwt-vc-issuer/authorities/11310000MB0000002X HTTP/1.1\r\n\r\n": 404,
            b"GET /.well-known/jwt-vc-issuer/authorities/../jwks.json HTTP/1.1\r\n\r\n": 404,
            b"GET /.well-known/jwt-vc-issuer/authorities/ HTTP/1.1\r\n\r\n": 404,
            b"GET /status/310000/2 HTTP/1.1\r\n\r\n": 404,
            b"GET /.well-known HTTP/1.1\r\n\r\n": 404,
            b"POST /status/310000/1 HTTP/1.1\r\n\r\n": 405,
            b"GET /.well-known/jwks.json HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello": 413,
            b"NONSENSE\r\n\r\n": 400,
            b"GET / HTTP/1.1\r\nX: " + b"y" * 9000 + b"\r\n\r\n": 431,
            b"GET / HTTP/1.1\r\n": 408,  # the head never ends: bounded by the read timeout
            b"": 408,
        }
        for request, expected in cases.items():
            status, headers, _ = _split(await exchange(request))
            assert status == expected, request[:40]
            assert headers["connection"] == "close"

    _run(tls_files, body)


def test_status_list_path_is_derived_from_the_uri() -> None:
    assert status_list_path("yrd:status:330000:1") == "/status/330000/1"
    assert status_list_path("https://zj.example:8443/status/330000/1") == "/status/330000/1"
    for bad in ("yrd:status:33/0000:1", "https://x/status", "yrd:status:330000", "yrd:x:1:2"):
        with pytest.raises(InvalidArgument):
            status_list_path(bad)


def test_stop_waits_for_a_document_being_built(tls_files: tuple[Path, Path, Path]) -> None:
    """The node closes its store right after the public server stops: a build still reading
    it must have finished by then (queued ones are dropped)."""
    ca, cert, key = tls_files
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def status_list() -> str:
        started.set()
        release.wait(10)
        finished.set()
        return TOKEN

    member = _member()
    docs = PublicDocuments(
        lambda: member, "https://127.0.0.1:1/status/310000/1", status_list, 7, lambda c: ()
    )

    async def main() -> None:
        server = PublicServer(docs, "127.0.0.1", 0, server_tls_context(cert, key), 5.0)
        await server.start()
        client = ssl.create_default_context(cafile=str(ca))
        _, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=client, server_hostname="127.0.0.1"
        )
        writer.write(b"GET /status/310000/1 HTTP/1.1\r\n\r\n")
        await writer.drain()
        assert await asyncio.to_thread(started.wait, 10)
        stopping = asyncio.ensure_future(server.stop())
        for _ in range(20):  # the build is held: stop cannot have returned
            await asyncio.sleep(0)
        assert not stopping.done()
        release.set()
        await asyncio.wait_for(stopping, 10)
        assert finished.is_set()
        writer.close()

    asyncio.run(main())
