"""The owner region's case desk: validate a remote-window submission, then drive the case."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from federation.audit import AuditDraft
from federation.cases.states import REVIEWER_ACTIONS, CaseState, next_state
from federation.clock import Clock
from federation.crypto.jose import canonical_json
from federation.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from federation.identity.assurance import Assurance
from federation.identity.tokens import TokenClaims
from federation.storage.base import CaseEvent, CaseRating, CaseRecord, CaseStep, Store

if TYPE_CHECKING:
    from federation.cases.catalogue import CatalogueItem, RequiredLicence

DELIVERY_METHODS = ("electronic", "express", "collect_at_window")
MAX_TEXT = 2000
REVIEWER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")
"""A reviewer's staff id as the owner region's operators know it (JS-AMR-reviewer-3)."""


def check_reviewer(reviewer: str) -> str:
    """The deciding operator's id, or InvalidArgument: every decision names its reviewer."""
    if not isinstance(reviewer, str) or not REVIEWER_ID.fullmatch(reviewer):
        raise InvalidArgument(
            f"reviewer is required: the deciding operator's staff id, 1..64 letters, digits "
            f"or _ . : @ - starting with a letter or digit; got {reviewer!r:.80}"
        )
    return reviewer


@dataclass(frozen=True)
class Material:
    """A licence reference (identifier + owner region + consent) or a presentation."""

    licence_type: str
    identifier: str = ""
    owner_region: str = ""
    consent_token: str = ""
    presentation: str = ""

    def fingerprint(self) -> dict[str, str]:
        return {
            "type": self.licence_type,
            "id": self.identifier,
            "owner": self.owner_region,
            "presentation": hashlib.sha256(self.presentation.encode()).hexdigest(),
        }


@dataclass(frozen=True)
class MaterialFacts:
    """What the owner region learnt from one material, under the exchange policy."""

    licence_type: str  # catalogue key
    identifier: str
    owner_region: str
    holder_code: str
    fields: Mapping[str, Any]
    via: str  # "exchange", "local" or "presentation"

    def to_dict(self) -> dict[str, Any]:
        return {
            "licence_type": self.licence_type,
            "identifier": self.identifier,
            "owner_region": self.owner_region,
            "holder_code": self.holder_code,
            "fields": dict(self.fields),
            "via": self.via,
        }


@dataclass(frozen=True)
class Submission:
    """A case as the window region forwards it to the owner region."""

    request_id: str
    item_code: str
    window_region: str
    window_id: str
    applicant_token: str
    face_assertion: str = ""
    materials: tuple[Material, ...] = ()
    on_behalf_of: str = ""
    requested: Mapping[str, Any] = field(default_factory=dict)
    delivery_method: str = "electronic"
    note: str = ""

    def fingerprint(self) -> str:
        body = {
            "item": self.item_code,
            "window": [self.window_region, self.window_id],
            "materials": [m.fingerprint() for m in self.materials],
            "on_behalf_of": self.on_behalf_of,
            "requested": dict(self.requested),
            "delivery": self.delivery_method,
            "note": self.note,
        }
        return hashlib.sha256(canonical_json(body)).hexdigest()


VerifyToken = Callable[[str, Assurance], TokenClaims]
VerifyFace = Callable[[str, str, str], float]
"""(assertion, subject id, window region code) -> similarity score; raises when not valid."""
FetchMaterial = Callable[[Material, "CatalogueItem", "RequiredLicence", TokenClaims], MaterialFacts]


@dataclass(frozen=True)
class IssuedResult:
    """The result licence of an approved case, and this region's licences it revoked (those it
    supersedes): the case's issue_result step records both, in its event and audit entry."""

    identifier: str
    revoked: tuple[str, ...] = ()


IssueResult = Callable[[CaseRecord, "CatalogueItem"], IssuedResult]
"""(approved case, its item) -> the result licence issued to the holder, and what it revoked."""
Audit = Callable[[str, str, str, str, Mapping[str, Any]], None]


def case_id_for(owner_region: str, window_region: str, request_id: str) -> str:
    """Deterministic, so a retried submission finds its case before anything is re-checked."""
    digest = hashlib.sha256(f"{window_region}:{request_id}".encode()).hexdigest()[:20]
    return f"C{owner_region[:2]}-{digest.upper()}"


