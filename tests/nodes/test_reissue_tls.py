"""`yrd federation reissue-tls`: a federation whose certificates predate member-named TLS gets new
ones from its own CA and starts again with its keys and stores; running nodes keep working."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from federation.crypto.jose import SigningKey
from federation.crypto.pki import (
    cert_to_pem,
    fingerprint_sha256,
    issue_node_certificate,
    key_to_pem,
    load_cert_pem,
    load_private_key_pem,
    names_entity_dns,
    verify_issued_by,
)
from federation.errors import AlreadyExists, PermissionDenied, Unauthenticated, Unavailable
from federation.regions import Region
from federation.trust.trustlist import sign_trust_list
from nodes.cli import root
from nodes.client import FederationClient
from nodes.ops.provisioning import OPERATOR_ENTITY, Layout, read_trust_list, write_trust_list
from nodes.ops.reissue import host_names
from nodes.ops.supervisor import Federation
from tests._support.certs import without_entity_dns
from tests._support.nodes import eventually, make_federation, new_citizen
from tests._support.storage import drop_node_schemas

PASSWORD = "Lotus-pond-2024"
RUNNING = (Region.HUB, Region.ZJ, Region.SH)


def _reissue(directory: Path, *extra: str) -> tuple[int, str]:
    args = ["federation", "reissue-tls", "--dir", str(directory), *extra]
    result = CliRunner().invoke(root, args)
    return result.exit_code, result.output


def _cert_path(layout: Layout, entity_id: str) -> Path:
    if entity_id == OPERATOR_ENTITY:
        return layout.operator_dir / "tls.crt"
    return layout.node_dir(next(r for r in Region if r.entity_id == entity_id)) / "tls.crt"


def _on_disk(layout: Layout, entity_id: str) -> str:
    return fingerprint_sha256(load_cert_pem(_cert_path(layout, entity_id).read_bytes()))


def _make_old_style(layout: Layout) -> dict[str, str]:
    """Every certificate as issued before the entity DNS SAN, listed as such: the federation an
    integrator upgrades. Returns each member's listed fingerprint."""
    ca_key = load_private_key_pem(layout.ca_key.read_bytes())
    trust = read_trust_list(layout)
    listed: dict[str, str] = {}
    for member in trust.members:
        path = _cert_path(layout, member.entity_id)
        legacy = without_entity_dns(load_cert_pem(path.read_bytes()), ca_key)
        path.write_bytes(cert_to_pem(legacy))
        listed[member.entity_id] = fingerprint_sha256(legacy)
        trust = trust.with_member(replace(member, tls_fingerprints=(listed[member.entity_id],)))
    order = [m.entity_id for m in read_trust_list(layout).members]
    members = tuple(sorted(trust.members, key=lambda m: order.index(m.entity_id)))
    write_trust_list(layout, replace(trust, members=members, version=trust.version + 1))
    return listed


def _snapshot(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _material(directory: Path) -> dict[str, str]:
    """The snapshot of what the commands write (trust list, certificates and keys): running
    nodes keep writing their logs and caches beside them."""
    return {
        name: digest
        for name, digest in _snapshot(directory).items()
        if name.startswith("trustlist.") or name.endswith(("tls.crt", "tls.key"))
    }


def test_an_old_style_federation_is_reissued_and_keeps_its_keys_and_stores(
    tmp_path: Path,
) -> None:
    _upgrade_keeps_keys_and_stores(make_federation(tmp_path / "fed"))


@pytest.mark.postgres
def test_an_old_style_postgresql_federation_keeps_its_stores(
    tmp_path: Path, postgres_url: str
) -> None:
    prefix = postgres_url.rsplit("schema=", 1)[1]
    directory = make_federation(tmp_path / "fed", store="postgresql", postgres_url=postgres_url)
    try:
        _upgrade_keeps_keys_and_stores(directory)
    finally:
        drop_node_schemas(postgres_url, prefix)


def _upgrade_keeps_keys_and_stores(directory: Path) -> None:
    """Old-style certificates: the nodes refuse to start; after the re-issue they start, with
    the subject registered before, and the directory changed only where it should."""
    layout = Layout(directory)
    subject = new_citizen()
    with Federation(directory, regions=RUNNING), FederationClient(directory) as client:
        client.register("ZJ", "natural", subject, "陈静", PASSWORD)
    old = _make_old_style(layout)
    with pytest.raises(Unavailable) as refused:
        Federation(directory, regions=(Region.HUB,)).start()
    assert "does not name this node's entity" in str(refused.value)
    assert "yrd federation reissue-tls --dir DIR" in str(refused.value)
    before = _snapshot(directory)
    version = read_trust_list(layout).version

    code, output = _reissue(directory)

    assert code == 0, output
    report = json.loads(output)
    assert report["trust_list_version"] == version + 1
    assert {r["entity_id"] for r in report["reissued"]} == set(old)
    assert all(r["hosts"] == ["localhost", "127.0.0.1"] for r in report["reissued"])
    # only the certificates, their keys and the trust list changed: CA, anchor, signing and
    # seal keys, authorities, configs, stores and logs are byte for byte what they were
    changed = {name for name, digest in _snapshot(directory).items() if before.get(name) != digest}
    nodes = [layout.node_dir(r).name for r in Region]
    expected = {f"{n}/tls.{ext}" for n in [*nodes, "operator"] for ext in ("crt", "key")}
    assert changed == expected | {"trustlist.json", "trustlist.jwt"}
    trust = read_trust_list(layout)  # verifies against the anchor
    assert trust.version == version + 1
    ca_cert = load_cert_pem(layout.ca_cert.read_bytes())
    for entity_id, old_fingerprint in old.items():
        cert = load_cert_pem(_cert_path(layout, entity_id).read_bytes())
        verify_issued_by(cert, ca_cert)
        assert names_entity_dns(cert, entity_id)
        key = load_private_key_pem(_cert_path(layout, entity_id).with_suffix(".key").read_bytes())
        assert key.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        ) == cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        assert trust.member(entity_id).tls_fingerprints == (
            fingerprint_sha256(cert),
            old_fingerprint,
        )

    with Federation(directory, regions=RUNNING), FederationClient(directory) as client:
        login = client.login("ZJ", subject, PASSWORD, ["SH"])  # registered before the re-issue
        verified = client.verify_token("SH", login.tokens[Region.SH.entity_id])
        assert verified.claims.sub == subject
        with pytest.raises(AlreadyExists):  # the hub still knows the subject's home
            client.register("SH", "natural", subject, "陈静", PASSWORD)


