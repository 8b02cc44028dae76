"""Fail closed on real nodes: one home per subject, home-only face enrolment, token-bound lists."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from federation.audit import AuditRecord
from federation.crypto.jose import b64url_decode
from federation.errors import AlreadyExists, PermissionDenied, Unauthenticated, Unavailable
from federation.identity.assurance import Assurance
from federation.identity.tokens import mint_token, unverified_home_attestation
from federation.regions import Region
from federation.storage import open_store
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.demo.licences import DRIVING_FIELDS
from nodes.ops.provisioning import Layout, load_active_signing_key, read_trust_list
from nodes.ops.supervisor import Federation
from nodes.pb.v1 import hub_pb2, hub_pb2_grpc, licence_pb2, licence_pb2_grpc
from nodes.peering.channels import secure_channel
from nodes.tls import TlsMaterial
from tests._support.nodes import new_citizen, template

PASSWORD = "Lotus-pond-2024"
OTHER_PASSWORD = "Attacker-chosen-99"


def region_channel(
    directory: Path, identity: Region, endpoint: str, target: Region
) -> grpc.Channel:
    """A channel to `target` carrying `identity`'s node certificate: we call as that region's
    node does."""
    layout = Layout(directory.resolve())
    node = layout.node_dir(identity)
    tls = TlsMaterial.load(layout.ca_cert, node / "tls.crt", node / "tls.key")
    return secure_channel(endpoint, tls.channel_credentials(), target.entity_id)


@pytest.fixture
def as_sh(fed_dir: Path, client: FederationClient) -> Iterator[dict[Region, grpc.Channel]]:
    """Shanghai's node certificate on channels to the hub and to Jiangsu."""
    channels = {r: region_channel(fed_dir, Region.SH, client.endpoint(r), r) for r in Region}
    yield channels
    for channel in channels.values():
        channel.close()


def audits(fed_dir: Path, node: str, action: str, subject: str) -> list[AuditRecord]:
    store = open_store(load_config(fed_dir / f"{node}.toml").store_url)
    try:
        return [e for e in store.audit_entries() if e.action == action and e.subject == subject]
    finally:
        store.close()


def squatter_token(fed_dir: Path, victim: str, home_att: str, audience: Region) -> str:
    """What a second registration at Shanghai would mint: Shanghai's genuine signature over
    the victim's id, carrying the victim's home attestation copied from any of her tokens."""
    layout = Layout(fed_dir)
    member = read_trust_list(layout).member(Region.SH.entity_id)
    key = load_active_signing_key(layout.signing_dir(Region.SH), member.signing_keys)
    return mint_token(
        key,
        issuer=Region.SH.entity_id,
        subject=victim,
        audience=audience.entity_id,
        session_id="s" * 24,
        assurance=Assurance.LOW,
        home_region=Region.ZJ.code,
        subject_kind="natural",
        name="Squatter",
        amr=("pwd",),
        home_attestation=home_att,
        now=time.time(),
    )


# --- 2. one person, one home ---------------------------------------------------------------------


def test_a_citizen_registered_at_home_cannot_be_registered_in_another_region(
    client: FederationClient, fed_dir: Path
) -> None:
    victim = new_citizen()
    client.register("ZJ", "natural", victim, "Victim", PASSWORD)
    for region in ("SH", "JS", "AH"):
        with pytest.raises(AlreadyExists, match="home region 330000"):
            client.register(region, "natural", victim, "Squatter", OTHER_PASSWORD)
        with pytest.raises(Unauthenticated, match="unknown subject or wrong password"):
            client.login(region, victim, OTHER_PASSWORD, ["JS"])
    # the home is unaffected, and re-registering there is refused locally
    with pytest.raises(AlreadyExists):
        client.register("ZJ", "natural", victim, "Again", PASSWORD)
    assert client.login("ZJ", victim, PASSWORD, ["JS"]).tokens
    refused = audits(fed_dir, "hub", "home.claim", victim)
    assert [e.outcome for e in refused].count("refused:ALREADY_EXISTS") == 3
    assert {e.actor for e in refused if e.outcome != "granted"} == {
        Region.SH.entity_id,
        Region.JS.entity_id,
        Region.AH.entity_id,
    }


def test_tokens_carry_the_hubs_home_attestation(client: FederationClient) -> None:
    subject = new_citizen()
    client.register("ZJ", "natural", subject, "Holder", PASSWORD)
    token = client.login("ZJ", subject, PASSWORD, ["SH"]).tokens[Region.SH.entity_id]
    attestation = unverified_home_attestation(token)
    header = json.loads(b64url_decode(attestation.split(".")[0]))
    claims = json.loads(b64url_decode(attestation.split(".")[1]))
    assert header["typ"] == "home-attestation+jwt"
    assert claims["sub"] == subject and claims["home"] == "330000"
    assert claims["iss"] == Region.HUB.entity_id
    assert client.verify_token("SH", token).claims.sub == subject


