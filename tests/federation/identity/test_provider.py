"""Tests for the home region's identity provider: registration, login, tokens, logout."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from federation.clock import FixedClock
from federation.codes import make_citizen_id, make_credit_code
from federation.crypto.jose import SigningKey, b64url_decode
from federation.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from federation.identity.assurance import Assurance
from federation.identity.homes import HomeAttestation, HomeRegistry, verify_home_attestation
from federation.identity.provider import (
    SESSION_TTL_S,
    FaceCheckResult,
    IdentityProvider,
    validate_face_template,
)
from federation.identity.tokens import TokenVerifier
from federation.regions import Region
from federation.storage import open_store
from federation.storage.base import Store, SubjectHome
from federation.trust.trustlist import Member, TrustList

NOW = 1_750_000_000.0
SH, ZJ, JS = Region.SH.entity_id, Region.ZJ.entity_id, Region.JS.entity_id
KEY = SigningKey.generate()
AUDIENCES = {r.code: r.entity_id for r in Region if r.is_province}
CITIZEN = make_citizen_id("310101", datetime.date(1990, 1, 1), 123)
CITIZEN_X = "31010119900101008X"
COMPANY = make_credit_code("9", "1", "310115", "MA1FL8X0")
PASSWORD = "correct horse battery"
TEMPLATE = [0.1 * ((i % 7) - 3) + 0.05 for i in range(128)]
HUB = Region.HUB.entity_id
HUB_KEY = SigningKey.generate()
TRUST = TrustList(
    1,
    int(NOW),
    int(NOW) + 10**6,
    "ab" * 32,
    (
        Member(HUB, "100000", "hub", ("hub",), "", (), (HUB_KEY.jwk,)),
        Member(SH, "310000", "Shanghai", ("region",), "", (), (KEY.jwk,)),
    ),
)


class FakeHub:
    """Stands in for the hub's home registry (the real HomeRegistry on a dict) as seen from
    `region`; regions sharing `homes` share one registry."""

    def __init__(self, region: str = "310000", homes: dict[str, SubjectHome] | None = None):
        self.region = region
        self.homes: dict[str, SubjectHome] = {} if homes is None else homes
        self.down = False
        self.claims: list[str] = []
        self.registry = HomeRegistry(
            claim=lambda home: self.homes.setdefault(home.subject_id, home),
            signing_key=lambda: HUB_KEY,
            hub_entity_id=HUB,
            clock=FixedClock(NOW),
        )

    def claim(self, subject_id: str, kind: str) -> str:
        if self.down:
            raise Unavailable("hub home registry: connection refused")
        self.claims.append(subject_id)
        return self.registry.claim(self.region, subject_id, kind)

    def check(self, attestation: str, now: float) -> HomeAttestation:
        return verify_home_attestation(attestation, TRUST, now)


class FakeFace:
    """Stands in for the hub: answers a fixed match/no-match and records the calls."""

    def __init__(self, match: bool = True) -> None:
        self.match = match
        self.checks: list[tuple[str, list[float]]] = []
        self.enrolments: list[tuple[str, str, list[float]]] = []

    def check(self, subject_id: str, template: Sequence[float]) -> FaceCheckResult:
        self.checks.append((subject_id, list(template)))
        score = 0.97 if self.match else 0.12
        return FaceCheckResult(self.match, score, f"assertion-for-{subject_id}")

    def enrol(self, subject_id: str, kind: str, template: Sequence[float]) -> None:
        self.enrolments.append((subject_id, kind, list(template)))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store("sqlite:///" + str(tmp_path / "s.sqlite3"))
    yield s
    s.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def face() -> FakeFace:
    return FakeFace()


def make_idp(
    store: Store,
    clock: FixedClock,
    face: FakeFace | None,
    hub: FakeHub | None = None,
    **kw: object,
) -> IdentityProvider:
    hub = hub or FakeHub()
    return IdentityProvider(
        region_code="310000",
        entity_id=SH,
        store=store,
        signing_key=lambda: KEY,
        audiences=lambda: AUDIENCES,
        clock=clock,
        face_check=face.check if face else None,
        face_enrol=face.enrol if face else None,
        home_claim=hub.claim,
        home_check=hub.check,
        password_cost_log2=10,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def idp(store: Store, clock: FixedClock, face: FakeFace) -> IdentityProvider:
    return make_idp(store, clock, face)


@pytest.fixture
def registered(idp: IdentityProvider) -> IdentityProvider:
    idp.register("natural", CITIZEN, "张三", PASSWORD)
    return idp


def claims(token: str) -> dict[str, object]:
    return dict(json.loads(b64url_decode(token.split(".")[1])))


def verifier_at(audience: str, store: Store, clock: FixedClock) -> TokenVerifier:
    return TokenVerifier(
        audience,
        lambda: TRUST,
        lambda aud, jti, exp: store.remember_jti(aud, jti, exp, clock.now()),
        lambda iss, sid: any(r.session_id == sid for r in store.revoked_sessions(0, clock.now())),
    )


# --- registration ------------------------------------------------------------------------------


def test_register_natural_person(idp: IdentityProvider, store: Store) -> None:
    record = idp.register("natural", f" {CITIZEN} ", "  张三 ", PASSWORD)
    assert record.subject_id == CITIZEN and record.name == "张三"
    assert record.home_region == "310000" and record.kind == "natural"
    assert record.created_at == NOW
    assert record.password_hash.startswith("$scrypt$ln=10,")
    assert PASSWORD not in record.password_hash
    assert store.get_subject(CITIZEN) == record


def test_register_legal_person(idp: IdentityProvider) -> None:
    record = idp.register("legal", COMPANY.lower(), "上海某某科技有限公司", PASSWORD)
    assert record.subject_id == COMPANY and record.kind == "legal"


def test_register_normalises_a_lower_case_check_x(idp: IdentityProvider) -> None:
    assert idp.register("natural", CITIZEN_X.lower(), "李四", PASSWORD).subject_id == CITIZEN_X


@pytest.mark.parametrize(
    ("kind", "subject_id", "message"),
    [
        ("natural", "31010119900101012", "18 characters"),
        ("natural", CITIZEN[:-1] + str((int(CITIZEN[-1]) + 1) % 10), "check char is wrong"),
        ("natural", "310101199002301234", "not a real date"),
        ("natural", "31010119900101A234", "only the digits"),
        ("natural", COMPANY, None),
        ("legal", COMPANY[:-1] + ("0" if COMPANY[-1] != "0" else "1"), "check char is wrong"),
        ("legal", CITIZEN, None),
        ("person", CITIZEN, "subject kind must be one of"),
        ("", CITIZEN, "subject kind"),
    ],
)
def test_register_refuses_invalid_ids(
    idp: IdentityProvider, store: Store, kind: str, subject_id: str, message: str | None
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        idp.register(kind, subject_id, "张三", PASSWORD)
    assert store.get_subject(subject_id.strip().upper()) is None


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "empty"), ("   ", "empty"), ("x" * 101, "longer than 100"),
     ("张\x00三", "control"), ("Zhang\nSan", "control"), ("a\tb", "control")],
)
def test_register_refuses_bad_names(idp: IdentityProvider, name: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        idp.register("natural", CITIZEN, name, PASSWORD)


def test_register_accepts_a_name_of_exactly_100_characters(idp: IdentityProvider) -> None:
    assert len(idp.register("natural", CITIZEN, "名" * 100, PASSWORD).name) == 100


@pytest.mark.parametrize("name", ["Zhang\x7fSan", "Zhang\x85San", "Zhang\x9bSan"])
def test_register_refuses_del_and_c1_control_characters(idp: IdentityProvider, name: str) -> None:
    with pytest.raises(InvalidArgument, match="control"):
        idp.register("natural", CITIZEN, name, PASSWORD)


@pytest.mark.parametrize(
    "password", ["short1!", "1234567890", "aaaaaaaaaa", "Password123", "pass\x00word1", "x" * 1025]
)
def test_register_refuses_weak_passwords(
    idp: IdentityProvider, store: Store, password: str
) -> None:
    with pytest.raises(InvalidArgument, match="password"):
        idp.register("natural", CITIZEN, "张三", password)
    assert store.get_subject(CITIZEN) is None


@pytest.mark.parametrize("password", [f"my id is {CITIZEN}", "Zhang Weiming 1990!"])
def test_register_refuses_a_password_containing_own_identifiers(
    idp: IdentityProvider, password: str
) -> None:
    with pytest.raises(InvalidArgument, match="own identifiers"):
        idp.register("natural", CITIZEN, "Zhang Weiming", password)


def test_duplicate_registration_is_already_exists(registered: IdentityProvider) -> None:
    with pytest.raises(AlreadyExists):
        registered.register("natural", CITIZEN, "张三", "another pass phrase")
    with pytest.raises(AlreadyExists):
        registered.register("natural", f"  {CITIZEN.lower()}", "张三", PASSWORD)


# --- authentication ----------------------------------------------------------------------------


def test_authenticate_low_issues_tokens_per_audience(
    registered: IdentityProvider, store: Store, clock: FixedClock
) -> None:
    result = registered.authenticate(CITIZEN, PASSWORD, ["330000", JS])
    assert result.assurance is Assurance.LOW
    assert result.expires_at == NOW + SESSION_TTL_S
    assert result.face_assertion == ""
    assert set(result.tokens) == {ZJ, JS}
    session = store.get_session(result.session_id)
    assert session is not None and session.acr == "urn:yrd:loa:low"
    assert result.session_secret not in session.secret_hash
    zj = claims(result.tokens[ZJ])
    assert (zj["iss"], zj["sub"], zj["aud"]) == (SH, CITIZEN, ZJ)
    assert zj["sid"] == result.session_id and zj["amr"] == ["pwd"]
    assert zj["exp"] == int(NOW) + 600 and zj["name"] == "张三" and zj["sub_kind"] == "natural"
    assert claims(result.tokens[JS])["jti"] != zj["jti"]
    # and the tokens verify offline at their audience
    verified = verifier_at(ZJ, store, clock).verify(result.tokens[ZJ], Assurance.LOW, NOW)
    assert verified.subject == CITIZEN
    assert result.to_dict()["acr"] == "urn:yrd:loa:low"


def test_wrong_password_and_unknown_subject_look_the_same(registered: IdentityProvider) -> None:
    with pytest.raises(Unauthenticated) as wrong:
        registered.authenticate(CITIZEN, "not the password", ["330000"])
    other = make_citizen_id("320102", datetime.date(1980, 2, 3), 7)
    with pytest.raises(Unauthenticated) as unknown:
        registered.authenticate(other, PASSWORD, ["330000"])
    with pytest.raises(Unauthenticated) as garbage:
        registered.authenticate("not-an-id", PASSWORD, ["330000"])
    assert wrong.value.message == unknown.value.message == garbage.value.message
    assert "password" in wrong.value.message


def test_login_with_the_id_as_typed_at_registration(idp: IdentityProvider) -> None:
    idp.register("natural", CITIZEN_X.lower(), "李四", PASSWORD)
    assert idp.authenticate(CITIZEN_X.lower(), PASSWORD, ["330000"]).tokens


def test_audiences_by_code_or_entity_id(registered: IdentityProvider) -> None:
    assert registered.resolve_audience("330000") == ZJ
    assert registered.resolve_audience(ZJ) == ZJ
    result = registered.authenticate(CITIZEN, PASSWORD, ["340000", Region.AH.entity_id])
    assert set(result.tokens) == {Region.AH.entity_id}


@pytest.mark.parametrize("audience", ["110000", "yrd:bj:110000", "ZJ", "zhejiang", ""])
def test_unknown_audience_is_refused_before_the_password_is_checked(
    registered: IdentityProvider, store: Store, audience: str
) -> None:
    for password in (PASSWORD, "wrong password!"):
        with pytest.raises(InvalidArgument, match="unknown audience"):
            registered.authenticate(CITIZEN, password, ["330000", audience])


def test_no_audience_is_refused(registered: IdentityProvider) -> None:
    with pytest.raises(InvalidArgument, match="at least one audience"):
        registered.authenticate(CITIZEN, PASSWORD, [])


@pytest.mark.parametrize("level", [Assurance.SUBSTANTIAL, Assurance.HIGH])
def test_substantial_and_high_require_a_face(
    registered: IdentityProvider, level: Assurance
) -> None:
    with pytest.raises(InvalidArgument, match="requires a face template"):
        registered.authenticate(CITIZEN, PASSWORD, ["330000"], requested=level)


@pytest.mark.parametrize("level", [Assurance.SUBSTANTIAL, Assurance.HIGH])
def test_face_match_raises_the_level(
    registered: IdentityProvider, face: FakeFace, store: Store, level: Assurance
) -> None:
    result = registered.authenticate(
        CITIZEN, PASSWORD, ["330000"], requested=level, face_template=TEMPLATE
    )
    assert result.assurance is level
    assert result.face_assertion == f"assertion-for-{CITIZEN}"
    assert face.checks == [(CITIZEN, TEMPLATE)]
    token = claims(result.tokens[ZJ])
    assert token["acr"] == level.acr and token["amr"] == ["pwd", "face"]
    session = store.get_session(result.session_id)
    assert session is not None and session.acr == level.acr


class CountingStore:
    """Delegates to a real store and counts the sessions it is asked to open."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.sessions_added = 0

    def add_session(self, session: object) -> None:
        self.sessions_added += 1
        self.inner.add_session(session)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_face_no_match_is_unauthenticated_and_opens_no_session(
    store: Store, clock: FixedClock
) -> None:
    face = FakeFace(match=False)
    counting = CountingStore(store)
    idp = make_idp(counting, clock, face)  # type: ignore[arg-type]
    idp.register("natural", CITIZEN, "张三", PASSWORD)
    refused = r"face verification failed at the hub \(similarity 0\.120\)"
    with pytest.raises(Unauthenticated, match=refused):
        idp.authenticate(CITIZEN, PASSWORD, ["330000"], Assurance.HIGH, TEMPLATE)
    assert len(face.checks) == 1
    assert counting.sessions_added == 0
    face.match = True
    idp.authenticate(CITIZEN, PASSWORD, ["330000"], Assurance.HIGH, TEMPLATE)
    assert counting.sessions_added == 1


