"""Tests for the federation PKI: root CA, node certificates, PEM files and chain checks."""

from __future__ import annotations

import ipaddress
import pathlib
import stat
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.clock import FixedClock
from federation.crypto.pki import (
    ENTITY_DNS_SUFFIX,
    cert_to_pem,
    create_root_ca,
    entity_dns_name,
    entity_id_of,
    entity_uri,
    fingerprint_sha256,
    issue_node_certificate,
    key_to_pem,
    load_cert_pem,
    load_private_key_pem,
    names_entity_dns,
    region_code_of,
    verify_issued_by,
    write_private_key,
    write_public,
)
from federation.errors import InvalidArgument, Unauthenticated
from tests._support.certs import without_entity_dns

DAY = 86_400.0
CaPair = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


@pytest.fixture(scope="module")
def root() -> CaPair:
    return create_root_ca()


@pytest.fixture(scope="module")
def node(root: CaPair) -> CaPair:
    ca_key, ca_cert = root
    return issue_node_certificate(ca_key, ca_cert, "yrd:zj:330000", "330000")


def test_root_ca_shape(root: CaPair) -> None:
    key, cert = root
    assert isinstance(key.curve, ec.SECP256R1)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 1
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "YRD Federation Root CA"
    )
    verify_issued_by(cert, cert)  # self-signed


def test_node_certificate_shape(root: CaPair, node: CaPair) -> None:
    _, ca_cert = root
    key, cert = node
    assert isinstance(key.curve, ec.SECP256R1)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "yrd:zj:330000"
    assert region_code_of(cert) == "330000"
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "330000.zj.yrd.node.invalid"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:yrd:yrd:zj:330000"]
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert entity_id_of(cert) == "yrd:zj:330000"
    assert entity_id_of(ca_cert) is None


def test_chain_verifies(root: CaPair, node: CaPair) -> None:
    verify_issued_by(node[1], root[1])


def test_certificate_from_another_ca_is_refused(node: CaPair) -> None:
    _, other_ca = create_root_ca()
    with pytest.raises(Unauthenticated, match="does not chain"):
        verify_issued_by(node[1], other_ca)
    _, renamed_ca = create_root_ca("Some Other Root")
    with pytest.raises(Unauthenticated, match="not by the federation CA"):
        verify_issued_by(node[1], renamed_ca)


def test_leaf_is_not_accepted_as_ca(root: CaPair, node: CaPair) -> None:
    with pytest.raises(Unauthenticated, match="not a CA certificate"):
        verify_issued_by(node[1], node[1])


def test_expired_and_not_yet_valid_are_refused(root: CaPair) -> None:
    ca_key, ca_cert = root
    clock = FixedClock(time.time())
    _, cert = issue_node_certificate(
        ca_key, ca_cert, "yrd:sh:310000", "310000", days=1, clock=clock
    )
    verify_issued_by(cert, ca_cert, clock=clock)
    clock.advance(2 * DAY)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_issued_by(cert, ca_cert, clock=clock)
    with pytest.raises(Unauthenticated, match="not valid before"):
        verify_issued_by(cert, ca_cert, clock=FixedClock(time.time() - DAY))


def test_node_certificate_never_outlives_its_ca() -> None:
    ca_key, ca_cert = create_root_ca(days=10)
    _, cert = issue_node_certificate(ca_key, ca_cert, "yrd:ah:340000", "340000", days=825)
    assert cert.not_valid_after_utc == ca_cert.not_valid_after_utc


def test_usage_and_hosts_options(root: CaPair) -> None:
    ca_key, ca_cert = root
    _, cert = issue_node_certificate(
        ca_key,
        ca_cert,
        "yrd:hub:100000",
        "100000",
        hosts=("hub.example", "::1"),
        client=False,
    )
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["hub.example", "100000.hub.yrd.node.invalid"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("::1")]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"entity_id": ""}, "entity id"),
        ({"entity_id": "yrd:zj 330000"}, "whitespace"),
        ({"entity_id": "yrd:ZJ:330000"}, "cannot name a TLS server"),
        ({"region_code": "33000"}, "6 digits"),
        ({"days": 0}, "at least 1 day"),
        ({"client": False, "server": False}, "client auth"),
        ({"hosts": "localhost"}, "sequence"),
        ({"hosts": ("bad host",)}, "DNS name or IP"),
    ],
)
def test_issue_rejects_bad_arguments(
    root: CaPair, kwargs: dict[str, object], fragment: str
) -> None:
    ca_key, ca_cert = root
    args: dict[str, object] = {"entity_id": "yrd:zj:330000", "region_code": "330000", **kwargs}
    with pytest.raises(InvalidArgument, match=fragment):
        issue_node_certificate(ca_key, ca_cert, **args)  # type: ignore[arg-type]


def test_entity_uri() -> None:
    assert entity_uri("yrd:js:320000") == "urn:yrd:yrd:js:320000"
    with pytest.raises(InvalidArgument):
        entity_uri("yrd:浙江")


def test_entity_dns_name_of_federation_members() -> None:
    assert entity_dns_name("yrd:zj:330000") == "330000.zj.yrd.node.invalid"
    assert entity_dns_name("yrd:hub:100000") == "100000.hub.yrd.node.invalid"
    assert entity_dns_name("yrd:operator:100000") == "100000.operator.yrd.node.invalid"


