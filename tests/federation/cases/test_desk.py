"""The owner region's case desk on a real SQLite store, with small fakes for the network parts."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.audit import AuditDraft, verify_chain
from federation.cases.catalogue import CatalogueItem, RequiredLicence, starter_catalogue
from federation.cases.desk import (
    CaseDesk,
    IssuedResult,
    Material,
    MaterialFacts,
    Submission,
    case_id_for,
    check_reviewer,
)
from federation.cases.workdays import add_working_days, end_of_day, is_overdue
from federation.clock import CHINA_STANDARD_TIME, FixedClock
from federation.codes import make_citizen_id, make_credit_code
from federation.errors import (
    AlreadyExists,
    FailedPrecondition,
    FederationError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from federation.identity.assurance import Assurance
from federation.identity.tokens import TokenClaims
from federation.storage import open_store
from federation.storage.base import CaseRecord, Store

JS, SH = "320000", "310000"
ITEM = "YRD-JS-QY-0101"  # business registration change: face, substantial, 1 working day
NO_RESULT_ITEM = "YRD-JS-YB-0101"  # medical insurance transfer: no face, no result licence
HIGH_ITEM = "YRD-JS-GA-0101"  # driving licence replacement: high assurance
SH_ITEM = "YRD-SH-QY-0101"
WINDOW = "SH-PD-07"
APPLICANT = make_citizen_id("340104", dt.date(1990, 9, 9), 66)
STRANGER = make_citizen_id("320102", dt.date(1985, 1, 2), 13)
COMPANY = make_credit_code("9", "1", "320506", "MA2AB345")
# Monday 4 March 2024, 10:00 China Standard Time (a working day)
MONDAY_10H = dt.datetime(2024, 3, 4, 10, 0, tzinfo=CHINA_STANDARD_TIME).timestamp()
DAY = 86400.0

BIZ_FIELDS = {
    "holder_name": "苏州湖畔科技有限公司",
    "holder_code": COMPANY,
    "number": "320506000123456",
    "entity_type": "有限责任公司",
    "legal_representative": "李娜",
    "domicile": "苏州工业园区星湖街 328 号",
    "registered_capital": 5_000_000,
}
IDC_FIELDS = {"holder_name": "李娜", "holder_code": APPLICANT, "sex": "female"}
SSC_FIELDS = {"holder_name": "李娜", "holder_code": APPLICANT, "number": "SSC-1"}


# --- fakes for what the nodes do over the network --------------------------------------------
class FakeTokens:
    """Single-use tokens with a level of assurance, checked like TokenVerifier does."""

    def __init__(self) -> None:
        self._claims: dict[str, TokenClaims] = {}
        self._used: set[str] = set()
        self._serial = itertools.count(1)
        self.calls: list[tuple[str, Assurance]] = []

    def mint(self, subject: str = APPLICANT, level: Assurance = Assurance.SUBSTANTIAL) -> str:
        token = f"token-{next(self._serial)}"
        self._claims[token] = TokenClaims(
            issuer="yrd:zj:330000",
            subject=subject,
            audience="yrd:js:320000",
            issued_at=int(MONDAY_10H),
            expires_at=int(MONDAY_10H) + 600,
            jti=token,
            assurance=level,
            session_id="s-" + subject,
            home_region="330000",
            subject_kind="natural",
            name="李娜" if subject == APPLICANT else "王强",
            amr=("pwd", "face") if level >= Assurance.SUBSTANTIAL else ("pwd",),
        )
        return token

    def __call__(self, token: str, required: Assurance) -> TokenClaims:
        self.calls.append((token, required))
        claims = self._claims.get(token)
        if claims is None:
            raise Unauthenticated("not a federated token")
        if claims.assurance < required:
            raise PermissionDenied(
                f"level of assurance {claims.assurance.name.lower()} is below the required "
                f"{required.name.lower()}"
            )
        if token in self._used:
            raise Unauthenticated(f"token {token} was already used here (replay)")
        self._used.add(token)
        return claims


@dataclass
class FakeLicences:
    """Licences the owner region can read: identifier -> (type key, holder, readable fields)."""

    held: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __call__(
        self, material: Material, item: CatalogueItem, required: RequiredLicence, _: TokenClaims
    ) -> MaterialFacts:
        self.calls.append(material.identifier)
        if material.identifier not in self.held:
            raise NotFound(f"no licence {material.identifier}")
        kind, holder, fields = self.held[material.identifier]
        if kind != required.licence_type:
            raise InvalidArgument(f"{material.identifier} is a {kind}")
        granted = {k: v for k, v in fields.items() if k in required.fields}  # the policy's cut
        return MaterialFacts(kind, material.identifier, material.owner_region, holder, granted, "x")


@dataclass
class FakeIssuer:
    fail_with: FederationError | None = None
    revokes: tuple[str, ...] = ()
    calls: list[tuple[CaseRecord, str]] = field(default_factory=list)

    def __call__(self, case: CaseRecord, item: CatalogueItem) -> IssuedResult:
        self.calls.append((case, item.code))
        if self.fail_with is not None:
            raise self.fail_with
        return IssuedResult(f"RESULT-{case.case_id}", self.revokes)


def fake_face(assertion: str, subject: str, window_region: str) -> float:
    if assertion != f"face-ok:{subject}:{window_region}":
        raise PermissionDenied("the face assertion is about another person or window")
    return 0.97


@dataclass
class Desk:
    desk: CaseDesk
    store: Store
    clock: FixedClock
    tokens: FakeTokens
    licences: FakeLicences
    issuer: FakeIssuer

    @property
    def audit(self) -> list[tuple[str, str, str, str, dict[str, Any]]]:
        """The store's audit log: transitions commit their entries there, the rest appends."""
        return [
            (e.actor, e.action, e.outcome, e.subject, dict(e.detail))
            for e in self.store.audit_entries()
        ]

    def submission(self, **changes: Any) -> Submission:
        base = Submission(
            request_id="req-1",
            item_code=ITEM,
            window_region=SH,
            window_id=WINDOW,
            applicant_token=self.tokens.mint(),
            face_assertion=f"face-ok:{APPLICANT}:{SH}",
            materials=(BIZ, IDC),
            on_behalf_of=COMPANY,
            requested={"domicile": "苏州工业园区金鸡湖大道 88 号"},
            delivery_method="electronic",
            note="迁移住所",
        )
        return replace(base, **changes)

    def actions(self) -> list[str]:
        return [entry[1] for entry in self.audit]

    def events(self, case_id: str) -> list[tuple[int, str, str, str]]:
        return [(e.seq, e.from_state, e.to_state, e.actor) for e in self.store.case_events(case_id)]