def test_face_is_not_checked_after_a_wrong_password(
    registered: IdentityProvider, face: FakeFace
) -> None:
    with pytest.raises(Unauthenticated):
        registered.authenticate(CITIZEN, "wrong password!", ["330000"], Assurance.HIGH, TEMPLATE)
    assert face.checks == []


def test_face_without_hub_connection_is_failed_precondition(
    store: Store, clock: FixedClock
) -> None:
    idp = make_idp(store, clock, None)
    idp.register("natural", CITIZEN, "张三", PASSWORD)
    with pytest.raises(FailedPrecondition, match="no hub connection"):
        idp.authenticate(CITIZEN, PASSWORD, ["330000"], Assurance.HIGH, TEMPLATE)
    with pytest.raises(FailedPrecondition, match="no hub connection"):
        idp.enrol_face(CITIZEN, PASSWORD, TEMPLATE)
    # low needs no hub
    assert idp.authenticate(CITIZEN, PASSWORD, ["330000"]).assurance is Assurance.LOW


@pytest.mark.parametrize(
    "template",
    [[0.1] * 63, [0.1] * 1025, [0.0] * 128, [*TEMPLATE[:-1], float("nan")],
     [*TEMPLATE[:-1], float("inf")]],
)
def test_invalid_face_templates_never_reach_the_hub(
    registered: IdentityProvider, face: FakeFace, template: list[float]
) -> None:
    with pytest.raises(InvalidArgument, match="face template"):
        registered.authenticate(CITIZEN, PASSWORD, ["330000"], Assurance.HIGH, template)
    assert face.checks == []


