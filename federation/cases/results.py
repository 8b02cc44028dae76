"""The result licence of an approved case: which fields it carries and what it supersedes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from federation.cases.catalogue import CatalogueItem
from federation.cases.desk import IssuedResult
from federation.clock import Clock
from federation.errors import FailedPrecondition
from federation.licences.registry import IssueRequest, LicenceRegistry
from federation.licences.seal import verify_sealed
from federation.licences.sealcert import RegionKeyResolver
from federation.licences.status import LicenceStatus
from federation.licences.types import get_licence_type
from federation.storage.base import CaseRecord

PERSONAL_FIELDS = ("holder_code", "number")
"""Never carried from a material into the result: the result has its own holder and number."""

ReadOwnLicence = Callable[[str], Mapping[str, Any]]
"""identifier -> every field of a licence this region holds, with its holder_name."""


@dataclass(frozen=True)
class ResultPlan:
    """What to issue, and which of this region's licences the result supersedes once issued."""

    request: IssueRequest
    superseded: tuple[str, ...]


def plan_result(
    case: CaseRecord, item: CatalogueItem, region_code: str, read_own: ReadOwnLicence
) -> ResultPlan:
    """The result licence: the current licence's fields (if one was a material), overlaid by
    the fields the applicant requested and the reviewer set.

    A material held by this region is read in full from its own register (the registration
    authority knows its own records); one from elsewhere contributes only what was disclosed.
    """
    if item.result_licence_type is None:
        raise FailedPrecondition(
            f"service item {item.code} issues no result licence; case {case.case_id} has none"
        )
    licence_type = get_licence_type(item.result_licence_type)
    data = dict(case.data)
    holder_name = str(data.get("applicant_name", ""))
    holder_code = str(data.get("on_behalf_of") or case.applicant_id)
    base: dict[str, Any] = {}
    superseded = []
    for material in data.get("materials", []):
        if material.get("licence_type") != licence_type.key:
            continue
        base = dict(material.get("fields", {}))
        if material.get("owner_region") == region_code:
            base = dict(read_own(str(material["identifier"])))
            superseded.append(str(material["identifier"]))
        holder_name = str(base.pop("holder_name", holder_name))
        for personal in PERSONAL_FIELDS:
            base.pop(personal, None)
    fields = {k: v for k, v in base.items() if k in licence_type.field_names}
    requested = dict(data.get("requested", {}))
    fields.update({k: v for k, v in requested.items() if k in licence_type.field_names})
    request = IssueRequest(
        request_id=f"{case.case_id}-result",
        licence_type=licence_type.key,
        holder_code=holder_code,
        holder_name=holder_name,
        fields=fields,
    )
    return ResultPlan(request, tuple(superseded))


class ResultIssuer:
    """The case desk's `issue_result`: issue once per case, then revoke what it supersedes."""

    def __init__(
        self,
        region_code: str,
        registry: LicenceRegistry,
        seal_keys: RegionKeyResolver,
        clock: Clock,
    ) -> None:
        self._region_code = region_code
        self._registry = registry
        self._seal_keys = seal_keys
        self._clock = clock

    def read_own(self, identifier: str) -> dict[str, Any]:
        record = self._registry.get(identifier)
        licence = verify_sealed(record.sd_jwt, self._seal_keys, self._clock.now()).licence
        return {**licence.fields, "holder_name": licence.holder_name}

    def __call__(self, case: CaseRecord, item: CatalogueItem) -> IssuedResult:
        plan = plan_result(case, item, self._region_code, self.read_own)
        record, created = self._registry.issue(plan.request)
        # the changed registration supersedes the licence it was made from. A retry (the
        # result was issued, but the approval that issued it did not commit: a crash, a store
        # failure) revokes it too if that was not done: the case is still under review, so
        # nothing else can have decided about that licence since. Either way the revocation
        # is named in the approval's audit entry (case.issue_result), which commits next.
        for identifier in plan.superseded:
            if created or self._registry.get(identifier).status != LicenceStatus.REVOKED:
                self._registry.change_status(identifier, LicenceStatus.REVOKED)
        return IssuedResult(record.identifier, plan.superseded)


__all__ = ["PERSONAL_FIELDS", "ResultIssuer", "ResultPlan", "plan_result"]
