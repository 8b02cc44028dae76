"""Cryptographic building blocks: compact JWS (EdDSA, ES256, SM2SM3) and JWKs, PKI, passwords."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "EDDSA_ONLY": "jose",
        "Jwk": "jose",
        "MEMBER_ALGS": "jose",
        "ParsedJws": "jose",
        "SIGNATURE_ALGS": "jose",
        "SUITES": "jose",
        "SigningKey": "jose",
        "Sm2PrivateKey": "sm2",
        "canonical_json": "jose",
        "create_root_ca": "pki",
        "entity_dns_name": "pki",
        "entity_id_of": "pki",
        "hash_password": "passwords",
        "issue_node_certificate": "pki",
        "parse_compact": "jose",
        "sign_compact": "jose",
        "verify_compact": "jose",
        "verify_parsed": "jose",
        "verify_password": "passwords",
    },
)