def test_validate_face_template_bounds() -> None:
    assert validate_face_template([1] * 64) == [1.0] * 64
    assert len(validate_face_template([0.5] * 1024)) == 1024


def test_enrol_face(registered: IdentityProvider, face: FakeFace, store: Store) -> None:
    registered.enrol_face(CITIZEN, PASSWORD, TEMPLATE)
    assert face.enrolments == [(CITIZEN, "natural", TEMPLATE)]
    stored = store.get_face_template(CITIZEN)
    assert stored is not None and stored == pytest.approx(TEMPLATE, rel=1e-6)
    with pytest.raises(Unauthenticated):
        registered.enrol_face(CITIZEN, "wrong password!", TEMPLATE)
    assert len(face.enrolments) == 1


# --- sessions ----------------------------------------------------------------------------------


def test_issue_token_from_the_session(
    registered: IdentityProvider, store: Store, clock: FixedClock
) -> None:
    login = registered.authenticate(CITIZEN, PASSWORD, ["330000"], Assurance.HIGH, TEMPLATE)
    clock.advance(120)
    token = registered.issue_token(login.session_id, login.session_secret, "320000")
    verified = verifier_at(JS, store, clock).verify(token, Assurance.HIGH, clock.now())
    assert verified.session_id == login.session_id
    assert verified.assurance is Assurance.HIGH and verified.amr == ("pwd", "face")
    assert verified.issued_at == int(NOW) + 120