BIZ = Material("business_licence", "BIZ-1", JS)
IDC = Material("resident_identity_card", "IDC-1", "340000", "consent-ah")


@pytest.fixture
def d(tmp_path: Path) -> Iterator[Desk]:
    store = open_store("sqlite:///" + str(tmp_path / "s.sqlite3"))
    catalogue = starter_catalogue()
    clock = FixedClock(MONDAY_10H)
    tokens = FakeTokens()
    licences = FakeLicences(
        {
            "BIZ-1": ("business_licence", COMPANY, BIZ_FIELDS),
            "BIZ-THIN": (  # a licence the owner can read only part of (domicile not disclosed)
                "business_licence",
                COMPANY,
                {k: v for k, v in BIZ_FIELDS.items() if k != "domicile"},
            ),
            "IDC-1": ("resident_identity_card", APPLICANT, IDC_FIELDS),
            "IDC-2": ("resident_identity_card", APPLICANT, {**IDC_FIELDS, "holder_name": "李 娜"}),
            "IDC-STRANGER": (
                "resident_identity_card",
                STRANGER,
                {**IDC_FIELDS, "holder_code": STRANGER},
            ),
            "SSC-1": ("social_security_card", APPLICANT, SSC_FIELDS),
        }
    )
    issuer = FakeIssuer()
    desk = CaseDesk(
        region_code=JS,
        store=store,
        item_of=catalogue.get,
        verify_token=tokens,
        verify_face=fake_face,
        fetch_material=licences,
        issue_result=issuer,
        audit=lambda actor, action, outcome, subject, detail: store.append_audit(
            AuditDraft(clock.now(), actor, action, outcome, subject, dict(detail))
        ),
        clock=clock,
        working_days=add_working_days,
    )
    try:
        yield Desk(desk, store, clock, tokens, licences, issuer)
    finally:
        store.close()


def under_review(d: Desk, **changes: Any) -> CaseRecord:
    case, created = d.desk.submit(d.submission(**changes))
    assert created
    d.clock.advance(60)
    return d.desk.decide(case.case_id, "start_review", "JS-AMR-reviewer-3")


