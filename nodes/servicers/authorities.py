"""Each region's issuing authorities: their seal keys, seal certificates and licence types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from federation.codes import make_credit_code
from federation.crypto.jose import Jwk, SigningKey
from federation.crypto.pki import TlsPrivateKey, cert_to_pem, write_private_key, write_public
from federation.crypto.x5c import (
    X509_SEAL_ALGS,
    issue_seal_ca_certificate,
    issue_seal_certificate,
    x5c_of,
)
from federation.errors import FailedPrecondition, NotFound, PermissionDenied
from federation.licences import CATALOGUE, ElectronicSeal, IssuingAuthority, certify_seal_key
from federation.licences.types import Department, licence_type_by_code
from federation.regions import Region

SEAL_CERT_TTL_S = 5 * 365 * 86400

# department (by its English name in the catalogue) -> the provincial counterpart's name suffix
_PROVINCIAL = {
    "Ministry of Public Security": ("公安厅", "Department of Public Security"),
    "State Administration for Market Regulation": (
        "市场监督管理局",
        "Administration for Market Regulation",
    ),
    "Ministry of Civil Affairs": ("民政厅", "Department of Civil Affairs"),
    "National Health Commission": ("卫生健康委员会", "Health Commission"),
    "Ministry of Human Resources and Social Security": (
        "人力资源和社会保障厅",
        "Department of Human Resources and Social Security",
    ),
}
_PROVINCE_ZH = {Region.SH: "上海市", Region.JS: "江苏省", Region.ZJ: "浙江省", Region.AH: "安徽省"}


@dataclass(frozen=True)
class Authority:
    """An issuing authority as a node knows it: its seal and the types it may issue."""

    seal: ElectronicSeal
    licence_types: tuple[str, ...]  # type codes

    @property
    def info(self) -> IssuingAuthority:
        return self.seal.authority

    @property
    def departments(self) -> frozenset[str]:
        """Credit codes of the national departments defining the types it issues."""
        return frozenset(licence_type_by_code(c).department.credit_code for c in self.licence_types)


def _authority_code(region: Region, index: int) -> str:
    # registration authority 1 (organ), type 1 (government body), the region's division code
    body = f"{int(region.code[:2]):02d}{index:06d}"
    return make_credit_code("1", "1", region.code, body)


def provision_authorities(
    node_dir: Path,
    region: Region,
    certifier: SigningKey,
    now: float,
    root: tuple[TlsPrivateKey, x509.Certificate] | None = None,
    public_url: str = "",
) -> None:
    """Create one authority per defining department, seal keys 0600, certified by the region.

    With the federation `root` (CA key, certificate), the root also certifies the region's
    seal-certifying key as its seal CA (`seal-ca.crt`), which issues each seal key an X.509
    certificate: the `x5c` chain a licence carries for verifiers outside the federation.
    """
    seal_ca = None
    if root is not None and certifier.alg in X509_SEAL_ALGS:
        seal_ca = issue_seal_ca_certificate(root[0], root[1], region.code, certifier, now)
        write_public(node_dir / "seal-ca.crt", cert_to_pem(seal_ca))
    departments: dict[str, list[str]] = {}
    for licence_type in CATALOGUE:
        departments.setdefault(licence_type.department.name_en, []).append(licence_type.code)
    entries = []
    for index, (department, type_codes) in enumerate(sorted(departments.items()), start=1):
        zh, en = _PROVINCIAL.get(department, ("主管部门", "Authority"))
        authority = IssuingAuthority(
            credit_code=_authority_code(region, index),
            name=f"{_PROVINCE_ZH[region]}{zh} ({region.short} {en})",
            region_code=region.code,
        )
        seal_key = SigningKey.generate(certifier.alg)  # the region's suite (Ed25519 or SM2)
        certificate = certify_seal_key(
            certifier, region, authority, seal_key.jwk, SEAL_CERT_TTL_S, now
        )
        x5c: list[str] = []
        if seal_ca is not None and seal_key.alg in X509_SEAL_ALGS:
            # the leaf names the authority's https `iss` (SD-JWT VC: a URI SAN of the leaf)
            issuer = f"{public_url}/authorities/{authority.credit_code}" if public_url else ""
            days = SEAL_CERT_TTL_S // 86400
            leaf = issue_seal_certificate(
                certifier, seal_ca, authority.credit_code, seal_key.jwk, now, days, issuer
            )
            x5c = x5c_of([leaf, seal_ca])
        key_path = node_dir / "seals" / f"{authority.credit_code}.key"
        key_path.parent.mkdir(parents=True, exist_ok=True)
        write_private_key(key_path, seal_key.to_pem())
        entries.append(
            {
                "credit_code": authority.credit_code,
                "name": authority.name,
                "region_code": authority.region_code,
                "licence_types": type_codes,
                "seal_key": f"seals/{authority.credit_code}.key",
                "seal_certificate": certificate,
                "x5c": x5c,
            }
        )
    write_public(
        node_dir / "authorities.json", json.dumps(entries, indent=2, ensure_ascii=False).encode()
    )


class AuthorityRegistry:
    """The authorities of one region, loaded from its node directory."""

    def __init__(self, authorities: dict[str, Authority]) -> None:
        self._by_code = authorities

    @classmethod
    def load(cls, node_dir: Path) -> AuthorityRegistry:
        path = node_dir / "authorities.json"
        if not path.exists():
            return cls({})
        authorities: dict[str, Authority] = {}
        for entry in json.loads(path.read_text(encoding="utf-8")):
            info = IssuingAuthority(entry["credit_code"], entry["name"], entry["region_code"])
            key = SigningKey.from_pem((node_dir / entry["seal_key"]).read_bytes())
            chain = tuple(str(c) for c in entry.get("x5c", ()))  # absent: provisioned before x5c
            seal = ElectronicSeal(info, key, entry["seal_certificate"], chain)
            authorities[info.credit_code] = Authority(seal, tuple(entry["licence_types"]))
        return cls(authorities)

    def all(self) -> list[Authority]:
        return list(self._by_code.values())

    def seal_keys_of(self, credit_code: str) -> tuple[Jwk, ...]:
        """The public seal key of an authority of this region (none for an unknown code)."""
        authority = self._by_code.get(credit_code)
        return (authority.seal.key.jwk,) if authority is not None else ()

    def for_issue(self, authority_code: str, type_code: str) -> Authority:
        authority = self._by_code.get(authority_code)
        if authority is None:
            known = ", ".join(f"{a.info.credit_code} {a.info.name}" for a in self._by_code.values())
            raise NotFound(
                f"no issuing authority {authority_code!r} in this region; known: {known}"
            )
        if type_code not in authority.licence_types:
            raise PermissionDenied(f"{authority.info.name} may not issue licence type {type_code}")
        return authority

    def default_for(self, type_code: str) -> Authority:
        for authority in self._by_code.values():
            if type_code in authority.licence_types:
                return authority
        raise NotFound(f"no authority in this region issues licence type {type_code}")

    def for_department(self, department: Department, region_code: str) -> Authority:
        """The region's authority answering to `department`: it seals that department's work."""
        for authority in self._by_code.values():
            if authority.departments == {department.credit_code}:
                return authority
        raise FailedPrecondition(
            f"region {region_code} has no issuing authority for {department.name_zh} "
            f"({department.name_en}); it cannot seal that department's case archives"
        )