def test_reissue_keeps_hosts_and_touches_only_the_members_named(tmp_path: Path) -> None:
    directory = make_federation(tmp_path / "fed")
    layout = Layout(directory)
    ca_key = load_private_key_pem(layout.ca_key.read_bytes())
    ca_cert = load_cert_pem(layout.ca_cert.read_bytes())
    key, cert = issue_node_certificate(
        ca_key, ca_cert, Region.ZJ.entity_id, Region.ZJ.code, hosts=("zj.gov.example", "10.0.3.7")
    )
    (layout.node_dir(Region.ZJ) / "tls.key").write_bytes(key_to_pem(key))
    (layout.node_dir(Region.ZJ) / "tls.crt").write_bytes(cert_to_pem(cert))
    trust = read_trust_list(layout)
    zj = replace(trust.member(Region.ZJ.entity_id), tls_fingerprints=(fingerprint_sha256(cert),))
    members = tuple(zj if m.entity_id == zj.entity_id else m for m in trust.members)
    write_trust_list(layout, replace(trust, members=members, version=trust.version + 1))
    before = read_trust_list(layout)

    code, output = _reissue(directory, "--region", "zj", "--days", "30")

    assert code == 0, output
    (reissued,) = json.loads(output)["reissued"]
    assert reissued["entity_id"] == Region.ZJ.entity_id
    assert reissued["hosts_from"] == "certificate"
    new = load_cert_pem((layout.node_dir(Region.ZJ) / "tls.crt").read_bytes())
    assert host_names(new) == ("zj.gov.example", "10.0.3.7")
    assert (new.not_valid_after_utc - new.not_valid_before_utc).days == 30
    after = read_trust_list(layout)
    assert after.member(zj.entity_id).tls_fingerprints == (
        fingerprint_sha256(new),
        fingerprint_sha256(cert),
    )
    assert [m for m in after.members if m.entity_id != zj.entity_id] == [
        m for m in before.members if m.entity_id != zj.entity_id
    ]
    # a second re-issue keeps only the outgoing certificate, not every earlier one
    assert _reissue(directory, "--region", "ZJ")[0] == 0
    newer = _on_disk(layout, zj.entity_id)
    assert read_trust_list(layout).member(zj.entity_id).tls_fingerprints == (
        newer,
        fingerprint_sha256(new),
    )
    # --drop-old lists the new certificates only
    assert _reissue(directory, "--region", "ZJ", "--region", "operator", "--drop-old")[0] == 0
    last = read_trust_list(layout)
    for entity_id in (zj.entity_id, OPERATOR_ENTITY):
        assert last.member(entity_id).tls_fingerprints == (_on_disk(layout, entity_id),)
    assert last.version == before.version + 3


def test_reissue_refuses_a_directory_without_the_ca_key(tmp_path: Path) -> None:
    directory = make_federation(tmp_path / "fed")
    layout = Layout(directory)
    layout.ca_key.unlink()  # as on a region's own host
    before = _snapshot(directory)
    code, output = _reissue(directory)
    assert code == 7, output  # FAILED_PRECONDITION
    message = json.loads(output)["message"]
    assert "holds no CA key" in message
    assert "yrd federation reissue-tls --dir DIR" in message
    assert _snapshot(directory) == before


