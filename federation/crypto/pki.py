"""X.509 for federation mutual TLS: the root CA, node certificates, PEM files and chain checks."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import pathlib
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from federation.clock import Clock, SystemClock
from federation.errors import InvalidArgument, Unauthenticated

# TLS keys are ECDSA P-256: every gRPC TLS stack (BoringSSL, OpenSSL) accepts them, whereas
# Ed25519 certificates are not reliably usable for gRPC TLS. Token and seal keys stay Ed25519.
TlsPrivateKey = ec.EllipticCurvePrivateKey

# A node certificate names its entity id (e.g. ``yrd:zj:330000``) in a URI SAN with this prefix,
# giving ``urn:yrd:yrd:zj:330000``; the prefix is stripped verbatim by ``entity_id_of``.
ENTITY_URI_PREFIX = "urn:yrd:"

# A node certificate also names its entity in a DNS SAN (``entity_dns_name``) under this suffix:
# ``yrd:zj:330000`` is ``330000.zj.yrd.node.invalid``. Clients that know which member they dial
# check the server presents that name (gRPC's ``ssl_target_name_override``), so a handshake with
# any other member fails. ``.invalid`` (RFC 6761) never resolves and no public CA issues for it.
ENTITY_DNS_SUFFIX = "node.invalid"

_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_MAX_DNS_NAME = 253  # RFC 1035: 255 octets on the wire, 253 characters written out

_BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew between nodes


def _now(clock: Clock | None) -> dt.datetime:
    return dt.datetime.fromtimestamp((clock or SystemClock()).now(), dt.UTC)


def _new_key() -> TlsPrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _check_days(days: int) -> None:
    if days < 1:
        raise InvalidArgument(f"certificate lifetime must be at least 1 day, got {days}")


def entity_uri(entity_id: str) -> str:
    """Return the URI SAN that names ``entity_id`` in a node certificate."""
    if not entity_id or entity_id != entity_id.strip() or any(c.isspace() for c in entity_id):
        raise InvalidArgument(
            f"entity id must be non-empty without whitespace (like 'yrd:zj:330000'), "
            f"got {entity_id!r}"
        )
    if not entity_id.isascii() or not entity_id.isprintable():
        raise InvalidArgument(
            f"entity id must be printable ASCII (like 'yrd:zj:330000'), got {entity_id!r}"
        )
    return ENTITY_URI_PREFIX + entity_id


def entity_dns_name(entity_id: str) -> str:
    """Return the DNS name that identifies ``entity_id`` in node certificates and TLS checks.

    The entity id's ``:``-separated segments, reversed (most specific first, as in DNS), joined
    with dots, under ``ENTITY_DNS_SUFFIX``: ``yrd:zj:330000`` -> ``330000.zj.yrd.node.invalid``.
    Accepted ids are those whose segments are each a lower-case DNS label (a-z, 0-9 and inner
    hyphens, 1 to 63 characters) and whose name fits 253 characters; any other raises
    InvalidArgument. Lower case only, as DNS names compare case-insensitively: the mapping is
    injective over accepted ids (a label holds no dot, so the name splits back into the ids).
    """
    segments = entity_id.split(":")
    for segment in segments:
        if not (
            0 < len(segment) <= 63
            and set(segment) <= _LABEL_CHARS
            and not segment.startswith("-")
            and not segment.endswith("-")
        ):
            raise InvalidArgument(
                f"entity id {entity_id!r} cannot name a TLS server: each ':'-separated part "
                f"must be 1-63 lower-case letters, digits or inner hyphens (like 'yrd:zj:330000')"
            )
    name = ".".join((*reversed(segments), ENTITY_DNS_SUFFIX))
    if len(name) > _MAX_DNS_NAME:
        raise InvalidArgument(
            f"entity id {entity_id!r} is too long for a DNS name ({len(name)} > {_MAX_DNS_NAME})"
        )
    return name


def create_root_ca(
    common_name: str = "YRD Federation Root CA",
    days: int = 3650,
    *,
    clock: Clock | None = None,
) -> tuple[TlsPrivateKey, x509.Certificate]:
    """Create the federation root CA: a P-256 key and a self-signed CA certificate (pathlen 1:
    node certificates below it directly, and one level of region seal CAs for `x5c` chains)."""
    _check_days(days)
    if not common_name:
        raise InvalidArgument("root CA common name must not be empty")
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now(clock)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _host_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        if not host or any(c.isspace() for c in host):
            raise InvalidArgument(f"host must be a DNS name or IP address, got {host!r}")
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue_node_certificate(
    ca_key: TlsPrivateKey,
    ca_cert: x509.Certificate,
    entity_id: str,
    region_code: str,
    hosts: Sequence[str] = ("localhost", "127.0.0.1"),
    days: int = 825,
    client: bool = True,
    server: bool = True,
    *,
    clock: Clock | None = None,
) -> tuple[TlsPrivateKey, x509.Certificate]:
    """Issue a P-256 node key and certificate (CN entity id, O region code) signed by the CA.

    SANs: ``hosts`` (DNS names or IP addresses), the entity's ``entity_dns_name`` and its
    ``entity_uri``. Clients check the DNS name of the member they dial, not the host.
    """
    _check_days(days)
    uri = entity_uri(entity_id)
    dns_name = entity_dns_name(entity_id)
    if not (len(region_code) == 6 and region_code.isascii() and region_code.isdigit()):
        raise InvalidArgument(f"region code must be 6 digits like '330000', got {region_code!r}")
    if not (client or server):
        raise InvalidArgument("a node certificate must allow client auth, server auth or both")
    if isinstance(hosts, str):
        raise InvalidArgument("hosts must be a sequence of names, not a single string")
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] * server + [ExtendedKeyUsageOID.CLIENT_AUTH] * client
    key = _new_key()
    now = _now(clock)
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, entity_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, region_code),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    *_host_names(hosts),
                    x509.DNSName(dns_name),
                    x509.UniformResourceIdentifier(uri),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def entity_id_of(cert: x509.Certificate) -> str | None:
    """Return the entity id named by the certificate's ``urn:yrd:`` URI SAN, or None."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(ENTITY_URI_PREFIX) and len(uri) > len(ENTITY_URI_PREFIX):
            return uri[len(ENTITY_URI_PREFIX) :]
    return None


