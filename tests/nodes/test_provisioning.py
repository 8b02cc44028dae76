"""Tests for federation provisioning and key rotation on a temporary directory."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from federation.crypto.jose import Jwk, SigningKey
from federation.crypto.pki import fingerprint_sha256, load_cert_pem
from federation.errors import FailedPrecondition, InvalidArgument, Unauthenticated
from federation.identity.tokens import MAX_TTL_S
from federation.regions import PROVINCES, Region
from federation.trust.trustlist import TrustList, verify_trust_list
from nodes.config import load_config
from nodes.ops.provisioning import (
    OPERATOR_ENTITY,
    TRUST_LIST_LIFETIME_S,
    Layout,
    init_federation,
    load_active_signing_key,
    load_anchor,
    read_trust_list,
    rotate_keys,
)


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrustList]:
    root = tmp_path_factory.mktemp("federation")
    trust_list = init_federation(root, password_cost_log2=10, face_daily_limit=77)
    return root, trust_list


@pytest.fixture
def fed(provisioned: tuple[Path, TrustList], tmp_path: Path) -> Path:
    """A private copy of the provisioned federation that a test may change."""
    copy = tmp_path / "fed"
    shutil.copytree(provisioned[0], copy)
    return copy


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sig_keys(trust_list: TrustList, region: Region) -> tuple[Jwk, ...]:
    return trust_list.member(region.entity_id).signing_keys


# --- init --------------------------------------------------------------------------------------


def test_init_writes_the_expected_files(provisioned: tuple[Path, TrustList]) -> None:
    root, _ = provisioned
    layout = Layout(root)
    for path in (layout.ca_cert, layout.ca_key, layout.anchor_key, layout.anchor_jwk,
                 layout.trust_source, layout.trust_signed, layout.operator_dir / "tls.key",
                 layout.operator_dir / "tls.crt"):
        assert path.is_file(), path
    for region in Region:
        assert (layout.node_dir(region) / "tls.key").is_file()
        assert (layout.node_dir(region) / "tls.crt").is_file()
        assert len(list(layout.signing_dir(region).glob("*.key"))) == 1
        assert layout.config(region).is_file()
        assert layout.sealcert_dir(region).is_dir() is region.is_province


def test_every_private_key_is_owner_only(provisioned: tuple[Path, TrustList]) -> None:
    root, _ = provisioned
    key_files = sorted(root.rglob("*.key"))
    assert len(key_files) >= 2 + 1 + 5 * 2 + 4  # CA, anchor, operator, TLS+signing, sealcert
    for path in key_files:
        assert mode(path) == 0o600, f"{path} has mode {oct(mode(path))}"
    # and no private key hides under another name with looser permissions
    for path in root.rglob("*"):
        if path.is_file() and b"PRIVATE KEY" in path.read_bytes():
            assert mode(path) == 0o600, path
            assert path.suffix == ".key", path


def test_public_material_is_readable(provisioned: tuple[Path, TrustList]) -> None:
    layout = Layout(provisioned[0])
    for path in (layout.ca_cert, layout.anchor_jwk, layout.trust_signed, layout.config(Region.SH)):
        assert mode(path) & 0o444 == 0o444


def test_trust_list_verifies_with_the_anchor(provisioned: tuple[Path, TrustList]) -> None:
    root, trust_list = provisioned
    layout = Layout(root)
    anchor = load_anchor(layout)
    assert anchor.kid == SigningKey.from_pem(layout.anchor_key.read_bytes()).kid
    token = layout.trust_signed.read_text().strip()
    assert verify_trust_list(token, anchor, trust_list.issued_at) == trust_list
    assert read_trust_list(layout) == trust_list
    assert TrustList.from_dict(json.loads(layout.trust_source.read_text())) == trust_list
    with pytest.raises(Unauthenticated):
        verify_trust_list(token, SigningKey.generate().jwk, trust_list.issued_at)
    with pytest.raises(Unauthenticated, match="expired"):
        read_trust_list(layout, now=trust_list.expires_at + 1)
    assert trust_list.version == 1
    assert trust_list.expires_at - trust_list.issued_at == TRUST_LIST_LIFETIME_S
    assert trust_list.root_ca_fingerprint == fingerprint_sha256(
        load_cert_pem(layout.ca_cert.read_bytes())
    )


def test_members_roles_keys_and_fingerprints(provisioned: tuple[Path, TrustList]) -> None:
    root, trust_list = provisioned
    layout = Layout(root)
    assert [m.entity_id for m in trust_list.members] == [
        *(r.entity_id for r in Region), OPERATOR_ENTITY
    ]
    for region in Region:
        member = trust_list.member(region.entity_id)
        assert member.region_code == region.code
        assert member.roles == (("hub",) if region is Region.HUB else ("region",))
        cert = load_cert_pem((layout.node_dir(region) / "tls.crt").read_bytes())
        assert member.tls_fingerprints == (fingerprint_sha256(cert),)
        sig = sig_keys(trust_list, region)
        assert len(sig) == 1 and sig[0].not_after is None
        assert (layout.signing_dir(region) / f"{sig[0].kid}.key").is_file()
        seal = member.seal_keys
        assert len(seal) == (1 if region.is_province else 0)
        for key in seal:
            assert (layout.sealcert_dir(region) / f"{key.kid}.key").is_file()
    operator = trust_list.member(OPERATOR_ENTITY)
    assert operator.roles == ("operator",) and operator.signing_keys == ()
    op_cert = load_cert_pem((layout.operator_dir / "tls.crt").read_bytes())
    assert operator.tls_fingerprints == (fingerprint_sha256(op_cert),)
    all_kids = [k["kid"] for k in trust_list.jwks()["keys"]]
    assert len(all_kids) == len(set(all_kids))


def test_node_configs_load(provisioned: tuple[Path, TrustList]) -> None:
    root, trust_list = provisioned
    layout = Layout(root)
    base = root.resolve()
    ports = set()
    for region in Region:
        config = load_config(layout.config(region))
        assert config.region == region.code and config.entity_id == region.entity_id
        assert config.password_cost_log2 == 10
        assert config.node_dir == layout.node_dir(region)
        assert config.signing_keys_dir == layout.signing_dir(region)
        assert config.tls_key == layout.node_dir(region) / "tls.key"
        assert config.store_url == f"sqlite:///{base}/{region.short.lower()}/node.sqlite3"
        assert config.endpoint == trust_list.member(region.entity_id).endpoint
        ports.add(config.port)
        signer = load_active_signing_key(config.signing_keys_dir, sig_keys(trust_list, region))
        assert signer.kid == sig_keys(trust_list, region)[0].kid
    assert len(ports) == len(Region)
    public = {load_config(layout.config(r)).public_port for r in PROVINCES}
    assert public == {50061, 50062, 50063, 50064} and not public & ports
    hub = load_config(layout.config(Region.HUB))
    assert hub.public_port is None
    assert hub.is_hub and hub.anchor_key == layout.anchor_key
    assert set(hub.face_quotas) == {r.code for r in PROVINCES}
    assert {q.daily_limit for q in hub.face_quotas.values()} == {77}
    # every node serves metrics on its own port after the public ones, and logs its calls
    metrics = [load_config(layout.config(r)).metrics_port for r in Region]
    assert metrics == [50071, 50072, 50073, 50074, 50075]
    for region in Region:
        config = load_config(layout.config(region))
        assert config.access_log == layout.node_dir(region) / "access.log"
        assert config.trace_export == ""  # spans only with --traces


def test_observability_can_be_chosen_at_init(tmp_path: Path) -> None:
    init_federation(
        tmp_path, password_cost_log2=10, metrics=False, access_log=False, traces=True
    )
    layout = Layout(tmp_path)
    for region in Region:
        config = load_config(layout.config(region))
        assert config.metrics_port is None and config.access_log is None
        spans = layout.node_dir(region).resolve() / "spans.jsonl"
        assert config.trace_export == f"file:{spans}"


def test_init_refuses_to_overwrite_without_force(fed: Path) -> None:
    before = (fed / "trustlist.jwt").read_text()
    with pytest.raises(FailedPrecondition, match="--force"):
        init_federation(fed, password_cost_log2=10)
    assert (fed / "trustlist.jwt").read_text() == before
    again = init_federation(fed, password_cost_log2=10, force=True)
    assert (fed / "trustlist.jwt").read_text() != before
    assert read_trust_list(Layout(fed)) == again


@pytest.mark.parametrize(
    ("store", "url", "message"),
    [("mysql", "", "store must be"), ("postgresql", "sqlite:///x", "postgresql://")],
)
def test_init_refuses_bad_store_options(tmp_path: Path, store: str, url: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        init_federation(tmp_path / "f", store=store, postgres_url=url)
    assert not (tmp_path / "f" / "trustlist.jwt").exists()


def test_postgres_store_urls_get_one_schema_per_node(tmp_path: Path) -> None:
    root = tmp_path / "pg"
    init_federation(
        root, store="postgresql", postgres_url="postgresql://u@db/yrd?sslmode=disable&schema=t1",
        password_cost_log2=10,
    )
    urls = {r: load_config(Layout(root).config(r)).store_url for r in Region}
    for region, url in urls.items():
        assert url.startswith("postgresql://u@db/yrd?")
        assert "sslmode=disable" in url and f"schema=t1_{region.short.lower()}" in url
    assert len(set(urls.values())) == len(Region)


# --- rotation ----------------------------------------------------------------------------------


def test_rotation_keeps_the_old_key_with_an_expiry_and_the_newest_first(fed: Path) -> None:
    layout = Layout(fed)
    before = read_trust_list(layout)
    old = sig_keys(before, Region.SH)[0]
    stamp = before.issued_at + 60
    new_jwk, after = rotate_keys(fed, Region.SH, now=stamp)
    assert after.version == before.version + 1
    assert (after.issued_at, after.expires_at) == (stamp, stamp + TRUST_LIST_LIFETIME_S)
    assert read_trust_list(layout) == after
    sh_keys = sig_keys(after, Region.SH)
    assert [k.kid for k in sh_keys] == [new_jwk.kid, old.kid]
    assert sh_keys[0].not_after is None
    assert sh_keys[1].not_after == stamp + MAX_TTL_S + 300
    # the seal-certification key is not rotated with the token keys
    sh = Region.SH.entity_id
    assert after.member(sh).seal_keys == before.member(sh).seal_keys
    # other members and the member order are unchanged
    assert [m.entity_id for m in after.members] == [m.entity_id for m in before.members]
    for m in before.members:
        if m.entity_id != Region.SH.entity_id:
            assert after.member(m.entity_id) == m
    key_path = layout.signing_dir(Region.SH) / f"{new_jwk.kid}.key"
    assert mode(key_path) == 0o600
    active = load_active_signing_key(layout.signing_dir(Region.SH), sh_keys)
    assert active.kid == new_jwk.kid


def test_second_rotation(fed: Path) -> None:
    first = read_trust_list(Layout(fed))
    k0 = sig_keys(first, Region.ZJ)[0]
    k1, _ = rotate_keys(fed, Region.ZJ, now=first.issued_at + 10)
    k2, latest = rotate_keys(fed, Region.ZJ, now=first.issued_at + 20)
    assert latest.version == 3
    assert [(k.kid, k.not_after) for k in sig_keys(latest, Region.ZJ)] == [
        (k2.kid, None),
        (k1.kid, first.issued_at + 20 + MAX_TTL_S + 300),
        (k0.kid, first.issued_at + 10 + MAX_TTL_S + 300),
    ]


def test_rotation_needs_a_federation(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="holds no federation"):
        rotate_keys(tmp_path, Region.SH)


def test_load_active_signing_key(provisioned: tuple[Path, TrustList], tmp_path: Path) -> None:
    root, trust_list = provisioned
    layout = Layout(root)
    listed = trust_list.member(Region.AH.entity_id).signing_keys
    assert load_active_signing_key(layout.signing_dir(Region.AH), listed).kid == listed[0].kid
    sealing = trust_list.member(Region.AH.entity_id).seal_keys
    seal = load_active_signing_key(layout.sealcert_dir(Region.AH), sealing)
    assert seal.kid == sealing[0].kid
    with pytest.raises(FailedPrecondition):  # a seal key is not found among token keys
        load_active_signing_key(layout.sealcert_dir(Region.AH), listed)
    with pytest.raises(FailedPrecondition, match="none of the keys"):
        load_active_signing_key(tmp_path, listed)
    # a key of another region is not ours even if the file were there
    with pytest.raises(FailedPrecondition):
        load_active_signing_key(
            layout.signing_dir(Region.AH), trust_list.member(Region.JS.entity_id).signing_keys
        )