# --- submission -------------------------------------------------------------------------------
def test_submission_validates_then_files_an_accepted_case(d: Desk) -> None:
    case, created = d.desk.submit(d.submission())
    assert created
    assert case.case_id == case_id_for(JS, SH, "req-1") and case.case_id.startswith("C32-")
    assert case.state == "accepted" and case.version == 2
    assert (case.owner_region, case.window_region, case.window_id) == (JS, SH, WINDOW)
    assert case.applicant_id == APPLICANT and case.item_code == ITEM
    assert case.data["face_score"] == 0.97
    assert case.data["acr"] == Assurance.SUBSTANTIAL.acr
    assert case.data["on_behalf_of"] == COMPANY and case.data["returns"] == 0
    materials = {m["licence_type"]: m for m in case.data["materials"]}
    assert set(materials) == {"business_licence", "resident_identity_card"}
    # only the fields the catalogue lists for the item were kept (no registered_capital, sex)
    assert set(materials["business_licence"]["fields"]) == {
        "holder_name",
        "holder_code",
        "number",
        "entity_type",
        "legal_representative",
        "domicile",
    }
    assert set(materials["resident_identity_card"]["fields"]) == {"holder_name", "holder_code"}
    assert d.events(case.case_id) == [(1, "", "submitted", SH), (2, "submitted", "accepted", JS)]
    assert d.actions() == ["case.submit", "case.accept"]
    assert case.data["requested"] == {"domicile": "苏州工业园区金鸡湖大道 88 号"}
    assert case.data["delivery_method"] == "electronic" and case.data["note"] == "迁移住所"
    assert d.store.list_cases() == [case]


def test_a_retried_submission_returns_the_case_without_checking_again(d: Desk) -> None:
    sub = d.submission()
    first, created = d.desk.submit(sub)
    token_calls, fetches, audits = len(d.tokens.calls), len(d.licences.calls), len(d.audit)
    # the same request again: its one-time token was already spent, yet the retry succeeds
    again, created_again = d.desk.submit(sub)
    assert created and not created_again
    assert again == first
    assert len(d.tokens.calls) == token_calls  # no second token verification
    assert len(d.licences.calls) == fetches and len(d.audit) == audits
    assert len(d.store.case_events(first.case_id)) == 2
    assert d.store.list_cases() == [first]


@pytest.mark.parametrize(
    "change",
    [
        {"note": "another note"},
        {"requested": {"domicile": "elsewhere"}},
        {"materials": (BIZ, Material("resident_identity_card", "IDC-2", "340000", "c"))},
        {"delivery_method": "express"},
        {"window_id": "SH-PD-08"},
    ],
)
def test_the_same_request_id_with_other_content_is_refused(d: Desk, change: dict[str, Any]) -> None:
    first, _ = d.desk.submit(d.submission())
    with pytest.raises(AlreadyExists, match="different content; use a new request id"):
        d.desk.submit(d.submission(**change))
    assert d.store.list_cases() == [first]
    assert d.store.get_case(first.case_id) == first
    assert len(d.store.case_events(first.case_id)) == 2


def test_request_ids_are_scoped_by_window_region(d: Desk) -> None:
    sh, _ = d.desk.submit(d.submission())
    ah, created = d.desk.submit(
        d.submission(window_region="340000", face_assertion=f"face-ok:{APPLICANT}:340000")
    )
    assert created and ah.case_id != sh.case_id
    assert ah.case_id == case_id_for(JS, "340000", "req-1")
    assert len(d.store.list_cases()) == 2


