"""How the owner region turns a case's materials into facts: local read, exchange, presentation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from federation.cases.catalogue import Catalogue, CatalogueItem, RequiredLicence
from federation.cases.desk import Material, MaterialFacts
from federation.crypto.jose import Jwk
from federation.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from federation.identity.tokens import TokenClaims
from federation.jsontext import loads_untrusted
from federation.licences import (
    DEFAULT_MAX_AGE_S,
    Verdict,
    check_issuer_listed,
    get_licence_type,
    judge_licence,
    verify_presentation,
)
from federation.licences.registry import LicenceRegistry
from federation.licences.status import VerifiedStatusList
from federation.regions import Region, parse_region
from federation.trust.keys import public_urls
from nodes.errors import error_from_rpc
from nodes.pb.v1 import licence_pb2, licence_pb2_grpc
from nodes.server.runtime import NodeRuntime


class MaterialFetcher:
    """Callable for CaseDesk: never copies data the policy does not grant for the item."""

    def __init__(
        self,
        runtime: NodeRuntime,
        registry: LicenceRegistry,
        catalogue: Callable[[], Catalogue],
        seal_keys: Callable[[str, str], Jwk],
        status: Callable[[str], VerifiedStatusList],
        stub: Callable[[Region], licence_pb2_grpc.LicenceServiceStub],
    ) -> None:
        self._rt = runtime
        self._registry = registry
        self._catalogue = catalogue
        self._seal_keys = seal_keys
        self._status = status
        self._stub = stub

    def __call__(
        self,
        material: Material,
        item: CatalogueItem,
        required: RequiredLicence,
        applicant: TokenClaims,
    ) -> MaterialFacts:
        wanted = get_licence_type(required.licence_type)
        if material.presentation:
            return self._presentation(material, required)
        if not material.identifier or not material.owner_region:
            raise InvalidArgument(
                f"material {required.licence_type}: give identifier and owner_region, "
                "or a presentation"
            )
        owner = parse_region(material.owner_region)
        purpose = f"case for service item {item.code} ({item.name})"
        if owner is self._rt.region:
            fields, _, detail = self._registry.read_for_item(
                material.identifier,
                owner,
                item.code,
                purpose,
                applicant,
                self._catalogue().exchange_policy(),
                self._seal_keys,
            )
            type_code, holder = str(detail["type_code"]), str(detail["holder_code"])
            via = "local"
        else:
            if not material.consent_token:
                raise PermissionDenied(
                    f"material {material.identifier} is held by {owner.short}: attach the "
                    f"holder's consent token for {owner.short}"
                )
            read = licence_pb2.ReadLicenceRequest(
                identifier=material.identifier,
                service_item=item.code,
                purpose=purpose,
                consent_token=material.consent_token,
            )
            try:
                reply = self._stub(owner).ReadLicence(read, timeout=self._rt.config.peer_timeout_s)
            except grpc.RpcError as exc:
                raise error_from_rpc(exc, f"material from {owner.short}") from None
            fields = loads_untrusted(reply.fields_json, f"fields from {owner.short}")
            if not isinstance(fields, dict):
                raise InvalidArgument(f"{owner.short} answered fields that are not an object")
            type_code, via = reply.type_code, "exchange"
            holder = str(fields.get("holder_code", ""))
        if type_code != wanted.code:
            raise InvalidArgument(
                f"material {material.identifier} is a {type_code}, not a {required.licence_type}"
            )
        return MaterialFacts(wanted.key, material.identifier, owner.code, holder, fields, via)

    def _presentation(self, material: Material, required: RequiredLicence) -> MaterialFacts:
        rt = self._rt
        now = rt.clock.now()
        audience = rt.entity_id

        def fresh(nonce: str) -> bool:
            expires = now + DEFAULT_MAX_AGE_S + 120
            return rt.store.remember_jti(f"presentation:{audience}", nonce, expires, now)

        result = verify_presentation(material.presentation, self._seal_keys, audience, fresh, now)
        check_issuer_listed(result.metadata, public_urls(rt.trust_list))
        status = self._status(result.metadata.status.uri) if result.metadata.status else None
        verdict = judge_licence(result.metadata, status, now)
        if verdict.verdict is not Verdict.VALID:
            raise FailedPrecondition(
                f"presented {required.licence_type} is {verdict.verdict.value}: "
                f"{'; '.join(verdict.reasons)}"
            )
        wanted = get_licence_type(required.licence_type)
        if result.metadata.type_code != wanted.code:
            raise InvalidArgument(f"the presentation is not a {required.licence_type}")
        disclosed: dict[str, Any] = dict(result.disclosed)
        holder = str(disclosed.get("holder_code", ""))
        if not holder:
            raise FailedPrecondition("the presentation must disclose holder_code")
        region = result.metadata.certificate.region.code
        return MaterialFacts(
            wanted.key, result.identifier, region, holder, disclosed, "presentation"
        )