def test_an_expired_list_is_renewed_and_a_forged_one_refused(tmp_path: Path) -> None:
    """A federation stopped for longer than the list's lifetime can still be re-issued: the
    signature is checked, the lifetime starts again; a list the anchor did not sign is not."""
    directory = make_federation(tmp_path / "fed")
    layout = Layout(directory)
    trust = read_trust_list(layout)
    long_ago = trust.issued_at - 30 * 24 * 3600
    write_trust_list(layout, replace(trust, issued_at=long_ago, expires_at=long_ago + 3600))
    with pytest.raises(Unauthenticated, match="expired"):
        read_trust_list(layout)
    code, output = _reissue(directory, "--region", "SH")
    assert code == 0, output
    renewed = read_trust_list(layout)  # verifies, and is fresh again
    assert renewed.version == trust.version + 1
    assert renewed.expires_at > renewed.issued_at >= trust.issued_at

    forger = SigningKey.for_suite("ed25519")
    layout.trust_signed.write_text(sign_trust_list(replace(renewed, version=99), forger))
    before = _snapshot(directory)
    code, output = _reissue(directory)
    assert code == 3, output  # UNAUTHENTICATED
    assert _snapshot(directory) == before


def test_reissue_refuses_an_unknown_region(tmp_path: Path) -> None:
    directory = make_federation(tmp_path / "fed")
    before = _snapshot(directory)
    code, output = _reissue(directory, "--region", "XX")
    assert code != 0, output
    assert _snapshot(directory) == before


def _retire(directory: Path, *extra: str) -> tuple[int, str]:
    args = ["federation", "retire-old-tls", "--dir", str(directory), *extra]
    result = CliRunner().invoke(root, args)
    return result.exit_code, result.output


def test_running_nodes_keep_working_through_a_rolling_reissue(tmp_path: Path) -> None:
    """Nodes not yet restarted present their old certificate: the kept fingerprint admits them,
    and `retire-old-tls` unlists it only once no running node presents it any more."""
    directory = make_federation(tmp_path / "fed")
    layout = Layout(directory)
    with Federation(directory, regions=RUNNING) as fed, FederationClient(directory) as old:
        code, output = _reissue(directory)
        assert code == 0, output
        version = json.loads(output)["trust_list_version"]

        def holds(wanted: int, client: FederationClient = old) -> None:
            for region in RUNNING:
                held = client.status(region, probe_peers=False).trust_list_version
                assert held >= wanted, (region, held)

        eventually(lambda: holds(version), timeout_s=30)
        # ZJ calls the hub with its old certificate; the console still uses the old one too
        before_restart = new_citizen()
        assert old.register("ZJ", "natural", before_restart, "王芳", PASSWORD).subject_id
        unchanged = _material(directory)
        code, output = _retire(directory, "--region", "ZJ")
        assert code == 7, output  # FAILED_PRECONDITION: ZJ still presents its old certificate
        assert "still presents another certificate" in json.loads(output)["message"]
        assert _material(directory) == unchanged

        fed.stop_node(Region.ZJ)
        fed.start_node(Region.ZJ)  # now presenting its new certificate
        code, output = _retire(directory, "--region", "ZJ")
        assert code == 0, output
        (zj,) = json.loads(output)["members"]
        assert zj["presented_at"] == [read_trust_list(layout).member(zj["entity_id"]).endpoint]
        assert len(zj["dropped"]) == 1
        assert read_trust_list(layout).member(Region.ZJ.entity_id).tls_fingerprints == (
            _on_disk(layout, Region.ZJ.entity_id),
        )
        assert _retire(directory)[0] == 7  # the hub and SH have not restarted yet
        for region in (Region.HUB, Region.SH):
            fed.stop_node(region)
            fed.start_node(region)
        code, output = _retire(directory)
        assert code == 0, output
        retired = json.loads(output)
        for member in retired["members"]:  # JS and AH do not run: they start on the new ones
            assert read_trust_list(layout).member(member["entity_id"]).tls_fingerprints == (
                member["fingerprint"],
            )
        assert _retire(directory)[0] == 0  # nothing left to drop: no new version
        assert read_trust_list(layout).version == retired["trust_list_version"]

        with FederationClient(directory) as client:
            eventually(lambda: holds(retired["trust_list_version"], client), timeout_s=30)
            with pytest.raises(PermissionDenied):  # the console's outgoing certificate
                old.status(Region.SH, probe_peers=False)
            login = client.login("ZJ", before_restart, PASSWORD, ["SH"])
            verified = client.verify_token("SH", login.tokens[Region.SH.entity_id])
            assert verified.claims.sub == before_restart
            after_restart = new_citizen()
            assert client.register("ZJ", "natural", after_restart, "李明", PASSWORD).subject_id
