"""Which certificate a running node presents: checked before its outgoing one is unlisted."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from cryptography import x509

from federation.crypto.pki import entity_dns_name, fingerprint_sha256
from federation.errors import FailedPrecondition


def presented_fingerprint(
    address: str,
    entity_id: str,
    ca_cert: Path,
    client: tuple[Path, Path],
    timeout_s: float = 3.0,
) -> str | None:
    """The SHA-256 fingerprint of the certificate the node at `address` (`host:port`) presents.

    A mutual-TLS handshake as the gRPC clients make it (the CA's chain, the client certificate
    and key `client`, ALPN h2), and nothing else: no call is made. None when nothing listens
    there (the node is not running); a handshake that fails raises FailedPrecondition, as what
    answers cannot be told.
    """
    host, _, port = address.strip().rpartition(":")
    host = host.strip("[]")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
    # only the CA chain is checked here: the certificate is compared by fingerprint after
    context.check_hostname = False
    context.load_cert_chain(str(client[0]), str(client[1]))
    context.set_alpn_protocols(["h2"])
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout_s)
    except (OSError, ValueError):
        return None
    try:
        with context.wrap_socket(sock, server_hostname=entity_dns_name(entity_id)) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise FailedPrecondition(
            f"the node at {address} ({entity_id}) answers but the TLS handshake failed ({exc}),"
            f" so which certificate it presents cannot be told"
        ) from None
    finally:
        sock.close()
    if der is None:
        raise FailedPrecondition(f"the node at {address} ({entity_id}) presented no certificate")
    return fingerprint_sha256(x509.load_der_x509_certificate(der))
