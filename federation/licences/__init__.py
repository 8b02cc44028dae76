"""Electronic licences (电子证照): catalogue, identifiers, seals, status, presentation, policy."""

from __future__ import annotations

from federation.licences.challenge import (
    DEFAULT_CHALLENGE_TTL_S,
    check_challenge,
    issue_challenge,
)
from federation.licences.identifier import (
    LicenceIdentifier,
    identifier_check_char,
    is_valid_identifier,
    make_identifier,
    new_serial,
    parse_identifier,
)
from federation.licences.model import (
    HolderCodeType,
    IssuingAuthority,
    Licence,
    StatusReference,
    build_licence,
)
from federation.licences.policy import (
    ANY_REGION,
    ExchangePolicy,
    PolicyDecision,
    PolicyRule,
    ServiceItem,
    default_policy,
    filter_fields,
)
from federation.licences.presentation import (
    DEFAULT_MAX_AGE_S,
    NonceChecker,
    PresentationResult,
    create_presentation,
    verify_presentation,
)
from federation.licences.qr import decode_qr, encode_qr, is_qr
from federation.licences.sdjwt import Disclosure
from federation.licences.seal import (
    ElectronicSeal,
    SealedLicence,
    SealedMetadata,
    VerifiedLicence,
    seal_licence,
    verify_seal,
    verify_sealed,
)
from federation.licences.sealcert import (
    RegionKeyResolver,
    SealCertificate,
    certify_seal_key,
    read_seal_certificate,
)
from federation.licences.status import (
    DEFAULT_STATUS_TTL_S,
    LicenceStatus,
    StatusList,
    VerifiedStatusList,
    random_free_index,
    sign_status_list,
    verify_status_list,
)
from federation.licences.types import (
    CATALOGUE,
    Department,
    FieldSpec,
    FieldType,
    FieldValue,
    HolderKind,
    LicenceType,
    get_licence_type,
    licence_type_by_code,
    licence_type_by_key,
)
from federation.licences.verification import (
    LicenceVerdict,
    StatusListLookup,
    Verdict,
    check_issuer_listed,
    judge_licence,
    licence_day,
    verify_licence,
)

# Only constants that sort before every class name are re-exported, so this list is both in
# plain sorted() order and in ruff's isort-style order; the others live in their modules.
__all__ = [
    "ANY_REGION",
    "CATALOGUE",
    "DEFAULT_CHALLENGE_TTL_S",
    "DEFAULT_MAX_AGE_S",
    "DEFAULT_STATUS_TTL_S",
    "Department",
    "Disclosure",
    "ElectronicSeal",
    "ExchangePolicy",
    "FieldSpec",
    "FieldType",
    "FieldValue",
    "HolderCodeType",
    "HolderKind",
    "IssuingAuthority",
    "Licence",
    "LicenceIdentifier",
    "LicenceStatus",
    "LicenceType",
    "LicenceVerdict",
    "NonceChecker",
    "PolicyDecision",
    "PolicyRule",
    "PresentationResult",
    "RegionKeyResolver",
    "SealCertificate",
    "SealedLicence",
    "SealedMetadata",
    "ServiceItem",
    "StatusList",
    "StatusListLookup",
    "StatusReference",
    "Verdict",
    "VerifiedLicence",
    "VerifiedStatusList",
    "build_licence",
    "certify_seal_key",
    "check_challenge",
    "check_issuer_listed",
    "create_presentation",
    "decode_qr",
    "default_policy",
    "encode_qr",
    "filter_fields",
    "get_licence_type",
    "identifier_check_char",
    "is_qr",
    "is_valid_identifier",
    "issue_challenge",
    "judge_licence",
    "licence_day",
    "licence_type_by_code",
    "licence_type_by_key",
    "make_identifier",
    "new_serial",
    "parse_identifier",
    "random_free_index",
    "read_seal_certificate",
    "seal_licence",
    "sign_status_list",
    "verify_licence",
    "verify_presentation",
    "verify_seal",
    "verify_sealed",
    "verify_status_list",
]
