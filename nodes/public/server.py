"""A minimal read-only HTTPS server on the node's event loop (no client certificate asked).

It answers GET and HEAD for a fixed set of paths and nothing else: no directory listing, no
request bodies, a bounded request head and a bounded number of connections. Documents are built
on a small thread pool, so a slow store never stalls the loop the gRPC server shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from federation.crypto.jose import Jwk
from federation.trust.trustlist import Member
from nodes.public.documents import (
    AUTHORITIES_PATH,
    JWKS_PATH,
    STATUS_LIST_MEDIA_TYPE,
    VC_ISSUER_PATH,
    authority_issuer,
    authority_metadata,
    issuer_metadata,
    region_jwks,
    status_list_path,
)

log = logging.getLogger("yrd.public")

MAX_HEAD_BYTES = 8 * 1024
MAX_CONNECTIONS = 128
READ_TIMEOUT_S = 10.0
WRITE_TIMEOUT_S = 10.0
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class PublicDocuments:
    """Where the served documents come from (each call may block: it runs off the loop)."""

    member: Callable[[], Member]
    status_uri: str
    signed_status_list: Callable[[], str]
    status_max_age_s: int
    # credit code -> the seal key(s) of that issuing authority; empty for an unknown code
    authority_seal_keys: Callable[[str], Sequence[Jwk]] = lambda _code: ()
    # the public base its licences name (`iss`, status uri), as the trust list lists it;
    # "" means the bound address
    public_url: Callable[[], str] = lambda: ""


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    max_age: int = 0


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The node's own server certificate, TLS 1.2 or newer, no client certificate requested."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(cert, key)
    return context


class PublicServer:
    """Serve the JWKS, SD-JWT VC issuer metadata and signed status list of one region."""

    def __init__(
        self,
        documents: PublicDocuments,
        host: str,
        port: int,
        tls: ssl.SSLContext,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.documents = documents
        self.read_timeout_s = read_timeout_s
        self.host = host
        self.requested_port = port
        self.port = 0
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._builders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="public-http")
        self._status_path = status_list_path(documents.status_uri)

    @property
    def base_url(self) -> str:
        return self.documents.public_url() or f"https://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle,
            self.host,
            self.requested_port,
            ssl=self._tls,
            limit=MAX_HEAD_BYTES,
            ssl_handshake_timeout=self.read_timeout_s,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("public HTTPS on %s", self.base_url)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # newer Pythons wait for open connections here; each is bounded by its timeouts,
            # but a stopping node should not wait for a slow reader
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        # a document being built may read the store, which the node closes next: drop the
        # queued builds and let the running ones finish (each is one short read)
        self._builders.shutdown(wait=False, cancel_futures=True)
        await asyncio.get_running_loop().run_in_executor(None, self._builders.shutdown, True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._slots.locked():
            writer.close()  # at capacity: drop rather than queue without bound
            return
        async with self._slots:
            try:
                response, head_only = await self._answer(reader)
                await asyncio.wait_for(self._write(writer, response, head_only), WRITE_TIMEOUT_S)
            except (TimeoutError, OSError, ssl.SSLError):
                pass
            finally:
                writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[_Response, bool]:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.read_timeout_s)
        except asyncio.LimitOverrunError:
            return _Response(431, b"request head too large\n"), False
        except TimeoutError:
            return _Response(408, b"request timeout\n"), False
        except asyncio.IncompleteReadError:
            return _Response(400, b"incomplete request\n"), False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _Response(400, b"bad request line\n"), False
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            return _Response(405, b"read-only: GET or HEAD\n"), False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip() not in ("", "0"):
                return _Response(413, b"requests carry no body\n"), False
        path = target.split("?", 1)[0]
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._builders, self._document, path)
        except Exception:
            log.exception("public document %s failed", path)
            response = _Response(503, b"temporarily unavailable\n")
        return response, method == "HEAD"

    def _document(self, path: str) -> _Response:
        docs = self.documents
        if path == JWKS_PATH:
            return _json(region_jwks(docs.member()), "application/jwk-set+json")
        if path == VC_ISSUER_PATH:
            return _json(issuer_metadata(self.base_url, docs.member()), "application/json")
        if path == self._status_path:
            token = docs.signed_status_list().encode("ascii")
            return _Response(200, token, STATUS_LIST_MEDIA_TYPE, docs.status_max_age_s)
        if path.startswith(VC_ISSUER_PATH + AUTHORITIES_PATH):
            # an authority's metadata sits at /.well-known/jwt-vc-issuer + its `iss` path
            code = path[len(VC_ISSUER_PATH + AUTHORITIES_PATH) :]
            keys = docs.authority_seal_keys(code) if code.isalnum() else ()
            if keys:
                issuer = authority_issuer(self.base_url, code)
                return _json(authority_metadata(issuer, keys), "application/json")
        return _Response(404, b"not found\n")

    async def _write(self, writer: asyncio.StreamWriter, response: _Response, head: bool) -> None:
        headers = [
            f"HTTP/1.1 {response.status} {_REASONS[response.status]}",
            f"Date: {formatdate(usegmt=True)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Connection: close",
            "X-Content-Type-Options: nosniff",
            "Access-Control-Allow-Origin: *",
            f"Cache-Control: {f'max-age={response.max_age}' if response.max_age else 'no-cache'}",
        ]
        if response.status == 405:
            headers.append("Allow: GET, HEAD")
        writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1"))
        if not head:
            writer.write(response.body)
        await writer.drain()


def _json(document: object, content_type: str) -> _Response:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _Response(200, body, content_type, 60)


__all__ = ["MAX_HEAD_BYTES", "PublicDocuments", "PublicServer", "server_tls_context"]
