"""Mutual TLS for nodes and clients, and the peer identity read from the verified certificate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from federation.crypto.pki import entity_dns_name, entity_id_of, load_cert_pem, names_entity_dns
from federation.errors import FailedPrecondition

REISSUE_HINT = (
    "re-issue the federation's TLS certificates from its own CA, keeping its keys and stores:"
    " run `yrd federation reissue-tls --dir DIR` on the federation directory (the one holding"
    " ca/root.key), copy each node its new tls.crt and tls.key if it runs elsewhere, and restart"
    " the nodes, the hub first (only as a last resort, without the CA key,"
    " `yrd federation init --dir DIR --force` replaces the whole federation: CA, keys, stores)"
)


@dataclass(frozen=True)
class TlsMaterial:
    """PEM bytes of the federation root, and of one certificate with its key."""

    ca_cert: bytes
    cert: bytes
    key: bytes

    @classmethod
    def load(cls, ca_cert: Path, cert: Path, key: Path) -> TlsMaterial:
        return cls(ca_cert.read_bytes(), cert.read_bytes(), key.read_bytes())

    def server_credentials(self) -> grpc.ServerCredentials:
        # require_client_auth: a peer without a certificate chaining to the root never connects
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)], root_certificates=self.ca_cert, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_cert, private_key=self.key, certificate_chain=self.cert
        )


def check_server_identity(cert_pem: bytes, entity_id: str, where: Path | str) -> None:
    """Refuse to serve as `entity_id` with a certificate that does not name it.

    Clients check the server's certificate carries `entity_dns_name(entity_id)`; one issued
    before they did lacks it, and every call to this node would fail at the handshake.
    """
    if not names_entity_dns(load_cert_pem(cert_pem), entity_id):
        raise FailedPrecondition(
            f"TLS certificate {where} does not name this node's entity {entity_id} (DNS name"
            f" {entity_dns_name(entity_id)} missing; it predates member-checked TLS), so every"
            f" client would refuse this node: {REISSUE_HINT}"
        )


@dataclass(frozen=True)
class Peer:
    """Who is calling, from the client certificate the TLS handshake verified."""

    fingerprint: str
    entity_id: str

    @property
    def label(self) -> str:
        return self.entity_id or f"sha256:{self.fingerprint[:16]}"


def peer_of(context: grpc.ServicerContext) -> Peer | None:
    pems = context.auth_context().get("x509_pem_cert")
    if not pems:
        return None
    pem = pems[0]
    cert = x509.load_pem_x509_certificate(pem)
    der_fp = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    return Peer(fingerprint=der_fp, entity_id=entity_id_of(cert) or "")