LOW = "low"
REFUSALS: list[tuple[str, dict[str, Any], type[FederationError], str]] = [
    ("unknown item", {"item_code": "YRD-JS-QY-9999"}, NotFound, "not in catalogue"),
    ("item of another region", {"item_code": SH_ITEM}, PermissionDenied, "owned by region 310000"),
    ("assurance below the item", {"applicant_token": LOW}, PermissionDenied, "below the required"),
    (
        "high item, substantial login",
        {"item_code": HIGH_ITEM, "on_behalf_of": ""},
        PermissionDenied,
        "below",
    ),
    ("face missing", {"face_assertion": ""}, PermissionDenied, "requires a face verification"),
    (
        "face of another window",
        {"face_assertion": f"face-ok:{APPLICANT}:340000"},
        PermissionDenied,
        "face assertion",
    ),
    (
        "missing material",
        {"materials": (BIZ,)},
        FailedPrecondition,
        "missing material for item YRD-JS-QY-0101: resident_identity_card",
    ),
    (
        "insufficient fields",
        {"materials": (Material("business_licence", "BIZ-THIN", JS), IDC)},
        FailedPrecondition,
        "insufficient material business_licence: item YRD-JS-QY-0101 needs fields ['domicile']",
    ),
    (
        "material of another holder",
        {"materials": (BIZ, Material("resident_identity_card", "IDC-STRANGER", "340000", "c"))},
        PermissionDenied,
        f"held by {STRANGER}, not by {APPLICANT}",
    ),
    (
        "enterprise of another holder",
        {"on_behalf_of": make_credit_code("9", "1", "320506", "MA2AB346")},
        PermissionDenied,
        f"held by {COMPANY}",
    ),
    ("no enterprise named", {"on_behalf_of": ""}, InvalidArgument, "on_behalf_of"),
    (
        "material the item does not use",
        {"materials": (BIZ, IDC, Material("social_security_card", "SSC-1", JS))},
        InvalidArgument,
        "does not use materials ['social_security_card']",
    ),
    ("unknown delivery method", {"delivery_method": "pigeon"}, InvalidArgument, "delivery_method"),
    (
        "delivery the item does not offer",
        {"item_code": NO_RESULT_ITEM, "delivery_method": "express", "face_assertion": ""},
        InvalidArgument,
        "delivers by ('electronic',), not express",
    ),
    ("no request id", {"request_id": ""}, InvalidArgument, "request_id is required"),
    ("request id too long", {"request_id": "r" * 129}, InvalidArgument, "request_id"),
    ("no window id", {"window_id": ""}, InvalidArgument, "window_id is required"),
    ("note too long", {"note": "x" * 2001}, InvalidArgument, "note longer than 2000"),
]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_refused_submissions_leave_no_case_and_no_event(
    d: Desk, change: dict[str, Any], error: type[FederationError], message: str
) -> None:
    if change.get("applicant_token") == LOW:
        change = {**change, "applicant_token": d.tokens.mint(level=Assurance.LOW)}
    sub = d.submission(**change)
    with pytest.raises(error) as info:
        d.desk.submit(sub)
    assert type(info.value) is error
    assert message in info.value.message
    assert d.store.list_cases() == []
    assert d.store.case_events(case_id_for(JS, SH, sub.request_id)) == []
    assert not any(action.startswith("case.") for action in d.actions())
    assert d.issuer.calls == []


def test_a_refused_request_id_can_be_used_again_once_corrected(d: Desk) -> None:
    with pytest.raises(FailedPrecondition):
        d.desk.submit(d.submission(materials=(BIZ,)))
    case, created = d.desk.submit(d.submission())
    assert created and case.state == "accepted"
    assert case.case_id == case_id_for(JS, SH, "req-1")


def test_high_item_is_filed_with_a_high_token(d: Desk) -> None:
    d.licences.held["DL-1"] = (
        "driving_licence",
        APPLICANT,
        {
            "holder_name": "李娜",
            "holder_code": APPLICANT,
            "number": APPLICANT,
            "first_issue_date": "2012-03-01",
            "vehicle_class": "C1",
        },
    )
    case, created = d.desk.submit(
        d.submission(
            item_code=HIGH_ITEM,
            applicant_token=d.tokens.mint(level=Assurance.HIGH),
            materials=(Material("driving_licence", "DL-1", JS),),
            on_behalf_of="",
        )
    )
    assert created and case.state == "accepted"
    assert d.tokens.calls[-1][1] is Assurance.HIGH  # the item's level was demanded


def test_on_behalf_of_is_not_kept_unchecked_for_an_item_done_for_the_applicant(d: Desk) -> None:
    d.licences.held["DL-1"] = (
        "driving_licence",
        APPLICANT,
        {
            "holder_name": "李娜",
            "holder_code": APPLICANT,
            "number": APPLICANT,
            "first_issue_date": "2012-03-01",
            "vehicle_class": "C1",
        },
    )
    try:
        case, _ = d.desk.submit(
            d.submission(
                item_code=HIGH_ITEM,
                applicant_token=d.tokens.mint(level=Assurance.HIGH),
                materials=(Material("driving_licence", "DL-1", JS),),
                on_behalf_of=STRANGER,  # holds nothing the item needs
            )
        )
    except InvalidArgument:
        assert d.store.list_cases() == []
        return
    assert case.data["on_behalf_of"] in ("", APPLICANT)


# --- decisions --------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["return", "reject"])
@pytest.mark.parametrize("reason", ["", "   "])
def test_return_and_reject_need_a_reason(d: Desk, action: str, reason: str) -> None:
    case = under_review(d)
    with pytest.raises(InvalidArgument, match=f"a reason is required to {action}"):
        d.desk.decide(case.case_id, action, "reviewer", reason)
    assert d.store.get_case(case.case_id) == case


@pytest.mark.parametrize("action", ["accept", "resubmit", "issue_result", "close", "approve_all"])
def test_only_reviewer_actions_can_be_decided(d: Desk, action: str) -> None:
    case = under_review(d)
    with pytest.raises(InvalidArgument, match="reviewer action must be one of"):
        d.desk.decide(case.case_id, action, "reviewer", "because")
    assert d.store.get_case(case.case_id) == case


