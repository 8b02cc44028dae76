"""A business licence may name its legal representative's citizen id (optional, sensitive)."""

from __future__ import annotations

from federation.licences import licence_type_by_key
from federation.licences.seal import verify_sealed
from tests._support.licences import BUSINESS_FIELDS, NOW, PERSON_ID, World


def test_legal_representative_id_is_an_optional_sensitive_string() -> None:
    business = licence_type_by_key("business_licence")
    spec = business.field("legal_representative_id")
    assert "legal_representative_id" in business.sensitive_fields
    assert "legal_representative_id" not in business.required_fields
    assert spec.type.check(spec.name, PERSON_ID) == PERSON_ID


def test_business_licence_with_representative_id_seals_and_verifies(world: World) -> None:
    fields = {**BUSINESS_FIELDS, "legal_representative_id": PERSON_ID}
    licence = world.business_licence(fields=fields)
    assert licence.fields["legal_representative_id"] == PERSON_ID
    verified = verify_sealed(world.seal(licence), world.resolver, NOW)
    assert verified.licence == licence
    assert verified.licence.personal_claims()["legal_representative_id"] == PERSON_ID
