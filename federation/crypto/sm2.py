"""SM2 signatures with SM3 (GB/T 32918.2, GB/T 35276) as a JOSE suite: alg `SM2SM3`, JWK EC/SM2.

JOSE registers no SM2 algorithm, so the federation names it explicitly, as existing Chinese JOSE
implementations do (fibjs's `jws` module: `"alg": "SM2SM3"` with `{"kty": "EC", "crv": "SM2",
"x", "y"}` keys; several Go JWT libraries use `"alg": "SM2"` for the same pair):

- JWS `alg`: `SM2SM3` — SM2 digital signature over the SM3 hash, nothing else.
- JWK: `{"kty": "EC", "crv": "SM2", "x": b64url(32 bytes), "y": b64url(32 bytes)}`, the point
  on the GM/T 0003.5 recommended curve `sm2p256v1`; the RFC 7638 thumbprint covers crv/kty/x/y.
- Signature: fixed-width `r || s`, 32 bytes each (64 bytes), as RFC 7518 has ECDSA — not the
  DER `SM2Signature` SEQUENCE of GB/T 35276.
- Distinguishing identifier (the ID hashed into Z = SM3(ENTL || ID || a || b || G || P)):
  GB/T 35276-2017's default `1234567812345678` (also GM/T 0009's). Tongsuo (as tongsuopy
  builds it) and GmSSL's `gmssl` use it when none is given; OpenSSL 3 must be told
  (`openssl pkeyutl ... -pkeyopt distid:1234567812345678`); fibjs signs with an empty ID. The
  tests pin it against `gmssl` and the OpenSSL command line. A signature made under another ID
  does not verify here.

The primitive is Tongsuo's, through `tongsuopy`. It is imported on first use only, so a process
that never meets an SM2 key never loads it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ALG = "SM2SM3"
KTY = "EC"
CRV = "SM2"
DISTINGUISHING_ID = b"1234567812345678"
"""GB/T 35276-2017 default ID; tongsuopy signs and verifies under it (checked against GmSSL)."""
COORDINATE_BYTES = 32
SIGNATURE_BYTES = 2 * COORDINATE_BYTES
ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
"""n of sm2p256v1 (GM/T 0003.5): r and s of a valid signature lie in 1..n-1."""


def _tongsuo() -> tuple[Any, Any, Any]:
    """(ec, hashes, serialization) of tongsuopy, imported when SM2 is first used."""
    from tongsuopy.crypto import hashes, serialization
    from tongsuopy.crypto.asymciphers import ec

    return ec, hashes, serialization


def _sm3_signature() -> Any:
    ec, hashes, _ = _tongsuo()
    return ec.ECDSA(hashes.SM3())  # tongsuopy's name for "EVP digest-sign with this hash"


@functools.lru_cache(maxsize=1024)
def public_key(x: int, y: int) -> Any:
    """The tongsuopy key of a point; ValueError unless it is on sm2p256v1 (decoded once)."""
    ec, _, _ = _tongsuo()
    if not (0 <= x < 1 << 256 and 0 <= y < 1 << 256):
        raise ValueError("SM2 coordinates are 32 bytes each")
    return ec.EllipticCurvePublicNumbers(x, y, ec.SM2()).public_key()


def verify(x: int, y: int, signature: bytes, data: bytes) -> None:
    """Check an `r || s` SM2/SM3 signature of `data`; InvalidSignature if it does not hold."""
    if len(signature) != SIGNATURE_BYTES:
        raise InvalidSignature("an SM2SM3 signature is 64 bytes (r || s)")
    r = int.from_bytes(signature[:COORDINATE_BYTES], "big")
    s = int.from_bytes(signature[COORDINATE_BYTES:], "big")
    if not (0 < r < ORDER and 0 < s < ORDER):
        raise InvalidSignature("SM2 r and s must lie in 1..n-1")
    from tongsuopy.crypto.exceptions import InvalidSignature as TongsuoInvalidSignature

    try:
        public_key(x, y).verify(encode_dss_signature(r, s), data, _sm3_signature())
    except TongsuoInvalidSignature:
        raise InvalidSignature("SM2SM3 signature does not verify") from None


@dataclass(frozen=True)
class Sm2PrivateKey:
    """An SM2 private key (tongsuopy) that signs JOSE-style: SM3, default ID, `r || s`."""

    key: Any

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        ec, _, _ = _tongsuo()
        return cls(ec.generate_private_key(ec.SM2()))

    @classmethod
    def from_private_value(cls, d: int) -> Sm2PrivateKey:
        ec, _, _ = _tongsuo()
        return cls(ec.derive_private_key(d, ec.SM2()))

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PrivateKey:
        """A PKCS#8 PEM SM2 key; ValueError if it is anything else."""
        ec, _, serialization = _tongsuo()
        from tongsuopy.crypto.exceptions import UnsupportedAlgorithm

        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
            raise ValueError(f"not an SM2 private key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != CRV:
            raise ValueError("not an SM2 private key")
        return cls(key)

    def public_numbers(self) -> tuple[int, int]:
        numbers = self.key.public_key().public_numbers()
        return int(numbers.x), int(numbers.y)

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(bytes(self.key.sign(data, _sm3_signature())))
        return r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")

    def to_pem(self) -> bytes:
        _, _, serialization = _tongsuo()
        return bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


__all__ = [
    "ALG",
    "COORDINATE_BYTES",
    "CRV",
    "DISTINGUISHING_ID",
    "KTY",
    "ORDER",
    "SIGNATURE_BYTES",
    "Sm2PrivateKey",
    "public_key",
    "verify",
]