def test_a_token_from_a_region_that_is_not_the_home_reads_and_lists_nothing(
    client: FederationClient, fed_dir: Path
) -> None:
    victim = new_citizen()
    client.register("ZJ", "natural", victim, "Victim", PASSWORD)
    doc = client.issue_licence(
        "JS",
        f"home-{victim}",
        "driving_licence",
        victim,
        "Victim",
        DRIVING_FIELDS,
        valid_until="2030-01-01",
    )
    genuine = client.login("ZJ", victim, PASSWORD, ["JS"]).tokens[Region.JS.entity_id]
    home_att = unverified_home_attestation(genuine)
    for region in (Region.JS, Region.AH):
        with pytest.raises(PermissionDenied, match="home region is 330000; region 310000"):
            client.verify_token(region, squatter_token(fed_dir, victim, home_att, region))
    with pytest.raises(PermissionDenied, match="home region is 330000"):
        client.list_holder_licences("JS", squatter_token(fed_dir, victim, home_att, Region.JS))
    with pytest.raises(PermissionDenied, match="home region is 330000"):
        client.fetch_remote_licence(
            "SH",
            "JS",
            doc.identifier,
            "YRD-GA-0001",
            "renewal",
            squatter_token(fed_dir, victim, home_att, Region.JS),
        )
    # without any attestation, or with a copied one for someone else, nothing either
    with pytest.raises(Unauthenticated, match="no home attestation"):
        client.verify_token("JS", squatter_token(fed_dir, victim, "", Region.JS))
    other = new_citizen()
    client.register("SH", "natural", other, "Other", PASSWORD)
    sh_att = unverified_home_attestation(
        client.login("SH", other, PASSWORD, ["JS"]).tokens[Region.JS.entity_id]
    )
    with pytest.raises(Unauthenticated, match="about another subject"):
        client.verify_token("JS", squatter_token(fed_dir, victim, sh_att, Region.JS))


