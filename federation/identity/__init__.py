"""Identity (一地认证, 全网通办): home-region login, federated tokens, homes, face checks."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Assurance": "assurance",
        "FaceCheckResult": "provider",
        "FaceVerificationService": "face",
        "HomeAttestation": "homes",
        "HomeRegistry": "homes",
        "IdentityProvider": "provider",
        "TokenClaims": "tokens",
        "TokenVerifier": "tokens",
        "mint_token": "tokens",
        "verify_home_attestation": "homes",
    },
)