class CaseDesk:
    """Runs at the region that owns the service item."""

    def __init__(
        self,
        *,
        region_code: str,
        store: Store,
        item_of: Callable[[str], CatalogueItem],
        verify_token: VerifyToken,
        verify_face: VerifyFace,
        fetch_material: FetchMaterial,
        issue_result: IssueResult,
        audit: Audit,
        clock: Clock,
        working_days: Callable[[float, int], float],
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.region_code = region_code
        self._on_event = on_event or (lambda case_id: None)  # wakes the case's watchers
        self._store = store
        self._item_of = item_of  # the catalogue lookup (raises NotFound)
        self._verify_token = verify_token
        self._verify_face = verify_face
        self._fetch = fetch_material
        self._issue_result = issue_result
        self._audit = audit
        self._clock = clock
        self._working_days = working_days

    # --- submission ---------------------------------------------------------------------
    def _own_item(self, code: str) -> CatalogueItem:
        item = self._item_of(code)
        if item.owner_region != self.region_code:
            raise PermissionDenied(
                f"service item {code} is owned by region {item.owner_region}, "
                f"not {self.region_code}; submit it to its owner"
            )
        return item

    def _check_shape(self, sub: Submission) -> None:
        if not sub.request_id or len(sub.request_id) > 128:
            raise InvalidArgument("request_id is required (1..128 characters)")
        if not sub.window_id or len(sub.window_id) > 64:
            raise InvalidArgument("window_id is required (1..64 characters)")
        if sub.delivery_method not in DELIVERY_METHODS:
            raise InvalidArgument(
                f"delivery_method must be one of {DELIVERY_METHODS}, got {sub.delivery_method!r}"
            )
        if len(sub.note) > MAX_TEXT:
            raise InvalidArgument(f"note longer than {MAX_TEXT} characters")

    def _gather(
        self,
        item: CatalogueItem,
        materials: Sequence[Material],
        applicant: TokenClaims,
        on_behalf_of: str,
        require_all: bool = True,
    ) -> list[MaterialFacts]:
        facts = []
        offered = {m.licence_type: m for m in materials}
        unknown = sorted(set(offered) - {r.licence_type for r in item.required_licences})
        if unknown:
            raise InvalidArgument(f"item {item.code} does not use materials {unknown}")
        for required in item.required_licences:
            material = offered.get(required.licence_type)
            if material is None:
                if not require_all:
                    continue
                raise FailedPrecondition(
                    f"missing material for item {item.code}: {required.licence_type} "
                    f"(fields {', '.join(required.fields)}); attach a licence reference "
                    "or a presentation"
                )
            fact = self._fetch(material, item, required, applicant)
            missing = sorted(set(required.fields) - set(fact.fields))
            if missing:
                raise FailedPrecondition(
                    f"insufficient material {required.licence_type}: item {item.code} needs "
                    f"fields {missing} that were not disclosed"
                )
            expected = applicant.subject if required.holder == "applicant" else on_behalf_of
            if not expected:
                raise InvalidArgument(
                    f"item {item.code} acts for an enterprise: on_behalf_of (its credit code) "
                    "is required"
                )
            if fact.holder_code != expected:
                raise PermissionDenied(
                    f"{required.licence_type} {fact.identifier} is held by {fact.holder_code}, "
                    f"not by {expected}"
                )
            facts.append(fact)
        return facts

    def submit(self, sub: Submission) -> tuple[CaseRecord, bool]:
        """Validate everything, then create the case and accept it; nothing partial remains."""
        self._check_shape(sub)
        case_id = case_id_for(self.region_code, sub.window_region, sub.request_id)
        existing = self._store.get_case(case_id)
        if existing is not None:
            if existing.request_hash != sub.fingerprint():
                raise AlreadyExists(
                    f"request id {sub.request_id} from this window already filed case {case_id} "
                    "with different content; use a new request id"
                )
            return existing, False
        item = self._own_item(sub.item_code)
        if sub.delivery_method not in item.delivery_methods:
            raise InvalidArgument(
                f"item {item.code} delivers by {item.delivery_methods}, not {sub.delivery_method}"
            )
        acts_for_enterprise = any(r.holder == "enterprise" for r in item.required_licences)
        if sub.on_behalf_of and not acts_for_enterprise:
            raise InvalidArgument(
                f"item {item.code} is done for the applicant in person; on_behalf_of must be empty"
            )
        applicant = self._verify_token(sub.applicant_token, item.required_acr)
        face_score = None
        if item.face_required:
            if not sub.face_assertion:
                raise PermissionDenied(
                    f"item {item.code} requires a face verification at the hub; none attached"
                )
            face_score = self._verify_face(sub.face_assertion, applicant.subject, sub.window_region)
        facts = self._gather(item, sub.materials, applicant, sub.on_behalf_of)
        now = self._clock.now()
        data = {
            "item_name": item.name,
            "applicant_name": applicant.name,
            "applicant_home": applicant.home_region,
            "acr": applicant.assurance.acr,
            "face_score": face_score,
            "on_behalf_of": sub.on_behalf_of,
            "requested": dict(sub.requested),
            "delivery_method": sub.delivery_method,
            "note": sub.note,
            "materials": [f.to_dict() for f in facts],
            "returns": 0,
        }
        case = CaseRecord(
            case_id=case_id,
            # request ids are the window region's own: scoped, two regions never clash
            request_id=f"{sub.window_region}/{sub.request_id}",
            request_hash=sub.fingerprint(),
            item_code=item.code,
            owner_region=self.region_code,
            window_region=sub.window_region,
            window_id=sub.window_id,
            applicant_id=applicant.subject,
            state=CaseState.SUBMITTED.value,
            data=data,
            created_at=now,
            updated_at=now,
            deadline_at=self._working_days(now, item.time_limit_days),
        )
        first = CaseEvent(
            case_id,
            1,
            now,
            "",
            CaseState.SUBMITTED.value,
            sub.window_region,
            {"window_id": sub.window_id, "materials": len(facts)},
        )
        entry = AuditDraft(
            self._clock.now(),
            sub.window_region,
            "case.submit",
            "granted",
            applicant.subject,
            {"case_id": case_id, "item": item.code},
        )
        # the case, its acceptance and both audit entries commit in one transaction: a case
        # is never left submitted-but-unaccepted by a crash between two commits
        accept = self._steps(case, [("accept", self.region_code, {"checked": "materials"})])
        stored, created = self._store.create_case(case, first, audit=entry, then=accept)
        if created:
            self._on_event(case_id)
        return stored, created

    # --- transitions --------------------------------------------------------------------
    def get(self, case_id: str) -> CaseRecord:
        case = self._store.get_case(case_id)
        if case is None or case.owner_region != self.region_code:
            prefix = f"C{self.region_code[:2]}-"
            if case_id.startswith("C") and case_id[3:4] == "-" and not case_id.startswith(prefix):
                raise PermissionDenied(
                    f"case {case_id} belongs to region {case_id[1:3]}0000; only the region "
                    "owning the service item acts on it"
                )
            raise NotFound(f"no case {case_id!r} at region {self.region_code}")
        return case

    def _steps(
        self,
        case: CaseRecord,
        moves: Sequence[tuple[str, str, Mapping[str, Any]]],
        data: Mapping[str, Any] | None = None,
    ) -> list[CaseStep]:
        """The transitions (action, actor, detail) from the case's state, each with its event
        and audit entry, for the store to file in one transaction (refused here if the state
        machine forbids any of them)."""
        now = self._clock.now()
        state = case.state
        kept = dict(data if data is not None else case.data)
        steps = []
        for action, actor, detail in moves:
            target = next_state(state, action)
            event = CaseEvent(
                case.case_id, 0, now, state, target.value, actor, {"action": action, **detail}
            )
            audited: dict[str, Any] = {"case_id": case.case_id, "from": state, "to": target.value}
            if "revoked" in detail:  # licences a step revoked are named in its entry too
                audited["revoked"] = detail["revoked"]
            entry = AuditDraft(now, actor, f"case.{action}", "granted", case.applicant_id, audited)
            steps.append(CaseStep(target.value, kept, event, entry))
            state = target.value
        return steps

    def _advance(
        self,
        case: CaseRecord,
        moves: Sequence[tuple[str, str, Mapping[str, Any]]],
        data: Mapping[str, Any] | None = None,
    ) -> CaseRecord:
        # the transitions and their audit entries commit together: no case moves unaudited,
        # and a crash leaves the case before the first or after the last of them
        steps = self._steps(case, moves, data)
        moved = self._store.advance_case(case.case_id, case.version, steps)
        self._on_event(case.case_id)
        return moved

    def decide(
        self,
        case_id: str,
        action: str,
        reviewer: str,
        reason: str = "",
        result: Mapping[str, Any] | None = None,
    ) -> CaseRecord:
        """A reviewer at the owner region: start_review, approve, return or reject."""
        if action not in REVIEWER_ACTIONS:
            raise InvalidArgument(f"reviewer action must be one of {REVIEWER_ACTIONS}")
        check_reviewer(reviewer)
        if action in ("return", "reject") and not reason.strip():
            raise InvalidArgument(f"a reason is required to {action} a case")
        case = self.get(case_id)
        item = self._own_item(case.item_code)
        next_state(case.state, action)  # refuse a forbidden transition before any side effect
        detail = {"reason": reason[:MAX_TEXT], "reviewer": reviewer}
        data = dict(case.data)
        data["reviewer"] = reviewer  # the operator who last decided, shown with the case
        if action == "return":
            data["returns"] = int(data.get("returns", 0)) + 1
        if result:
            data["requested"] = {**dict(data.get("requested", {})), **dict(result)}
        revoked: tuple[str, ...] = ()
        if action == "approve" and item.result_licence_type:
            # issue first (idempotent per case): a refused issue leaves the case under review
            result_licence = self._issue_result(replace(case, data=data), item)
            data["result_licence"] = result_licence.identifier
            revoked = result_licence.revoked
        moves: list[tuple[str, str, Mapping[str, Any]]] = [(action, reviewer, detail)]
        if action == "approve":
            issued: dict[str, Any] = {
                "delivery_method": data.get("delivery_method"),
                "result_licence": data.get("result_licence", ""),
            }
            if revoked:  # the superseded licences' revocation, audited with the case
                issued["revoked"] = list(revoked)
            moves.append(("issue_result", self.region_code, issued))
            moves.append(("close", self.region_code, {"outcome": "approved"}))
        elif action == "reject":
            moves.append(("close", self.region_code, {"outcome": "rejected"}))
        # the decision and what follows from it (result issued, case closed) in one transaction
        return self._advance(case, moves, data)

    def supplement(self, case_id: str, sub: Submission) -> CaseRecord:
        """The applicant answers a return: new materials, re-checked in full, then accepted."""
        case = self.get(case_id)
        next_state(case.state, "resubmit")  # refuse early, before any token is consumed
        item = self._own_item(case.item_code)
        applicant = self._verify_token(sub.applicant_token, item.required_acr)
        if applicant.subject != case.applicant_id:
            raise PermissionDenied("only the applicant of the case may supplement it")
        on_behalf_of = str(case.data.get("on_behalf_of", ""))
        fresh = self._gather(item, sub.materials, applicant, on_behalf_of, require_all=False)
        data = dict(case.data)
        kept = {m["licence_type"]: m for m in data.get("materials", [])}
        kept.update({f.licence_type: f.to_dict() for f in fresh})
        data["materials"] = list(kept.values())
        if sub.note:
            data["supplement_note"] = sub.note[:MAX_TEXT]
        if sub.requested:
            data["requested"] = {**dict(data.get("requested", {})), **dict(sub.requested)}
        moves: list[tuple[str, str, Mapping[str, Any]]] = [
            ("resubmit", sub.window_region, {"note": sub.note[:200]}),
            ("accept", self.region_code, {"checked": "supplement"}),
        ]
        return self._advance(case, moves, data)

    def rate(
        self, case_id: str, token: str, score: int, reasons: Sequence[str], comment: str
    ) -> CaseRating:
        case = self.get(case_id)
        if case.state != CaseState.CLOSED.value:
            raise FailedPrecondition(f"case {case_id} is {case.state}; rate it once it is closed")
        if not 1 <= score <= 5:
            raise InvalidArgument(f"a rating is 1..5, got {score}")
        if len(comment) > MAX_TEXT or any(len(r) > 100 for r in reasons) or len(reasons) > 10:
            raise InvalidArgument("rating reasons or comment too long")
        claims = self._verify_token(token, Assurance.LOW)
        if claims.subject != case.applicant_id:
            raise PermissionDenied("only the applicant may rate the case")
        rating = CaseRating(case_id, score, tuple(reasons), comment, self._clock.now())
        self._store.rate_case(rating)
        self._audit(
            claims.subject,
            "case.rate",
            "granted",
            claims.subject,
            {"case_id": case_id, "score": score},
        )
        return rating