@pytest.mark.parametrize(
    "reviewer", ["", " ", "-lead", "a b", "x" * 65, "审核员", "JS-AMR\n3", "a/b"]
)
def test_a_decision_names_a_valid_reviewer(d: Desk, reviewer: str) -> None:
    case, _ = d.desk.submit(d.submission())
    with pytest.raises(InvalidArgument, match="reviewer is required"):
        d.desk.decide(case.case_id, "start_review", reviewer)
    assert d.store.get_case(case.case_id) == case


@pytest.mark.parametrize("reviewer", ["JS-AMR-reviewer-3", "320000:reviewer", "r@js.gov.cn", "7"])
def test_the_reviewer_is_kept_in_the_event_and_with_the_case(d: Desk, reviewer: str) -> None:
    case, _ = d.desk.submit(d.submission())
    moved = d.desk.decide(case.case_id, "start_review", reviewer)
    assert moved.data["reviewer"] == reviewer
    last = d.store.case_events(case.case_id)[-1]
    assert last.actor == reviewer and last.detail["reviewer"] == reviewer


@given(st.text(max_size=70))
def test_check_reviewer_accepts_exactly_staff_ids(text: str) -> None:
    valid = (
        0 < len(text) <= 64
        and text.isascii()
        and (text[0].isalnum())
        and all(c.isalnum() or c in "_.:@-" for c in text)
    )
    try:
        assert check_reviewer(text) == text and valid
    except InvalidArgument:
        assert not valid


def test_decisions_on_unknown_or_foreign_cases(d: Desk) -> None:
    with pytest.raises(NotFound, match="no case 'C32-NOPE' at region 320000"):
        d.desk.decide("C32-NOPE", "start_review", "reviewer")
    foreign = case_id_for(SH, "320000", "req-9")
    with pytest.raises(PermissionDenied, match="belongs to region 310000"):
        d.desk.decide(foreign, "approve", "reviewer")


def test_a_forbidden_decision_changes_nothing(d: Desk) -> None:
    case, _ = d.desk.submit(d.submission())
    with pytest.raises(FailedPrecondition, match="cannot approve a case that is accepted"):
        d.desk.decide(case.case_id, "approve", "reviewer")
    assert d.issuer.calls == []  # refused before the result licence is issued
    assert d.store.get_case(case.case_id) == case
    assert len(d.store.case_events(case.case_id)) == 2


def test_approval_issues_the_result_first_and_a_failed_issue_keeps_the_case_under_review(
    d: Desk,
) -> None:
    case = under_review(d)
    d.issuer.fail_with = Unavailable("registry of JS is down")
    with pytest.raises(Unavailable):
        d.desk.decide(case.case_id, "approve", "reviewer", "ok", {"domicile": "new"})
    stored = d.store.get_case(case.case_id)
    assert stored == case and stored.state == "under_review"
    assert "result_licence" not in stored.data
    assert [e.to_state for e in d.store.case_events(case.case_id)][-1] == "under_review"
    assert "case.approve" not in d.actions()
    # the registry is back: approving again issues and closes
    d.issuer.fail_with = None
    closed = d.desk.decide(case.case_id, "approve", "reviewer", "ok", {"domicile": "new"})
    assert closed.state == "closed"
    assert closed.data["result_licence"] == f"RESULT-{case.case_id}"
    issued_from, item_code = d.issuer.calls[-1]
    assert item_code == ITEM and issued_from.state == "under_review"
    assert issued_from.data["requested"]["domicile"] == "new"  # the reviewer's result fields


def test_approving_an_item_without_result_licence_issues_nothing(d: Desk) -> None:
    case, _ = d.desk.submit(
        d.submission(
            item_code=NO_RESULT_ITEM,
            face_assertion="",
            on_behalf_of="",
            materials=(Material("social_security_card", "SSC-1", JS), IDC),
        )
    )
    d.desk.decide(case.case_id, "start_review", "reviewer")
    closed = d.desk.decide(case.case_id, "approve", "reviewer")
    assert closed.state == "closed" and "result_licence" not in closed.data
    assert d.issuer.calls == []
    assert [e.to_state for e in d.store.case_events(case.case_id)][-3:] == [
        "approved",
        "result_issued",
        "closed",
    ]


@pytest.mark.parametrize("from_review", [False, True])
def test_rejection_closes_the_case_without_a_result(d: Desk, from_review: bool) -> None:
    case, _ = d.desk.submit(d.submission())
    if from_review:
        d.desk.decide(case.case_id, "start_review", "reviewer")
    closed = d.desk.decide(case.case_id, "reject", "reviewer", "not a Jiangsu company")
    assert closed.state == "closed" and d.issuer.calls == []
    events = d.store.case_events(case.case_id)
    assert [e.to_state for e in events][-2:] == ["rejected", "closed"]
    assert events[-2].detail["reason"] == "not a Jiangsu company"
    assert events[-1].detail == {"action": "close", "outcome": "rejected"}


