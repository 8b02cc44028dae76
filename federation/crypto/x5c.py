"""X.509 for seals: a region seal CA under the federation root, seal certificates, `x5c` chains."""

# The region's seal CA certificate is issued by the federation root CA to the region's
# seal-certifying key (the key its trust list entry lists in `seal_jwks`), and that key signs one
# X.509 certificate per issuing authority's seal key. A sealed JWS carries [seal certificate,
# region seal CA] in its `x5c` header (RFC 7515 4.1.6: leaf first, the root left out), so a
# verifier with only the federation root finds the seal key by ordinary path validation. Inside
# the federation the trust list stays the authority: the leaf must certify the very seal key the
# region's signed seal certificate names. Only Ed25519 and P-256 keys get certificates here: a
# region on another signing suite seals without `x5c`, and its licences verify as before.

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import secrets
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from federation.crypto.jose import Jwk, SigningKey
from federation.errors import InvalidArgument, Unauthenticated

MAX_X5C_CERTS = 4
MAX_X5C_CERT_BYTES = 4096
_BACKDATE = dt.timedelta(minutes=5)

IssuerKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
X509_SEAL_ALGS = frozenset({"EdDSA", "ES256"})
"""Seal key algorithms that get X.509 certificates (an SM2 suite's keys have none: no x5c)."""


def _x509_key(key: SigningKey) -> IssuerKey:
    private = key.private
    if isinstance(private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        return private
    raise InvalidArgument(f"no X.509 seal certificates for {key.alg} keys")


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,  # a seal commits its authority to what it seals
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _serial() -> int:
    # 63 random bits: unique in practice, positive, 8 DER bytes (RFC 5280 allows up to 20)
    return secrets.randbits(63) | 1


def _seal_ca_name(region_code: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"YRD {region_code} Seal CA")])


def _sign(builder: x509.CertificateBuilder, key: IssuerKey) -> x509.Certificate:
    # Ed25519 signs the whole certificate itself: no separate digest may be named
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def _window(now: float, days: int, issuer: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    if days < 1:
        raise InvalidArgument(f"certificate lifetime must be at least 1 day, got {days}")
    start = dt.datetime.fromtimestamp(now, dt.UTC)
    return start - _BACKDATE, min(start + dt.timedelta(days=days), issuer.not_valid_after_utc)


def issue_seal_ca_certificate(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    region_code: str,
    seal_certifier: SigningKey,
    now: float,
    days: int = 3650,
) -> x509.Certificate:
    """The root certifies a region's seal-certifying key as a CA for seals only (pathlen 0)."""
    not_before, not_after = _window(now, days, root_cert)
    public = _x509_key(seal_certifier).public_key()
    # every byte of both certificates travels in each licence (and its QR presentation):
    # short serials and names, and only the extensions path validation needs
    builder = (
        x509.CertificateBuilder()
        .subject_name(_seal_ca_name(region_code))
        .issuer_name(root_cert.subject)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
    )
    return _sign(builder, root_key)


def issue_seal_certificate(
    seal_ca_key: SigningKey,
    seal_ca_cert: x509.Certificate,
    authority_code: str,
    seal_jwk: Jwk,
    now: float,
    days: int,
    issuer: str = "",
) -> x509.Certificate:
    """The region seal CA certifies one authority's seal key (CN: the authority's credit code;
    URI SAN: its https issuer id, the `iss` of what it seals, when it has one)."""
    if not authority_code.isalnum():
        raise InvalidArgument(f"authority credit code must be alphanumeric, got {authority_code!r}")
    not_before, not_after = _window(now, days, seal_ca_cert)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, authority_code)]))
        .issuer_name(seal_ca_cert.subject)
        .public_key(seal_public_key(seal_jwk))
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_key_usage(ca=False), critical=True)
    )
    if issuer:
        # SD-JWT VC: an https `iss` must be a URI SAN of the x5c leaf
        san = x509.SubjectAlternativeName([x509.UniformResourceIdentifier(issuer)])
        builder = builder.add_extension(san, critical=False)
    return _sign(builder, _x509_key(seal_ca_key))


def seal_public_key(jwk: Jwk) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    """The cryptography public key of a seal JWK (Ed25519 or P-256)."""
    if jwk.alg == "EdDSA":
        return jwk.public_key()
    if jwk.alg == "ES256" and jwk.y:
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(_b64url(jwk.x), "big"),
            int.from_bytes(_b64url(jwk.y), "big"),
            ec.SECP256R1(),
        )
        return numbers.public_key()
    raise InvalidArgument(f"no X.509 seal certificate for a {jwk.alg} key")


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def x5c_of(chain: Sequence[x509.Certificate]) -> list[str]:
    """The `x5c` header value: standard base64 (not base64url) DER, leaf first."""
    return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain]


def read_x5c(value: object) -> list[x509.Certificate]:
    """Parse an `x5c` header; anything but 1..4 base64 DER certificates is refused."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_X5C_CERTS:
        raise Unauthenticated(f"x5c must be a list of 1..{MAX_X5C_CERTS} certificates")
    certs = []
    for entry in value:
        if not isinstance(entry, str) or len(entry) > MAX_X5C_CERT_BYTES * 4 // 3 + 4:
            raise Unauthenticated("x5c entries must be base64 DER certificates")
        try:
            certs.append(x509.load_der_x509_certificate(base64.b64decode(entry, validate=True)))
        except (ValueError, binascii.Error):
            raise Unauthenticated("x5c holds something that is not a DER certificate") from None
    return certs


def leaf_key_matches(leaf: x509.Certificate, jwk: Jwk) -> bool:
    """Whether the x5c leaf certifies exactly `jwk` (compared by RFC 7638 thumbprint)."""
    try:
        return Jwk.from_public_key(leaf.public_key()).kid == jwk.kid  # type: ignore[arg-type]
    except (InvalidArgument, TypeError, ValueError):
        return False


MAX_KEPT_CHAINS = 128
"""x5c chains whose leaf key is kept (a few KB each: every seal of an authority has one)."""


@functools.lru_cache(maxsize=MAX_KEPT_CHAINS)
def _leaf_kid(chain: tuple[str, ...]) -> str:
    leaf = read_x5c(list(chain))[0]
    try:
        return Jwk.from_public_key(leaf.public_key()).kid  # type: ignore[arg-type]
    except (InvalidArgument, TypeError, ValueError):
        raise Unauthenticated("the x5c certificate certifies no Ed25519 or P-256 key") from None


def x5c_leaf_kid(value: object) -> str:
    """The RFC 7638 thumbprint of the key an `x5c` header's leaf certifies.

    Parsing DER is the cost of a seal's `x5c`, and every seal of an authority carries the same
    chain: the thumbprint is kept per exact chain text (bounded). It depends on nothing but that
    text; a malformed chain or unsupported key raises Unauthenticated and is never kept.
    """
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        read_x5c(value)  # refuses it, saying why
        raise Unauthenticated("x5c must be a list of base64 DER certificates")
    return _leaf_kid(tuple(value))


__all__ = [
    "MAX_KEPT_CHAINS",
    "MAX_X5C_CERTS",
    "X509_SEAL_ALGS",
    "issue_seal_ca_certificate",
    "issue_seal_certificate",
    "leaf_key_matches",
    "read_x5c",
    "seal_public_key",
    "x5c_leaf_kid",
    "x5c_of",
]
