"""Certificates as federations made them before node certificates named their entity in DNS."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from federation.crypto.pki import ENTITY_DNS_SUFFIX, TlsPrivateKey


def without_entity_dns(cert: x509.Certificate, ca_key: TlsPrivateKey) -> x509.Certificate:
    """`cert` re-signed by the CA with the same key and fields, minus its entity DNS SAN (the
    shape of every node certificate issued before `entity_dns_name` existed)."""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    kept = [
        name
        for name in san
        if not (isinstance(name, x509.DNSName) and name.value.endswith("." + ENTITY_DNS_SUFFIX))
    ]
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for ext in cert.extensions:
        if isinstance(ext.value, x509.SubjectAlternativeName):
            builder = builder.add_extension(x509.SubjectAlternativeName(kept), ext.critical)
        else:
            builder = builder.add_extension(ext.value, ext.critical)
    return builder.sign(ca_key, hashes.SHA256())