def test_issue_token_refusals(registered: IdentityProvider) -> None:
    login = registered.authenticate(CITIZEN, PASSWORD, ["330000"])
    with pytest.raises(Unauthenticated, match="wrong session secret"):
        registered.issue_token(login.session_id, "guess", "320000")
    with pytest.raises(NotFound):
        registered.issue_token("no-such-session", login.session_secret, "320000")
    with pytest.raises(InvalidArgument, match="unknown audience"):
        registered.issue_token(login.session_id, login.session_secret, "110000")


def test_logout_then_issue_token_is_refused(
    registered: IdentityProvider, store: Store, clock: FixedClock
) -> None:
    login = registered.authenticate(CITIZEN, PASSWORD, ["330000"])
    clock.advance(5)
    revoked = registered.logout(login.session_id, login.session_secret)
    assert revoked.revoked_at == NOW + 5
    with pytest.raises(Unauthenticated, match="logged out"):
        registered.issue_token(login.session_id, login.session_secret, "320000")
    with pytest.raises(Unauthenticated, match="logged out"):
        registered.logout(login.session_id, login.session_secret)
    # a token minted before the logout is refused where revocations are known
    with pytest.raises(Unauthenticated, match="logged out"):
        verifier_at(ZJ, store, clock).verify(login.tokens[ZJ], Assurance.LOW, clock.now())


