"""Public addresses in sealed licences: the https status list uri and issuer id, mapped to their
region through the trust list's `public_url`, and the `x5c` chain checked against the seal key."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from federation.crypto.jose import SigningKey, b64url_decode
from federation.crypto.pki import create_root_ca
from federation.crypto.x5c import (
    issue_seal_ca_certificate,
    issue_seal_certificate,
    read_x5c,
    x5c_of,
)
from federation.errors import InvalidArgument, Unauthenticated
from federation.licences import (
    LicenceStatus,
    StatusList,
    StatusReference,
    Verdict,
    check_issuer_listed,
    seal_licence,
    sign_status_list,
    verify_licence,
    verify_sealed,
    verify_status_list,
)
from federation.licences.sealcert import authority_code_of, check_issuer_url
from federation.licences.status_uri import (
    parse_status_uri,
    region_of_status_uri,
    status_list_uri,
)
from federation.regions import Region
from federation.trust.trustlist import Member, check_public_url
from tests._support.licences import NOW, YEAR_S, World

JS_URL = "https://js.yrd.example:8443"
LISTED = {Region.JS.code: JS_URL, Region.ZJ.code: "https://zj.yrd.example"}


def listed(code: str) -> str:
    return LISTED.get(code, "")


# --- status list uris ---------------------------------------------------------------------------


def test_https_and_legacy_status_uris_name_their_region() -> None:
    uri = status_list_uri(Region.JS, JS_URL)
    assert uri == f"{JS_URL}/status/320000/1"
    assert region_of_status_uri(uri, listed) is Region.JS
    legacy = status_list_uri(Region.JS)
    assert legacy == "yrd:status:320000:1"
    assert region_of_status_uri(legacy) is Region.JS  # licences sealed before keep verifying
    assert parse_status_uri(uri).path == parse_status_uri(legacy).path == "/status/320000/1"


def test_a_uri_off_the_regions_listed_public_url_is_refused() -> None:
    for uri in (
        "https://evil.example/status/320000/1",  # another host
        "https://js.yrd.example:9443/status/320000/1",  # another port
        "https://zj.yrd.example/status/320000/1",  # Zhejiang's host naming Jiangsu's list
    ):
        with pytest.raises(Unauthenticated, match="listed public url"):
            region_of_status_uri(uri, listed)
    with pytest.raises(Unauthenticated, match="none listed"):
        region_of_status_uri("https://ah.example/status/340000/1", listed)
    with pytest.raises(Unauthenticated):  # without the trust list no https uri is mapped
        region_of_status_uri(f"{JS_URL}/status/320000/1")


@pytest.mark.parametrize(
    "uri",
    [
        "http://js.yrd.example/status/320000/1",
        f"{JS_URL}/status/320000/1?x=1",
        f"{JS_URL}/status/320000/1#f",
        "https://user@js.yrd.example/status/320000/1",
        f"{JS_URL}/status/100000/1",  # the hub keeps no status list
        f"{JS_URL}/status/320000/0",
        f"{JS_URL}/status/32000/1",
        f"{JS_URL}/x/status/320000/1",
        "yrd:status:320000",
        "yrd:status:33/0000:1",
    ],
)
def test_malformed_status_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_status_uri(uri)


@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused_plainly(text: str) -> None:
    try:
        address = parse_status_uri(text)
    except InvalidArgument:
        return
    assert address.region.is_province and address.number >= 1


def test_member_public_url_round_trips_and_is_checked() -> None:
    member = Member("yrd:js:320000", "320000", "Jiangsu", ("region",), "h:1", (), public_url=JS_URL)
    assert Member.from_dict(member.to_dict()).public_url == JS_URL
    bare = dataclasses.replace(member, public_url="")
    assert "public_url" not in bare.to_dict()  # older lists keep their exact form
    for bad in ("http://h:1", "https://h:1/path", "https://h:99999", "https://", "ftp://h"):
        with pytest.raises(InvalidArgument):
            check_public_url(bad)


# --- the issuer id -------------------------------------------------------------------------------


def test_a_licence_names_its_https_issuer_and_carries_its_credit_code(world: World) -> None:
    code = world.police.credit_code
    issuer = f"{JS_URL}/authorities/{code}"
    licence = world.driving_licence(status=StatusReference(f"{JS_URL}/status/320000/1", 7))
    sealed = seal_licence(licence, world.seal_for(world.police), NOW, issuer=issuer).serialize()
    claims = json.loads(b64url_decode(sealed.split(".")[1]))
    assert claims["iss"] == issuer and claims["authority_code"] == code
    metadata = verify_sealed(sealed, world.resolver, NOW).metadata
    assert metadata.authority.credit_code == code and metadata.issuer == issuer
    check_issuer_listed(metadata, listed)
    with pytest.raises(Unauthenticated, match="listed public url"):
        check_issuer_listed(metadata, lambda code: "https://elsewhere.example")
    verdict = verify_licence(
        sealed, world.resolver, None, NOW, public_urls=lambda code: "https://elsewhere.example"
    )
    assert verdict.verdict is Verdict.FORGED
    assert verify_licence(sealed, world.resolver, None, NOW, public_urls=listed).is_valid


def test_issuer_ids_must_name_the_authority() -> None:
    code = "11320000014001234X"
    assert check_issuer_url(f"{JS_URL}/authorities/{code}", code) == JS_URL
    for bad in (
        f"{JS_URL}/authorities/OTHER",
        f"http://js.yrd.example/authorities/{code}",
        f"{JS_URL}/authorities/{code}/x",
        f"{JS_URL}/authorities/{code}?q",
    ):
        with pytest.raises(InvalidArgument):
            check_issuer_url(bad, code)
    assert authority_code_of({"iss": code}) == code  # sealed before the split
    assert authority_code_of({"iss": f"{JS_URL}/authorities/{code}", "authority_code": code})
    with pytest.raises(InvalidArgument):
        authority_code_of({"iss": f"{JS_URL}/authorities/{code}", "authority_code": "OTHER1"})


def test_sealing_refuses_an_issuer_id_of_another_authority(world: World) -> None:
    with pytest.raises(InvalidArgument):
        seal_licence(
            world.driving_licence(), world.seal_for(world.police), NOW,
            issuer=f"{JS_URL}/authorities/{world.market.credit_code}",
        )  # fmt: skip


# --- legacy uris keep working: the same statuses under the name the old licence carries --------


def test_a_list_signed_under_the_legacy_name_verifies_for_an_old_licence(world: World) -> None:
    statuses = StatusList(64)
    statuses.set(5, LicenceStatus.REVOKED)
    key = world.region_keys[Region.JS]
    legacy = status_list_uri(Region.JS)
    token = sign_status_list(statuses, key, Region.JS, legacy, NOW)
    verified = verify_status_list(token, world.resolver, NOW, legacy, Region.JS)
    assert verified.status_of(5) is LicenceStatus.REVOKED
    with pytest.raises(Unauthenticated):  # a list is only good for the uri it was signed for
        verify_status_list(token, world.resolver, NOW, status_list_uri(Region.JS, JS_URL))


# --- x5c ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain_parts() -> tuple[x509.Certificate, SigningKey, x509.Certificate]:
    """A federation root and Jiangsu's seal CA over its seal-certifying key."""
    root_key, root = create_root_ca()
    certifier = SigningKey.generate()
    seal_ca = issue_seal_ca_certificate(root_key, root, "320000", certifier, NOW - YEAR_S)
    return root, certifier, seal_ca