def test_full_lifecycle_is_persisted_event_by_event(d: Desk) -> None:
    case = under_review(d)
    d.clock.advance(60)
    returned = d.desk.decide(case.case_id, "return", "JS-AMR-3", "state the new domicile")
    assert returned.state == "returned" and returned.data["returns"] == 1
    d.clock.advance(3600)
    again = d.desk.supplement(
        case.case_id,
        d.submission(
            request_id="req-1-supplement",
            materials=(),
            note="股东会决议已补充",
            requested={"domicile": "苏州工业园区金鸡湖大道 88 号 2 幢"},
        ),
    )
    assert again.state == "accepted"
    d.clock.advance(60)
    d.desk.decide(case.case_id, "start_review", "JS-AMR-3")
    d.clock.advance(60)
    closed = d.desk.decide(case.case_id, "approve", "JS-AMR-3", "材料齐全")
    assert closed.state == "closed" and closed.version == 10
    assert closed.data["result_licence"] == f"RESULT-{case.case_id}"
    assert closed.data["requested"]["domicile"] == "苏州工业园区金鸡湖大道 88 号 2 幢"
    assert closed.data["supplement_note"] == "股东会决议已补充"
    events = d.store.case_events(case.case_id)
    assert [(e.seq, e.from_state, e.to_state, e.actor) for e in events] == [
        (1, "", "submitted", SH),
        (2, "submitted", "accepted", JS),
        (3, "accepted", "under_review", "JS-AMR-reviewer-3"),
        (4, "under_review", "returned", "JS-AMR-3"),
        (5, "returned", "submitted", SH),
        (6, "submitted", "accepted", JS),
        (7, "accepted", "under_review", "JS-AMR-3"),
        (8, "under_review", "approved", "JS-AMR-3"),
        (9, "approved", "result_issued", JS),
        (10, "result_issued", "closed", JS),
    ]
    times = [e.time for e in events]
    assert times == sorted(times) and times[0] == MONDAY_10H
    assert events[3].detail["reason"] == "state the new domicile"
    assert events[8].detail["result_licence"] == f"RESULT-{case.case_id}"
    assert events[8].detail["delivery_method"] == "electronic"
    assert closed.updated_at == events[-1].time
    assert d.actions() == [
        "case.submit",
        "case.accept",
        "case.start_review",
        "case.return",
        "case.resubmit",
        "case.accept",
        "case.start_review",
        "case.approve",
        "case.issue_result",
        "case.close",
    ]
    # every transition was audited for the applicant and names the case
    assert all(entry[3] == APPLICANT for entry in d.audit)
    assert all(entry[4]["case_id"] == case.case_id for entry in d.audit)


def test_licences_the_result_revoked_are_named_in_the_approvals_entry(d: Desk) -> None:
    """The result supersedes the business licence: its revocation is in the issue_result
    event and audit entry, which commit with the approval."""
    d.issuer.revokes = ("BIZ-1",)
    case = under_review(d)
    d.desk.decide(case.case_id, "approve", "JS-AMR-3")
    issued = d.store.case_events(case.case_id)[-2]
    assert issued.to_state == "result_issued" and issued.detail["revoked"] == ["BIZ-1"]
    entry = next(e for e in d.audit if e[1] == "case.issue_result")
    assert entry[4]["revoked"] == ["BIZ-1"] and entry[4]["case_id"] == case.case_id
    other = under_review(d, request_id="req-2")
    d.issuer.revokes = ()
    d.desk.decide(other.case_id, "approve", "JS-AMR-3")
    assert "revoked" not in d.store.case_events(other.case_id)[-2].detail


# --- supplement -------------------------------------------------------------------------------
def returned_case(d: Desk) -> CaseRecord:
    case = under_review(d)
    return d.desk.decide(case.case_id, "return", "reviewer", "attach a clearer identity card")


def test_supplement_only_answers_a_return_and_spends_no_token_otherwise(d: Desk) -> None:
    case, _ = d.desk.submit(d.submission())
    calls = len(d.tokens.calls)
    with pytest.raises(FailedPrecondition, match="cannot resubmit a case that is accepted"):
        d.desk.supplement(case.case_id, d.submission(materials=()))
    assert len(d.tokens.calls) == calls
    assert d.store.get_case(case.case_id) == case