def names_entity_dns(cert: x509.Certificate, entity_id: str) -> bool:
    """Whether the certificate carries ``entity_dns_name(entity_id)`` among its DNS SANs.

    Certificates issued before that SAN existed lack it: clients dialling the entity refuse them.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    wanted = entity_dns_name(entity_id)
    return any(name.lower() == wanted for name in san.get_values_for_type(x509.DNSName))


def region_code_of(cert: x509.Certificate) -> str | None:
    """Return the region code (subject O) of a node certificate, or None."""
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else None


def load_cert_pem(data: bytes | str) -> x509.Certificate:
    """Parse one PEM certificate; malformed input raises InvalidArgument."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    try:
        return x509.load_pem_x509_certificate(raw)
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidArgument(f"not a PEM X.509 certificate: {exc}") from None


def fingerprint_sha256(cert: x509.Certificate | bytes | str) -> str:
    """Return the lower-case hex SHA-256 of the certificate's DER (a cert object or its PEM)."""
    if not isinstance(cert, x509.Certificate):
        cert = load_cert_pem(cert)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def cert_to_pem(cert: x509.Certificate) -> bytes:
    """Serialise a certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def key_to_pem(key: TlsPrivateKey) -> bytes:
    """Serialise a private key as unencrypted PKCS#8 PEM (store it with ``write_private_key``)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key_pem(data: bytes | str) -> TlsPrivateKey:
    """Parse an unencrypted PEM EC private key; anything else raises InvalidArgument."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidArgument(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidArgument(
            f"TLS keys must be ECDSA (P-256), got {type(key).__name__}; reissue the key"
        )
    return key


def verify_issued_by(
    cert: x509.Certificate, ca_cert: x509.Certificate, *, clock: Clock | None = None
) -> None:
    """Check ``cert`` is signed by CA ``ca_cert`` and both are in validity, else Unauthenticated."""
    subject = cert.subject.rfc4514_string()
    try:
        constraints = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise Unauthenticated(
            f"{ca_cert.subject.rfc4514_string()!r} is not a CA certificate (no CA:TRUE)"
        )
    if cert.issuer != ca_cert.subject:
        raise Unauthenticated(
            f"certificate {subject!r} was issued by {cert.issuer.rfc4514_string()!r}, "
            f"not by the federation CA {ca_cert.subject.rfc4514_string()!r}"
        )
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise Unauthenticated(
            f"certificate {subject!r} does not chain to the federation CA "
            f"{ca_cert.subject.rfc4514_string()!r}: the signature does not verify"
        ) from None
    now = _now(clock)
    for which, c in (("certificate", cert), ("CA certificate", ca_cert)):
        if now < c.not_valid_before_utc:
            raise Unauthenticated(
                f"{which} {c.subject.rfc4514_string()!r} is not valid before "
                f"{c.not_valid_before_utc.isoformat()}"
            )
        if now > c.not_valid_after_utc:
            raise Unauthenticated(
                f"{which} {c.subject.rfc4514_string()!r} expired at "
                f"{c.not_valid_after_utc.isoformat()}"
            )


def _write_atomically(path: pathlib.Path, data: bytes, mode: int) -> None:
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    try:
        try:
            # The umask may have narrowed ``mode``; a private key must end up exactly 0600.
            os.fchmod(fd, mode)
            handle = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_private_key(path: pathlib.Path, pem: bytes) -> None:
    """Write a private key PEM atomically with mode 0600."""
    _write_atomically(path, pem, 0o600)


def write_public(path: pathlib.Path, data: bytes) -> None:
    """Write public material (a certificate PEM) atomically with mode 0644."""
    _write_atomically(path, data, 0o644)


__all__ = [
    "ENTITY_DNS_SUFFIX",
    "ENTITY_URI_PREFIX",
    "TlsPrivateKey",
    "cert_to_pem",
    "create_root_ca",
    "entity_dns_name",
    "entity_id_of",
    "entity_uri",
    "fingerprint_sha256",
    "issue_node_certificate",
    "key_to_pem",
    "load_cert_pem",
    "load_private_key_pem",
    "names_entity_dns",
    "region_code_of",
    "verify_issued_by",
    "write_private_key",
    "write_public",
]