def _with_x5c(
    world: World, parts: tuple[x509.Certificate, SigningKey, x509.Certificate], key_of: SigningKey
) -> World:
    _, certifier, seal_ca = parts
    seal = world.seal_for(world.police)
    issuer = f"{JS_URL}/authorities/{world.police.credit_code}"
    leaf = issue_seal_certificate(
        certifier, seal_ca, world.police.credit_code, key_of.jwk, NOW - YEAR_S, 3650, issuer
    )
    chained = dataclasses.replace(seal, x5c=tuple(x5c_of([leaf, seal_ca])))
    return dataclasses.replace(world, seals={**world.seals, world.police.credit_code: chained})


def test_x5c_leaf_for_the_seal_key_verifies_and_chains_to_the_root(
    world: World, chain_parts: tuple[x509.Certificate, SigningKey, x509.Certificate],
    tmp_path: Path,
) -> None:  # fmt: skip
    chained = _with_x5c(world, chain_parts, world.seal_for(world.police).key)
    sealed = chained.seal(chained.driving_licence())
    header = json.loads(b64url_decode(sealed.split(".")[0]))
    leaf, seal_ca = read_x5c(header["x5c"])
    assert verify_licence(sealed, world.resolver, None, NOW).is_valid
    root = chain_parts[0]
    leaf.verify_directly_issued_by(seal_ca)
    seal_ca.verify_directly_issued_by(root)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"{JS_URL}/authorities/{world.police.credit_code}"
    ]
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl binary")
    pem = serialization.Encoding.PEM
    files = {"root": root, "ca": seal_ca, "leaf": leaf}
    for name, cert in files.items():
        (tmp_path / f"{name}.pem").write_bytes(cert.public_bytes(pem))
    checked = subprocess.run(
        [openssl, "verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted",
         str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr


def test_x5c_for_another_key_is_refused(
    world: World, chain_parts: tuple[x509.Certificate, SigningKey, x509.Certificate]
) -> None:
    wrong = _with_x5c(world, chain_parts, SigningKey.generate())
    verdict = verify_licence(wrong.seal(wrong.driving_licence()), world.resolver, None, NOW)
    assert verdict.verdict is Verdict.FORGED
    assert "x5c certificate is not for seal key" in verdict.reasons[0]


@pytest.mark.parametrize(
    "value", [[], "MII", ["%%%"], [base64.b64encode(b"not der").decode()], ["QQ=="] * 5]
)
def test_malformed_x5c_is_refused(value: object) -> None:
    with pytest.raises(Unauthenticated):
        read_x5c(value)


def test_a_seal_ca_is_only_a_ca_below_the_root(
    chain_parts: tuple[x509.Certificate, SigningKey, x509.Certificate],
) -> None:
    root, _, seal_ca = chain_parts
    constraints = seal_ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert seal_ca.issuer == root.subject
    assert seal_ca.not_valid_after_utc <= root.not_valid_after_utc
    assert dt.timedelta(days=3000) < seal_ca.not_valid_after_utc - seal_ca.not_valid_before_utc