def test_logout_needs_the_secret(registered: IdentityProvider, store: Store) -> None:
    login = registered.authenticate(CITIZEN, PASSWORD, ["330000"])
    with pytest.raises(Unauthenticated):
        registered.logout(login.session_id, "guess")
    session = store.get_session(login.session_id)
    assert session is not None and session.revoked_at is None


def test_expired_session_is_refused(registered: IdentityProvider, clock: FixedClock) -> None:
    login = registered.authenticate(CITIZEN, PASSWORD, ["330000"])
    clock.advance(SESSION_TTL_S - 100)
    near_end = claims(registered.issue_token(login.session_id, login.session_secret, "320000"))
    # a token never outlives its session
    assert near_end["exp"] == int(NOW) + SESSION_TTL_S
    clock.advance(100)
    registered.issue_token(login.session_id, login.session_secret, "320000")
    clock.advance(1)
    with pytest.raises(Unauthenticated, match="expired"):
        registered.issue_token(login.session_id, login.session_secret, "320000")


def test_token_ttl_is_configurable(store: Store, clock: FixedClock, face: FakeFace) -> None:
    idp = make_idp(store, clock, face, token_ttl_s=90)
    idp.register("natural", CITIZEN, "张三", PASSWORD)
    token = claims(idp.authenticate(CITIZEN, PASSWORD, ["330000"]).tokens[ZJ])
    assert token["exp"] == int(NOW) + 90


def test_issue_token_for_a_subject_no_longer_registered(
    store: Store, clock: FixedClock, face: FakeFace, tmp_path: Path
) -> None:
    idp = make_idp(store, clock, face)
    idp.register("natural", CITIZEN, "张三", PASSWORD)
    login = idp.authenticate(CITIZEN, PASSWORD, ["330000"])
    session = store.get_session(login.session_id)
    assert session is not None
    # the same session record in a store that never saw the subject
    other = open_store("sqlite:///" + str(tmp_path / "other.sqlite3"))
    other.add_session(session)
    try:
        lonely = make_idp(other, clock, face)
        with pytest.raises(PermissionDenied, match="no longer registered"):
            lonely.issue_token(login.session_id, login.session_secret, "320000")
    finally:
        other.close()


# --- one person, one home ----------------------------------------------------------------------


def test_registration_claims_the_home_and_tokens_carry_the_attestation(
    store: Store, clock: FixedClock, face: FakeFace
) -> None:
    hub = FakeHub()
    idp = make_idp(store, clock, face, hub)
    record = idp.register("natural", CITIZEN, "张三", PASSWORD)
    assert hub.claims == [CITIZEN] and hub.homes[CITIZEN].home_region == "310000"
    home = verify_home_attestation(record.home_attestation, TRUST, NOW)
    assert (home.subject, home.home_region, home.subject_kind) == (CITIZEN, "310000", "natural")
    token = idp.authenticate(CITIZEN, PASSWORD, ["330000"]).tokens[ZJ]
    assert claims(token)["home_att"] == record.home_attestation
    assert hub.claims == [CITIZEN]  # a stored attestation that verifies needs no hub call
    assert verifier_at(ZJ, store, clock).verify(token, Assurance.LOW, NOW).subject == CITIZEN


