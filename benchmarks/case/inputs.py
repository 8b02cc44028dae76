"""What each timed case consumes, prepared untimed: a fresh licence, tokens, a face assertion."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field

from benchmarks._federation import TokenMinter
from benchmarks.case.applicants import Applicant
from benchmarks.case.config import CARD_HOLDER, FACE_RATE_PER_S, ITEM, OWNER, WINDOW, WINDOW_ID
from benchmarks.harness import Supply
from federation.codes import make_credit_code
from federation.errors import ResourceExhausted
from federation.regions import Region
from nodes.client import FederationClient
from nodes.client.cases import material
from nodes.pb.v1 import case_pb2


@dataclass(frozen=True)
class CaseInput:
    """Everything one case consumes: a fresh business licence, tokens and face assertion."""

    applicant: Applicant
    company: str
    request: case_pb2.SubmitCaseRequest
    prepared_at: float


class Pacer:
    """Spaces calls `1/rate` apart (the hub's face quota is a token bucket per region)."""

    def __init__(self, rate_per_s: float) -> None:
        self._gap = 1.0 / rate_per_s
        self._next = time.monotonic()

    def wait(self) -> None:
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(self._next, now) + self._gap


@dataclass
class Preparer:
    """Builds case inputs just before a phase (tokens and assertions expire)."""

    client: FederationClient
    minter: TokenMinter
    applicants: list[Applicant]
    tag: str
    pacer: Pacer = field(default_factory=lambda: Pacer(FACE_RATE_PER_S))
    counter: itertools.count[int] = field(default_factory=itertools.count)
    face_checks: int = 0
    licences_issued: int = 0

    def face_assertion(self, applicant: Applicant) -> str:
        for attempt in range(6):
            self.pacer.wait()
            try:
                reply = self.client.check_face(WINDOW.short, applicant.subject_id, applicant.face)
            except ResourceExhausted:
                time.sleep(0.5 * (attempt + 1))
                continue
            self.face_checks += 1
            return str(reply.assertion)
        raise RuntimeError("the hub's face quota kept refusing the set-up face checks")

    def token(self, applicant: Applicant, audience: Region) -> str:
        return self.minter.mint(
            1,
            subject=applicant.subject_id,
            session_id=applicant.session_id,
            audience=audience,
            name=applicant.name,
            assurance=applicant.assurance,
            amr=applicant.amr,
            home_attestation=applicant.home_attestation,
        )[0]

    def business_licence(self, k: int, applicant: Applicant, company: str) -> str:
        """A fresh business licence of `company` at OWNER, the case's first material."""
        licence = self.client.issue_licence(
            OWNER.short,
            f"{self.tag}-biz-{k}",
            "business_licence",
            company,
            f"苏州基准{k}科技有限公司",
            {
                "entity_type": "有限责任公司",
                "legal_representative": applicant.name,
                "legal_representative_id": applicant.subject_id,
                "registered_capital": 5_000_000,
                "established_date": "2019-08-08",
                "business_scope": "软件开发; 信息技术咨询服务",
                "domicile": f"苏州工业园区星湖街 {k} 号",
            },
        )
        self.licences_issued += 1
        return str(licence.identifier)

    def one(self) -> CaseInput:
        k = next(self.counter)
        applicant = self.applicants[k % len(self.applicants)]
        company = make_credit_code("9", "1", "320506", f"MB{k:06X}")
        licence = self.business_licence(k, applicant, company)
        request = case_pb2.SubmitCaseRequest(
            request_id=f"{self.tag}-case-{k}",
            item_code=ITEM,
            window_id=WINDOW_ID,
            applicant_token=self.token(applicant, OWNER),
            face_assertion=self.face_assertion(applicant),
            materials=[
                material("business_licence", licence, OWNER.short),
                material(
                    "resident_identity_card",
                    applicant.identity_card,
                    CARD_HOLDER.short,
                    self.token(applicant, CARD_HOLDER),
                ),
            ],
            on_behalf_of=company,
            requested_json=json.dumps(
                {"domicile": f"苏州工业园区金鸡湖大道 {k} 号"}, ensure_ascii=False
            ),
            delivery_method="electronic",
            note="迁移住所 (benchmark)",
        )
        return CaseInput(applicant, company, request, time.time())

    def supply(self, count: int) -> Supply[CaseInput]:
        return Supply([self.one() for _ in range(count)])