def test_only_the_applicant_may_supplement(d: Desk) -> None:
    case = returned_case(d)
    with pytest.raises(PermissionDenied, match="only the applicant"):
        d.desk.supplement(
            case.case_id, d.submission(applicant_token=d.tokens.mint(STRANGER), materials=())
        )
    assert d.store.get_case(case.case_id) == case


def test_supplemented_materials_are_checked_and_replace_the_old_ones(d: Desk) -> None:
    case = returned_case(d)
    stranger_idc = Material("resident_identity_card", "IDC-STRANGER", "340000", "c")
    with pytest.raises(PermissionDenied, match="held by"):
        d.desk.supplement(case.case_id, d.submission(materials=(stranger_idc,)))
    assert d.store.get_case(case.case_id) == case
    new_idc = Material("resident_identity_card", "IDC-2", "340000", "c")
    again = d.desk.supplement(case.case_id, d.submission(materials=(new_idc,)))
    assert again.state == "accepted"
    by_type = {m["licence_type"]: m for m in again.data["materials"]}
    assert by_type["resident_identity_card"]["identifier"] == "IDC-2"
    assert by_type["business_licence"]["identifier"] == "BIZ-1"  # kept from the submission


# --- rating -----------------------------------------------------------------------------------
def closed_case(d: Desk) -> CaseRecord:
    case = under_review(d)
    return d.desk.decide(case.case_id, "approve", "reviewer")


def test_a_case_is_rated_only_once_it_is_closed(d: Desk) -> None:
    case = under_review(d)
    with pytest.raises(FailedPrecondition, match="rate it once it is closed"):
        d.desk.rate(case.case_id, d.tokens.mint(), 5, [], "")
    assert d.store.case_ratings() == []


@pytest.mark.parametrize("score", [0, 6, -1])
def test_ratings_are_one_to_five(d: Desk, score: int) -> None:
    case = closed_case(d)
    with pytest.raises(InvalidArgument, match=r"a rating is 1\.\.5"):
        d.desk.rate(case.case_id, d.tokens.mint(), score, [], "")
    assert d.store.case_ratings() == []


def test_only_the_applicant_rates_and_only_once(d: Desk) -> None:
    case = closed_case(d)
    with pytest.raises(PermissionDenied, match="only the applicant may rate"):
        d.desk.rate(case.case_id, d.tokens.mint(STRANGER), 1, [], "")
    assert d.store.case_ratings() == []
    # a low-assurance login is enough to rate
    rating = d.desk.rate(case.case_id, d.tokens.mint(level=Assurance.LOW), 5, ["一次办成"], "fast")
    assert (rating.case_id, rating.score, rating.reasons, rating.comment) == (
        case.case_id,
        5,
        ("一次办成",),
        "fast",
    )
    assert d.store.case_ratings() == [rating]
    assert d.audit[-1][1:4] == ("case.rate", "granted", APPLICANT)
    with pytest.raises(AlreadyExists):
        d.desk.rate(case.case_id, d.tokens.mint(), 1, [], "changed my mind")
    assert d.store.case_ratings() == [rating]


def test_overlong_rating_text_is_refused(d: Desk) -> None:
    case = closed_case(d)
    for reasons, comment in ([["r" * 101], ""], [["r"] * 11, ""], [[], "c" * 2001]):
        with pytest.raises(InvalidArgument, match="too long"):
            d.desk.rate(case.case_id, d.tokens.mint(), 4, reasons, comment)
    assert d.store.case_ratings() == []


# --- deadlines and the overdue flag -----------------------------------------------------------
def decided_at(case: CaseRecord) -> float | None:
    """What CaseServicer.case_view passes to is_overdue: updated_at once decided."""
    decided = {"approved", "rejected", "result_issued", "closed"}
    return case.updated_at if case.state in decided else None


def test_deadline_counts_working_days_from_the_day_after_submission(d: Desk) -> None:
    case, _ = d.desk.submit(d.submission())
    assert case.deadline_at == end_of_day(dt.date(2024, 3, 5))  # Tuesday, one working day
    d.clock.advance(4 * DAY + 7 * 3600)  # Friday 8 March, 17:00
    friday, _ = d.desk.submit(d.submission(request_id="req-friday"))
    assert friday.deadline_at == end_of_day(dt.date(2024, 3, 11))  # Monday, not Saturday
    medical, _ = d.desk.submit(
        d.submission(
            request_id="req-medical",
            item_code=NO_RESULT_ITEM,
            face_assertion="",
            on_behalf_of="",
            materials=(Material("social_security_card", "SSC-1", JS), IDC),
        )
    )
    # 15 working days from Friday 8 March: 11-15, 18-22, 25-29 March
    assert medical.deadline_at == end_of_day(dt.date(2024, 3, 29))