def test_registration_without_the_hub_registers_nothing(
    store: Store, clock: FixedClock, face: FakeFace
) -> None:
    hub = FakeHub()
    hub.down = True
    with pytest.raises(Unavailable, match="connection refused"):
        make_idp(store, clock, face, hub).register("natural", CITIZEN, "张三", PASSWORD)
    assert store.get_subject(CITIZEN) is None


def test_a_subject_homed_elsewhere_is_not_registered_here(
    store: Store, clock: FixedClock, face: FakeFace, tmp_path: Path
) -> None:
    zj_hub = FakeHub("330000")
    zj_hub.claim(CITIZEN, "natural")  # registered at Zhejiang first
    sh_hub = FakeHub("310000", zj_hub.homes)
    with pytest.raises(AlreadyExists, match="home region 330000; region 310000 may not"):
        make_idp(store, clock, face, sh_hub).register("natural", CITIZEN, "李四", PASSWORD)
    assert store.get_subject(CITIZEN) is None


def test_registration_is_retried_safely_after_a_crash_between_hub_and_store(
    store: Store, clock: FixedClock, face: FakeFace
) -> None:
    hub = FakeHub()
    hub.claim(CITIZEN, "natural")  # the hub answered, the region never stored the subject
    assert make_idp(store, clock, face, hub).register("natural", CITIZEN, "张三", PASSWORD)


def test_a_wrong_attestation_from_the_hub_registers_nothing(
    store: Store, clock: FixedClock, face: FakeFace
) -> None:
    hub = FakeHub("330000")  # answers an attestation naming Zhejiang to Shanghai's idp
    with pytest.raises(FailedPrecondition, match="attested home 330000"):
        make_idp(store, clock, face, hub).register("natural", CITIZEN, "张三", PASSWORD)
    assert store.get_subject(CITIZEN) is None


def test_a_subject_registered_before_attestations_is_attested_at_login(
    store: Store, clock: FixedClock, face: FakeFace, tmp_path: Path
) -> None:
    hub = FakeHub()
    idp = make_idp(store, clock, face, hub)
    old = idp.register("natural", CITIZEN, "张三", PASSWORD)
    store.set_home_attestation(CITIZEN, "")  # as a schema version 3 subject has it
    hub.down = True
    with pytest.raises(Unavailable):
        idp.authenticate(CITIZEN, PASSWORD, ["330000"])
    hub.down = False
    token = idp.authenticate(CITIZEN, PASSWORD, ["330000"]).tokens[ZJ]
    stored = store.get_subject(CITIZEN)
    assert stored is not None and stored.home_attestation == claims(token)["home_att"]
    assert stored.home_attestation and old.home_attestation
    assert verifier_at(ZJ, store, clock).verify(token, Assurance.LOW, NOW).subject == CITIZEN


def test_a_legacy_duplicate_whose_home_is_elsewhere_gets_no_tokens(
    store: Store, clock: FixedClock, face: FakeFace
) -> None:
    sh_hub = FakeHub()
    idp = make_idp(store, clock, face, sh_hub)
    idp.register("natural", CITIZEN, "张三", PASSWORD)
    store.set_home_attestation(CITIZEN, "")
    # meanwhile Zhejiang claimed the subject (the duplicate existed before the registry)
    sh_hub.homes[CITIZEN] = SubjectHome(CITIZEN, "natural", "330000", NOW)
    with pytest.raises(PermissionDenied, match=r"not this subject's home: .* home region 330000"):
        idp.authenticate(CITIZEN, PASSWORD, ["330000"])


def test_face_enrolment_of_a_subject_registered_before_attestations_claims_its_home_first(
    store: Store, clock: FixedClock, face: FakeFace
) -> None:
    hub = FakeHub()
    idp = make_idp(store, clock, face, hub)
    idp.register("natural", CITIZEN, "张三", PASSWORD)
    store.set_home_attestation(CITIZEN, "")
    hub.homes.clear()  # the hub's registry predates this subject
    idp.enrol_face(CITIZEN, PASSWORD, TEMPLATE)
    assert hub.homes[CITIZEN].home_region == "310000"
    assert [e[0] for e in face.enrolments] == [CITIZEN]
    stored = store.get_subject(CITIZEN)
    assert stored is not None and stored.home_attestation
