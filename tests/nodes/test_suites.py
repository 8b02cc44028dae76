"""Signing suites per member: `yrd federation init --suite`, and a federation where the hub and
Jiangsu sign with SM2/SM3 while Zhejiang signs with Ed25519 — each verifies the other's tokens,
licences, seal certificates, status lists and presentations."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from federation.crypto.jose import SigningKey, parse_compact
from federation.errors import InvalidArgument, Unauthenticated
from federation.licences import create_presentation, encode_qr
from federation.licences.sdjwt import split_sd_jwt
from federation.regions import Region
from nodes.cli import root
from nodes.client import FederationClient
from nodes.demo.licences import DRIVING_FIELDS, tamper_disclosure
from nodes.ops.provisioning import Layout, parse_suites, read_trust_list
from nodes.ops.supervisor import Federation
from tests._support.nodes import eventually, make_federation, new_citizen

PASSWORD = "Lotus-pond-2024"
SM2_MEMBERS = {Region.HUB, Region.JS}


def test_parse_suites() -> None:
    assert parse_suites([]) == dict.fromkeys(Region, "ed25519")
    assert parse_suites(["sm2"]) == dict.fromkeys(Region, "sm2")
    mixed = parse_suites(["320000=sm2", "hub=SM2", "sm2", "ZJ=ed25519"])
    assert mixed[Region.ZJ] == "ed25519" and mixed[Region.JS] == mixed[Region.SH] == "sm2"
    assert parse_suites(["JS=sm2"])[Region.JS] == "sm2"
    assert parse_suites(["JS=sm2"])[Region.AH] == "ed25519"
    with pytest.raises(InvalidArgument, match="unknown signing suite 'rsa'"):
        parse_suites(["JS=rsa"])
    with pytest.raises(InvalidArgument, match="unknown region"):
        parse_suites(["Mars=sm2"])


def _json(text: str) -> dict[str, object]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def test_cli_init_per_region_suites_and_rotation(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(
        root, ["federation", "init", "--dir", str(tmp_path / "bad"), "--suite", "JS=rsa"]
    )
    assert bad.exit_code == 2 and "unknown signing suite" in _json(bad.stderr)["message"]
    assert not (tmp_path / "bad").exists()  # refused before anything was written
    directory = tmp_path / "fed"
    args = ["federation", "init", "--dir", str(directory), "--base-port", "0"]
    made = runner.invoke(root, [*args, "--password-cost", "10", "--suite", "320000=sm2"])
    assert made.exit_code == 0, made.output
    assert _json(made.stdout)["suites"] == {
        "100000": "ed25519",
        "310000": "ed25519",
        "320000": "sm2",
        "330000": "ed25519",
        "340000": "ed25519",
    }
    trust = read_trust_list(Layout(directory))
    js, zj = trust.member(Region.JS.entity_id), trust.member(Region.ZJ.entity_id)
    assert [k.alg for k in (*js.signing_keys, *js.seal_keys)] == ["SM2SM3", "SM2SM3"]
    assert [k.crv for k in (*js.signing_keys, *js.seal_keys)] == ["SM2", "SM2"]
    assert [k.alg for k in (*zj.signing_keys, *zj.seal_keys)] == ["EdDSA", "EdDSA"]
    # Jiangsu's authorities seal with SM2 keys its SM2 seal-certifying key certified
    for entry in json.loads((directory / "js" / "authorities.json").read_text()):
        seal = SigningKey.from_pem((directory / "js" / entry["seal_key"]).read_bytes())
        certificate = parse_compact(entry["seal_certificate"])
        assert seal.alg == certificate.alg == "SM2SM3"
        assert certificate.header["kid"] == js.seal_keys[0].kid
        assert certificate.payload()["cnf"]["jwk"]["crv"] == "SM2"
    rotate = ["federation", "rotate-keys", "--dir", str(directory), "--region"]
    kept = runner.invoke(root, [*rotate, "JS"])
    assert kept.exit_code == 0 and _json(kept.stdout)["alg"] == "SM2SM3"  # the region's suite
    moved = runner.invoke(root, [*rotate, "ZJ", "--suite", "sm2"])
    assert moved.exit_code == 0 and _json(moved.stdout)["alg"] == "SM2SM3"
    zj_keys = read_trust_list(Layout(directory)).member(Region.ZJ.entity_id).signing_keys
    assert [k.alg for k in zj_keys] == ["SM2SM3", "EdDSA"]  # the old key verifies until it expires


# --- a mixed federation on real nodes --------------------------------------------------------


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationClient]:
    """Hub (trust anchor too) and Jiangsu on SM2/SM3, Zhejiang on Ed25519."""
    directory = make_federation(
        tmp_path_factory.mktemp("suites") / "federation",
        suites=parse_suites(["hub=sm2", "JS=sm2"]),
    )
    with (
        Federation(directory, regions=(Region.HUB, Region.JS, Region.ZJ)),
        FederationClient(directory) as client,
    ):
        yield client


def test_the_served_trust_list_carries_both_suites(mixed: FederationClient) -> None:
    trust_list, token = mixed.fetch_trust_list()
    assert parse_compact(token).alg == "SM2SM3"  # the hub's SM2 anchor signed it
    for region in Region:
        member = trust_list.member(region.entity_id)
        expected = "SM2SM3" if region in SM2_MEMBERS else "EdDSA"
        assert {k.alg for k in (*member.signing_keys, *member.seal_keys)} == {expected}


@pytest.mark.parametrize(("home", "other"), [(Region.JS, Region.ZJ), (Region.ZJ, Region.JS)])
def test_tokens_verify_across_suites(mixed: FederationClient, home: Region, other: Region) -> None:
    subject = new_citizen("320102" if home is Region.JS else "330106")
    mixed.register(home.short, "natural", subject, "测试人", PASSWORD)
    login = mixed.login(home.short, subject, PASSWORD, [other.short])
    token = login.tokens[other.entity_id]
    assert parse_compact(token).alg == ("SM2SM3" if home in SM2_MEMBERS else "EdDSA")
    claims = mixed.verify_token(other.short, token).claims
    assert claims.sub == subject and claims.iss == home.entity_id
    fresh = mixed.issue_token(home.short, login.session_id, login.session_secret, other.short)
    head, body, sig = fresh.split(".")
    forged = ("A" if sig[0] != "A" else "B") + sig[1:]
    with pytest.raises(Unauthenticated, match="forged"):
        mixed.verify_token(other.short, f"{head}.{body}.{forged}")


@pytest.mark.parametrize(
    ("issuer", "verifier", "wallet_alg"),
    [(Region.JS, Region.ZJ, "EdDSA"), (Region.ZJ, Region.JS, "SM2SM3")],
)
def test_licences_issue_verify_and_present_across_suites(
    mixed: FederationClient, issuer: Region, verifier: Region, wallet_alg: str
) -> None:
    wallet = SigningKey.generate(wallet_alg)
    holder = new_citizen()
    doc = mixed.issue_licence(
        issuer.short,
        f"suites-{holder}",
        "driving_licence",
        holder,
        "测试人",
        DRIVING_FIELDS,
        valid_until="2030-01-01",
        holder_jwk=wallet.jwk.to_dict(),
    )
    sealed = parse_compact(split_sd_jwt(doc.sd_jwt).issuer_jwt, require_kid=True)
    suite = "SM2SM3" if issuer in SM2_MEMBERS else "EdDSA"
    assert sealed.alg == suite == parse_compact(sealed.header["sealcert"]).alg
    for region in (verifier, issuer):
        verdict = mixed.verify_licence(region.short, doc.sd_jwt)
        assert verdict.verdict == "valid", (region, list(verdict.reasons))
    assert mixed.verify_licence(verifier.short, tamper_disclosure(doc.sd_jwt)).verdict == "forged"
    text = create_presentation(
        doc.sd_jwt, wallet, ["holder_name"], verifier.entity_id, time.time()
    )
    shown = mixed.verify_presentation(verifier.short, encode_qr(text))
    assert shown.verdict.verdict == "valid"
    assert json.loads(shown.disclosed_json) == {"holder_name": "测试人"}
    # the issuer's status list (signed in its suite) reaches the verifier
    mixed.change_licence_status(issuer.short, doc.identifier, "suspend", "suite test")

    def suspended() -> None:
        got = mixed.verify_licence(verifier.short, doc.sd_jwt).verdict
        assert got == "suspended", got

    eventually(suspended, timeout_s=8.0, pause_s=0.5)