def test_open_cases_become_overdue_after_the_deadline(d: Desk) -> None:
    case = under_review(d)
    assert not is_overdue(case.deadline_at, d.clock.now(), decided_at(case))
    assert not is_overdue(case.deadline_at, case.deadline_at, decided_at(case))  # last second
    assert is_overdue(case.deadline_at, case.deadline_at + 1, decided_at(case))
    returned = d.desk.decide(case.case_id, "return", "reviewer", "more")
    assert decided_at(returned) is None  # waiting for the applicant is not a decision
    assert is_overdue(returned.deadline_at, returned.deadline_at + 1, decided_at(returned))


def test_a_case_decided_in_time_stays_in_time(d: Desk) -> None:
    case = under_review(d)
    closed = d.desk.decide(case.case_id, "approve", "reviewer")
    assert decided_at(closed) == d.clock.now()
    later = closed.deadline_at + 30 * DAY
    assert not is_overdue(closed.deadline_at, later, decided_at(closed))


def test_a_case_decided_late_is_overdue_for_ever(d: Desk) -> None:
    case = under_review(d)
    d.clock.advance(3 * DAY)  # Monday 10:00 -> Thursday 10:00, past Tuesday's end
    closed = d.desk.decide(case.case_id, "reject", "reviewer", "too late to matter")
    assert closed.updated_at > closed.deadline_at
    assert is_overdue(closed.deadline_at, closed.updated_at, decided_at(closed))
    assert is_overdue(closed.deadline_at, closed.updated_at + 365 * DAY, decided_at(closed))


def test_reviewer_detail_is_bounded(d: Desk) -> None:
    case = under_review(d)
    d.desk.decide(case.case_id, "return", "reviewer", "x" * 5000)
    event = d.store.case_events(case.case_id)[-1]
    assert len(event.detail["reason"]) == 2000


@pytest.mark.parametrize(
    "dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_each_step_commits_whole_on_both_dialects(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Submit (create + accept), approve (approve + issue_result + close), reject (reject +
    close) and supplement (resubmit + accept) each file all their transitions with their
    entries, in order, on SQLite and on PostgreSQL."""
    if dialect == "sqlite":
        url = "sqlite:///" + str(tmp_path / "s.sqlite3")
    else:
        url = request.getfixturevalue("postgres_url")
    store = open_store(url)
    clock = FixedClock(MONDAY_10H)
    tokens = FakeTokens()
    licences = FakeLicences(
        {
            "BIZ-1": ("business_licence", COMPANY, BIZ_FIELDS),
            "IDC-1": ("resident_identity_card", APPLICANT, IDC_FIELDS),
        }
    )
    issuer = FakeIssuer()
    desk = CaseDesk(
        region_code=JS,
        store=store,
        item_of=starter_catalogue().get,
        verify_token=tokens,
        verify_face=fake_face,
        fetch_material=licences,
        issue_result=issuer,
        audit=lambda *entry: None,
        clock=clock,
        working_days=add_working_days,
    )
    d = Desk(desk, store, clock, tokens, licences, issuer)
    try:
        approved, _ = desk.submit(d.submission())
        desk.decide(approved.case_id, "start_review", "JS-AMR-reviewer-3")
        closed = desk.decide(approved.case_id, "approve", "JS-AMR-reviewer-3")
        assert (closed.state, closed.version) == ("closed", 6)
        assert [e[2] for e in d.events(closed.case_id)] == [
            "submitted",
            "accepted",
            "under_review",
            "approved",
            "result_issued",
            "closed",
        ]
        rejected, _ = desk.submit(d.submission(request_id="req-2"))
        rejected = desk.decide(rejected.case_id, "reject", "JS-AMR-reviewer-3", "材料不符")
        assert (rejected.state, rejected.version) == ("closed", 4)
        returned, _ = desk.submit(d.submission(request_id="req-3"))
        desk.decide(returned.case_id, "start_review", "JS-AMR-reviewer-3")
        desk.decide(returned.case_id, "return", "JS-AMR-reviewer-3", "补充住所证明")
        resubmitted = desk.supplement(
            returned.case_id, replace(d.submission(request_id="req-3"), materials=())
        )
        assert (resubmitted.state, resubmitted.version) == ("accepted", 6)
        assert d.actions() == [
            "case.submit",
            "case.accept",
            "case.start_review",
            "case.approve",
            "case.issue_result",
            "case.close",
            "case.submit",
            "case.accept",
            "case.reject",
            "case.close",
            "case.submit",
            "case.accept",
            "case.start_review",
            "case.return",
            "case.resubmit",
            "case.accept",
        ]
        assert verify_chain(store.audit_entries()).ok
    finally:
        store.close()