@pytest.mark.parametrize(
    "entity_id",
    [
        "",
        "yrd:ZJ:330000",  # DNS compares names case-insensitively: upper case would collide
        "yrd::330000",
        "yrd:zj:",
        "yrd:-zj:330000",
        "yrd:zj-:330000",
        "yrd:z.j:330000",
        "yrd:z_j:330000",
        "yrd:浙江",
        "yrd:" + "a" * 64,
        ":".join(["abcdefghij"] * 23),  # labels fine, 265 characters with the suffix
    ],
)
def test_entity_dns_name_refuses_ids_it_cannot_map(entity_id: str) -> None:
    with pytest.raises(InvalidArgument):
        entity_dns_name(entity_id)


_LDH = "abcdefghijklmnopqrstuvwxyz0123456789-"


def _is_dns_name(name: str) -> bool:
    """RFC 1035/1123 host name: at most 253 characters of dot-separated LDH labels of 1-63
    characters, no hyphen at a label's edge, and not an IP address."""
    labels = name.split(".")
    ok_labels = all(
        0 < len(label) <= 63
        and set(label.lower()) <= set(_LDH)
        and label[0] != "-"
        and label[-1] != "-"
        for label in labels
    )
    try:
        ipaddress.ip_address(name)
        is_ip = True
    except ValueError:
        is_ip = False
    return len(name) <= 253 and ok_labels and not is_ip and not labels[-1].isdigit()


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
_ACCEPTED = st.lists(_LABEL, min_size=1, max_size=6).map(":".join)
# any short text over a small alphabet: hits empty segments, edge hyphens, dots, upper case
_ANY = st.text(alphabet="aZ0-.:_ ", max_size=12)


@settings(deadline=None)  # a loaded machine must not fail a pure check on time
@given(_ACCEPTED)
def test_entity_dns_name_is_a_dns_name_that_gives_the_entity_back(entity_id: str) -> None:
    name = entity_dns_name(entity_id)
    assert _is_dns_name(name), name
    assert name.endswith("." + ENTITY_DNS_SUFFIX)
    x509.DNSName(name)  # a SAN value the certificate library accepts
    # the inverse: segments reversed back (so no two accepted ids share a name)
    back = ":".join(reversed(name.removesuffix("." + ENTITY_DNS_SUFFIX).split(".")))
    assert back == entity_id


@settings(deadline=None)
@given(_ANY, _ANY)
def test_entity_dns_name_is_injective_over_accepted_ids(a: str, b: str) -> None:
    try:
        name_a, name_b = entity_dns_name(a), entity_dns_name(b)
    except InvalidArgument:
        return  # not an accepted id: refused, never mapped
    assert _is_dns_name(name_a) and _is_dns_name(name_b)
    assert (name_a.lower() == name_b.lower()) == (a == b)  # DNS names compare without case


def test_a_certificate_names_its_entity_in_dns_only_if_issued_so(
    root: CaPair, node: CaPair
) -> None:
    ca_key, _ = root
    cert = node[1]
    assert names_entity_dns(cert, "yrd:zj:330000")
    assert not names_entity_dns(cert, "yrd:hub:100000")
    legacy = without_entity_dns(cert, ca_key)
    assert entity_id_of(legacy) == "yrd:zj:330000"  # same identity otherwise
    assert not names_entity_dns(legacy, "yrd:zj:330000")


def test_fingerprint_is_stable_and_matches_pem(node: CaPair) -> None:
    cert = node[1]
    fp = fingerprint_sha256(cert)
    assert len(fp) == 64 and fp == fp.lower()
    assert fingerprint_sha256(cert) == fp
    assert fingerprint_sha256(cert_to_pem(cert)) == fp
    assert fingerprint_sha256(cert_to_pem(cert).decode()) == fp
    assert fingerprint_sha256(load_cert_pem(cert_to_pem(cert))) == fp


def test_pem_round_trips(node: CaPair) -> None:
    key, cert = node
    assert load_cert_pem(cert_to_pem(cert)) == cert
    pem = key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key_pem(pem)
    assert loaded.private_numbers() == key.private_numbers()


def test_malformed_pem_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="certificate"):
        load_cert_pem(b"not a cert")
    with pytest.raises(InvalidArgument, match="private key"):
        load_private_key_pem("not a key")


def test_non_ec_key_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidArgument, match="ECDSA"):
        load_private_key_pem(pem)


def test_private_key_file_is_0600_and_public_0644(tmp_path: pathlib.Path, node: CaPair) -> None:
    key, cert = node
    key_path = tmp_path / "node.key"
    cert_path = tmp_path / "node.crt"
    key_path.write_bytes(b"old")
    key_path.chmod(0o644)  # an existing looser file is replaced, not reused
    write_private_key(key_path, key_to_pem(key))
    write_public(cert_path, cert_to_pem(cert))
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert_path.stat().st_mode) == 0o644
    assert load_private_key_pem(key_path.read_bytes()).private_numbers() == key.private_numbers()
    assert load_cert_pem(cert_path.read_bytes()) == cert
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node.crt", "node.key"]