def test_registration_needs_the_hub_and_registers_nothing_without_it(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, fed = small_fed
    with FederationClient(directory) as client:
        subject = new_citizen()
        fed.stop_node(Region.HUB)
        with pytest.raises(Unavailable, match="hub home registry"):
            client.register("ZJ", "natural", subject, "Offline", PASSWORD)
        with pytest.raises(Unauthenticated):
            client.login("ZJ", subject, PASSWORD, ["SH"])
        fed.start_node(Region.HUB)
        client.register("ZJ", "natural", subject, "Online", PASSWORD)
        assert client.login("ZJ", subject, PASSWORD, ["SH"]).tokens


# --- 3. face enrolment only by the home ----------------------------------------------------------


def test_only_the_home_region_enrols_a_face_at_the_hub(
    client: FederationClient, fed_dir: Path, as_sh: dict[Region, grpc.Channel]
) -> None:
    victim = new_citizen()
    client.register("ZJ", "natural", victim, "Victim", PASSWORD)
    hub = hub_pb2_grpc.FaceServiceStub(as_sh[Region.HUB])
    squat = hub_pb2.EnrolFaceTemplateRequest(
        subject_id=victim, subject_kind="natural", template=template(7)
    )
    with pytest.raises(grpc.RpcError) as refused:
        hub.EnrolFaceTemplate(squat, timeout=10)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "home region is 330000" in str(refused.value.details())
    # a subject nobody registered cannot be enrolled first either
    nobody = hub_pb2.EnrolFaceTemplateRequest(
        subject_id=new_citizen(), subject_kind="natural", template=template(7)
    )
    with pytest.raises(grpc.RpcError) as unregistered:
        hub.EnrolFaceTemplate(nobody, timeout=10)
    assert unregistered.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # the true home enrols, and the face verifies
    enrolled = template(8)
    client.enrol_face("ZJ", victim, PASSWORD, enrolled)
    login = client.login("ZJ", victim, PASSWORD, ["SH"], "high", enrolled)
    assert login.acr == Assurance.HIGH.acr
    outcomes = [e.outcome for e in audits(fed_dir, "hub", "face.enrol", victim)]
    assert outcomes == ["refused:PERMISSION_DENIED", "granted"]


# --- 4. ListLocalLicences on the holder's own token ----------------------------------------------


def _list_local(channel: grpc.Channel, holder: str, token: str) -> list[str]:
    stub = licence_pb2_grpc.LicenceServiceStub(channel)
    reply = stub.ListLocalLicences(
        licence_pb2.ListLocalLicencesRequest(holder_code=holder, token=token), timeout=10
    )
    return [s.identifier for s in reply.licences]


def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    return info.value.code()  # type: ignore[no-any-return]


def test_a_region_lists_anothers_licences_only_with_the_holders_token(
    client: FederationClient, fed_dir: Path, as_sh: dict[Region, grpc.Channel]
) -> None:
    holder = new_citizen()
    client.register("ZJ", "natural", holder, "Holder", PASSWORD)
    doc = client.issue_licence(
        "JS",
        f"list-{holder}",
        "driving_licence",
        holder,
        "Holder",
        DRIVING_FIELDS,
        valid_until="2030-01-01",
    )
    login = client.login("ZJ", holder, PASSWORD, ["SH", "AH"])
    for_sh = login.tokens[Region.SH.entity_id]
    js = as_sh[Region.JS]
    # no token, someone else's holder code, a token meant for another region: refused
    assert _code(lambda: _list_local(js, holder, "")) == grpc.StatusCode.UNAUTHENTICATED
    other = new_citizen()
    assert _code(lambda: _list_local(js, other, for_sh)) == grpc.StatusCode.PERMISSION_DENIED
    for_ah = login.tokens[Region.AH.entity_id]
    assert _code(lambda: _list_local(js, holder, for_ah)) == grpc.StatusCode.PERMISSION_DENIED
    # the holder's token meant for the calling region works once per (caller, jti)
    fresh = client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
    assert _list_local(js, holder, fresh) == [doc.identifier]
    assert _code(lambda: _list_local(js, holder, fresh)) == grpc.StatusCode.UNAUTHENTICATED
    # the free-text fields are gone from the wire contract
    fields = licence_pb2.ListLocalLicencesRequest.DESCRIPTOR.fields_by_name
    assert "verified_jti" not in fields and "verified_issuer" not in fields
    outcomes = [e.outcome for e in audits(fed_dir, "js", "licence.list_local", holder)]
    assert outcomes.count("granted") == 1
    assert outcomes.count("refused:UNAUTHENTICATED") == 2
    assert outcomes.count("refused:PERMISSION_DENIED") == 1  # the foreign audience
    refused_other = audits(fed_dir, "js", "licence.list_local", other)
    assert [e.outcome for e in refused_other] == ["refused:PERMISSION_DENIED"]
    # and the aggregation, which forwards the holder's token, still lists everything
    token = client.issue_token("ZJ", login.session_id, login.session_secret, "SH")
    listed = client.list_holder_licences("SH", token, deadline_ms=5000)
    assert all(r.ok for r in listed.regions), [r.error for r in listed.regions if not r.ok]
    by_region = {r.region: [s.identifier for s in r.licences] for r in listed.regions}
    assert by_region["320000"] == [doc.identifier]


# --- 11. the fan-out waits for a starting peer -------------------------------------------------


def test_aggregation_waits_for_a_peer_that_is_starting(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, fed = small_fed
    with FederationClient(directory) as client:
        holder = new_citizen()
        client.register("ZJ", "natural", holder, "Holder", PASSWORD)
        login = client.login("ZJ", holder, PASSWORD, ["ZJ"])
        # Zhejiang's channel to Shanghai fails while Shanghai restarts, then backs off
        fed.stop_node(Region.SH)
        token = client.issue_token("ZJ", login.session_id, login.session_secret, "ZJ")
        down = {r.region: r for r in client.list_holder_licences("ZJ", token, 600).regions}
        assert not down["310000"].ok
        fed.start_node(Region.SH)
        token = client.issue_token("ZJ", login.session_id, login.session_secret, "ZJ")
        started = time.monotonic()
        up = {r.region: r for r in client.list_holder_licences("ZJ", token, 3000).regions}
        assert up["310000"].ok, up["310000"].error
        # JS and AH are not running: reported as not ok, within the deadline
        assert not up["320000"].ok and not up["340000"].ok
        assert time.monotonic() - started < 4.5


def test_the_hubs_home_registry_over_the_wire(
    client: FederationClient, as_sh: dict[Region, grpc.Channel]
) -> None:
    homes = hub_pb2_grpc.HomeRegistryServiceStub(as_sh[Region.HUB])
    zj_subject = new_citizen()
    client.register("ZJ", "natural", zj_subject, "Zhejiang resident", PASSWORD)
    with pytest.raises(grpc.RpcError) as taken:
        homes.ClaimHome(hub_pb2.ClaimHomeRequest(subject_id=zj_subject, subject_kind="natural"))
    assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "home region 330000" in str(taken.value.details())
    with pytest.raises(grpc.RpcError) as bad:
        homes.ClaimHome(hub_pb2.ClaimHomeRequest(subject_id="12345", subject_kind="natural"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # the operator certificate is not a region: it claims nothing
    operator = hub_pb2_grpc.HomeRegistryServiceStub(client.channel(Region.HUB))
    with pytest.raises(grpc.RpcError) as denied:
        operator.ClaimHome(
            hub_pb2.ClaimHomeRequest(subject_id=new_citizen(), subject_kind="natural")
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
