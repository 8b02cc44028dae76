"""Round-trip tests for the pure proto <-> domain conversions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.errors import InvalidArgument
from federation.identity.assurance import Assurance
from federation.identity.provider import LoginResult
from federation.identity.tokens import TokenClaims
from federation.licences import LicenceStatus, LicenceVerdict
from federation.licences.challenge import Challenge
from federation.licences.registry import LicenceSummary
from federation.licences.verification import Verdict
from federation.storage.base import LicenceRecord, Revocation
from nodes.convert import (
    claims_from_proto,
    claims_to_proto,
    document_to_proto,
    login_from_proto,
    login_to_proto,
    revocation_from_proto,
    revocation_to_proto,
    summary_from_proto,
    summary_to_proto,
    verdict_from_proto,
    verdict_to_proto,
)
from nodes.convert.licences import challenge_from_proto, challenge_to_proto
from nodes.pb.v1 import common_pb2, identity_pb2
from tests._support.licences import make_world

WORLD = make_world()
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

token_claims = st.builds(
    TokenClaims,
    issuer=st.text(),
    subject=st.text(),
    audience=st.text(),
    issued_at=INT64,
    expires_at=INT64,
    jti=st.text(),
    assurance=st.sampled_from(Assurance),
    session_id=st.text(),
    home_region=st.text(),
    subject_kind=st.sampled_from(["natural", "legal", ""]),
    name=st.text(),
    amr=st.lists(st.text(max_size=8), max_size=4).map(tuple),
)

revocations = st.builds(
    Revocation,
    session_id=st.text(),
    revoked_at=st.floats(allow_nan=False),
    expires_at=st.floats(allow_nan=False),
)


@settings(deadline=None)
@given(token_claims)
def test_claims_round_trip(claims: TokenClaims) -> None:
    message = claims_to_proto(claims)
    assert isinstance(message, common_pb2.TokenClaims)
    assert claims_from_proto(message) == claims
    # and across the wire
    wire = common_pb2.TokenClaims.FromString(message.SerializeToString())
    assert claims_from_proto(wire) == claims


def test_claims_fields_map_by_name() -> None:
    claims = TokenClaims(
        issuer="yrd:sh:310000",
        subject="310101199001011234",
        audience="yrd:zj:330000",
        issued_at=1_750_000_000,
        expires_at=1_750_000_600,
        jti="j" * 24,
        assurance=Assurance.HIGH,
        session_id="sid",
        home_region="310000",
        subject_kind="natural",
        name="张三",
        amr=("pwd", "face"),
    )
    message = claims_to_proto(claims)
    assert (message.iss, message.sub, message.aud) == (
        "yrd:sh:310000",
        "310101199001011234",
        "yrd:zj:330000",
    )
    assert (message.iat, message.exp, message.jti, message.sid) == (
        1_750_000_000,
        1_750_000_600,
        "j" * 24,
        "sid",
    )
    assert message.acr == "urn:yrd:loa:high"
    assert message.home_region == "310000"
    assert (message.subject_kind, message.name) == ("natural", "张三")
    assert list(message.amr) == ["pwd", "face"]


@pytest.mark.parametrize("acr", ["", "urn:yrd:loa:medium"])
def test_claims_with_an_unknown_acr_are_invalid_argument(acr: str) -> None:
    with pytest.raises(InvalidArgument, match="level of assurance"):
        claims_from_proto(common_pb2.TokenClaims(iss="x", acr=acr))


@settings(deadline=None)
@given(revocations)
def test_revocations_round_trip(rev: Revocation) -> None:
    message = revocation_to_proto(rev)
    assert isinstance(message, identity_pb2.Revocation)
    assert revocation_from_proto(message) == rev
    wire = identity_pb2.Revocation.FromString(message.SerializeToString())
    assert revocation_from_proto(wire) == rev


def test_revocation_keeps_sub_second_times() -> None:
    rev = Revocation("sid", 1_750_000_000.123456, 1_750_028_800.654321)
    again = revocation_from_proto(revocation_to_proto(rev))
    assert again.revoked_at == 1_750_000_000.123456
    assert again.expires_at == 1_750_028_800.654321


# --- licences -----------------------------------------------------------------------------
summaries = st.builds(
    LicenceSummary,
    identifier=st.text(),
    type_code=st.text(),
    licence_name=st.text(),
    issuing_region=st.text(),
    authority_name=st.text(),
    valid_until=st.text(),
    status=st.sampled_from(["valid", "suspended", "revoked"]),
)


@given(st.builds(Challenge, nonce=st.text(), audience=st.text(), expires_at=INT64))
def test_challenge_round_trips(challenge: Challenge) -> None:
    assert challenge_from_proto(challenge_to_proto(challenge)) == challenge


@given(summaries)
def test_summary_round_trips(summary: LicenceSummary) -> None:
    assert summary_from_proto(summary_to_proto(summary)) == summary


@given(
    st.sampled_from(Verdict),
    st.lists(st.text(max_size=20), max_size=4).map(tuple),
    st.booleans(),
    st.booleans(),
)
def test_verdict_round_trips_with_and_without_the_licence(
    verdict: Verdict, reasons: tuple[str, ...], with_licence: bool, status_checked: bool
) -> None:
    licence = WORLD.driving_licence() if with_licence else None
    value = LicenceVerdict(
        verdict=verdict,
        reasons=reasons,
        identifier=licence.identifier.format() if licence else None,
        type_code=licence.type_code if licence else None,
        licence=licence,
        status_checked=status_checked,
    )
    assert verdict_from_proto(verdict_to_proto(value)) == value


def test_a_verdict_with_a_malformed_licence_is_invalid_argument() -> None:
    message = verdict_to_proto(LicenceVerdict(Verdict.FORGED, ("bad seal",)))
    message.licence_json = "[" * 50 + "]" * 50
    with pytest.raises(InvalidArgument):
        verdict_from_proto(message)


def test_a_document_carries_the_record_and_its_status_list() -> None:
    record = LicenceRecord(
        identifier="1.2.156.3005.2.X",
        request_id="r1",
        request_hash="h",
        type_code="11100000MB0149294B001",
        holder_code="330106198805171242",
        authority_code="A",
        sd_jwt="a.b.c~",
        status_index=7,
        status=int(LicenceStatus.SUSPENDED),
        issued_at=1.0,
        updated_at=2.0,
    )
    doc = document_to_proto(record, "yrd:status:320000", created=True)
    assert (doc.identifier, doc.sd_jwt, doc.status, doc.status_index) == (
        record.identifier,
        record.sd_jwt,
        "suspended",
        7,
    )
    assert doc.status_list_uri == "yrd:status:320000" and doc.created


# --- logins -------------------------------------------------------------------------------
logins = st.builds(
    LoginResult,
    session_id=st.text(),
    session_secret=st.text(),
    assurance=st.sampled_from(Assurance),
    expires_at=st.floats(allow_nan=False, allow_infinity=False),
    tokens=st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=4),
    face_assertion=st.text(),
)


@given(logins)
def test_login_round_trips(result: LoginResult) -> None:
    assert login_from_proto(login_to_proto(result)) == result
