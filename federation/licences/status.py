"""Signed status lists (IETF Token Status List style): 2 bits per licence, zlib, EdDSA JWT."""

# A list is signed by its REGION's signing key, not by an authority's seal key: the region node
# keeps the lists of all its authorities, a verifier finds the key directly in the trust list (no
# certificate chain to carry), and a stolen seal key cannot un-revoke anything. The licence's
# sealed `status` claim names the list uri, so a list is only accepted from the licence's region.

from __future__ import annotations

import enum
import random
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from federation.crypto.jose import SigningKey, b64url_decode, b64url_encode, sign_compact
from federation.errors import (
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unauthenticated,
)
from federation.licences.sealcert import (
    RegionKeyResolver,
    int_claim,
    parse_jws,
    resolve_region_key,
    verify_signature,
)
from federation.regions import Region

STATUS_LIST_TYP = "statuslist+jwt"
STATUS_BITS = 2
MAX_STATUS_LIST_BYTES = 4 * 1024 * 1024  # 16 Mi entries at 2 bits: far above one issuer's needs
DEFAULT_STATUS_TTL_S = 300
DEFAULT_SKEW_S = 60


class LicenceStatus(enum.IntEnum):
    """Status values as the Token Status List defines them (0 valid, 1 invalid, 2 suspended)."""

    VALID = 0
    REVOKED = 1
    SUSPENDED = 2


_STATUS_OF: dict[int, LicenceStatus] = {status.value: status for status in LicenceStatus}
"""LicenceStatus by value: every verdict on a licence with a status list reads one."""

# Revocation is final; suspension can be lifted or turned into a revocation.
_ALLOWED = {
    LicenceStatus.VALID: {LicenceStatus.REVOKED, LicenceStatus.SUSPENDED},
    LicenceStatus.SUSPENDED: {LicenceStatus.VALID, LicenceStatus.REVOKED},
    LicenceStatus.REVOKED: set(),
}


class StatusList:
    """A fixed-size array of `bits`-bit statuses; index 0 is in the low bits of byte 0."""

    def __init__(self, size: int, bits: int = STATUS_BITS) -> None:
        if bits not in (1, 2, 4, 8):
            raise InvalidArgument(f"status bits must be 1, 2, 4 or 8, got {bits}")
        per_byte = 8 // bits
        if not 0 < size <= MAX_STATUS_LIST_BYTES * per_byte:
            raise InvalidArgument(f"status list size must be 1..{MAX_STATUS_LIST_BYTES * per_byte}")
        self.bits = bits
        self._data = bytearray(-(-size // per_byte))

    @classmethod
    def from_bytes(cls, data: bytes, bits: int = STATUS_BITS) -> StatusList:
        if not data:
            raise InvalidArgument("a status list has at least one byte")
        out = cls(len(data) * (8 // bits), bits)
        out._data[:] = data
        return out

    @property
    def size(self) -> int:
        """The number of entries (a whole number of bytes)."""
        return len(self._data) * (8 // self.bits)

    def to_bytes(self) -> bytes:
        return bytes(self._data)

    def _locate(self, index: int) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            raise InvalidArgument(f"status index {index!r} outside the list (size {self.size})")
        per_byte = 8 // self.bits
        return index // per_byte, (index % per_byte) * self.bits

    def raw(self, index: int) -> int:
        byte, shift = self._locate(index)
        return (self._data[byte] >> shift) & ((1 << self.bits) - 1)

    def get(self, index: int) -> LicenceStatus:
        value = self.raw(index)
        status = _STATUS_OF.get(value)  # LicenceStatus(value), without the enum's Python call
        if status is None:
            raise InvalidArgument(f"status value {value} at index {index} is undefined")
        return status

    def set(self, index: int, status: int) -> None:
        """Write a value without business rules (use `transition` for revoke/suspend)."""
        mask = (1 << self.bits) - 1
        if isinstance(status, bool) or not 0 <= int(status) <= mask:
            raise InvalidArgument(f"status {status!r} does not fit in {self.bits} bits")
        byte, shift = self._locate(index)
        self._data[byte] = (self._data[byte] & ~(mask << shift) & 0xFF) | (int(status) << shift)

    def transition(self, index: int, target: LicenceStatus) -> LicenceStatus:
        """Move a licence to `target` if allowed; return the previous status."""
        current = self.get(index)
        if target is not current and target not in _ALLOWED[current]:
            raise FailedPrecondition(
                f"licence at index {index} is {current.name.lower()}; "
                f"it cannot become {target.name.lower()}"
            )
        self.set(index, target)
        return current

    def encode(self) -> dict[str, Any]:
        """The `status_list` claim: `{"bits": n, "lst": base64url(zlib(bytes))}`."""
        return {"bits": self.bits, "lst": b64url_encode(zlib.compress(bytes(self._data), 9))}

    @classmethod
    def decode(cls, claim: Mapping[str, Any]) -> StatusList:
        """Inverse of `encode`; refuses malformed input and decompression bombs."""
        if not isinstance(claim, Mapping):
            raise InvalidArgument("status_list claim must be an object")
        bits, lst = claim.get("bits"), claim.get("lst")
        if isinstance(bits, bool) or not isinstance(bits, int) or not isinstance(lst, str):
            raise InvalidArgument("status_list needs integer 'bits' and string 'lst'")
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(b64url_decode(lst), MAX_STATUS_LIST_BYTES)
        except zlib.error as exc:
            raise InvalidArgument(f"status list is not zlib data: {exc}") from None
        if inflater.unconsumed_tail:
            raise InvalidArgument(f"status list inflates beyond {MAX_STATUS_LIST_BYTES} bytes")
        if not inflater.eof:
            raise InvalidArgument("status list zlib stream is truncated")
        return cls.from_bytes(data, bits)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, StatusList) and other.bits == self.bits and other._data == self._data
        )

    __hash__ = None  # type: ignore[assignment]


def random_free_index(
    size: int, is_taken: Callable[[int], bool], rng: random.Random, tries: int = 64
) -> int:
    """A random unused index (so neighbours reveal nothing), scanning once random picks fail."""
    for _ in range(tries):
        index = rng.randrange(size)
        if not is_taken(index):
            return index
    start = rng.randrange(size)
    for offset in range(size):
        index = (start + offset) % size
        if not is_taken(index):
            return index
    raise ResourceExhausted(f"status list of {size} entries is full; open a new list")


@dataclass(frozen=True)
class VerifiedStatusList:
    """A status list whose region signature and freshness were checked."""

    uri: str
    region: Region
    issued_at: int
    expires_at: int
    ttl: int
    statuses: StatusList
    token: str

    def cache_until(self, fetched_at: float) -> float:
        """Keep the list no longer than its `ttl` after fetching, nor past its `exp`."""
        return min(float(self.expires_at), fetched_at + self.ttl)

    def status_of(self, index: int) -> LicenceStatus:
        return self.statuses.get(index)


def sign_status_list(
    statuses: StatusList,
    region_key: SigningKey,
    region: Region,
    uri: str,
    now: float,
    ttl: int = DEFAULT_STATUS_TTL_S,
    lifetime: int = 86400,
) -> str:
    """Sign a `statuslist+jwt` for `uri` with the region's key."""
    if not 0 < ttl <= lifetime:
        raise InvalidArgument(f"status list ttl must be 1..lifetime ({lifetime}) s, got {ttl}")
    iat = int(now)
    payload = {
        "iss": region.entity_id,
        "sub": uri,
        "iat": iat,
        "exp": iat + lifetime,
        "ttl": ttl,
        "status_list": statuses.encode(),
    }
    return sign_compact(payload, region_key, typ=STATUS_LIST_TYP)


def _region_of_entity(entity_id: object) -> Region:
    for region in Region:
        if region.entity_id == entity_id:
            return region
    raise Unauthenticated(f"status list issuer {entity_id!r} is not a federation region")


def verify_status_list(
    token: str,
    region_key: RegionKeyResolver,
    now: float,
    expected_uri: str | None = None,
    expected_region: Region | None = None,
    skew_s: int = DEFAULT_SKEW_S,
) -> VerifiedStatusList:
    """Verify a status list JWT against the trust list; stale, foreign or forged lists fail."""
    parsed = parse_jws(token)
    if parsed.header.get("typ") != STATUS_LIST_TYP:
        raise Unauthenticated(f"not a status list (typ {parsed.header.get('typ')!r})")
    payload = parsed.payload()
    region = _region_of_entity(payload.get("iss"))
    jwk = resolve_region_key(region_key, region.code, parsed.header["kid"])
    verify_signature(parsed, jwk, f"status list (region {region.short})")
    uri = payload.get("sub")
    if not isinstance(uri, str):
        raise InvalidArgument("status list 'sub' (its uri) must be a string")
    if expected_uri is not None and uri != expected_uri:
        raise Unauthenticated(f"status list is for {uri!r}, the licence points to {expected_uri!r}")
    if expected_region is not None and region is not expected_region:
        raise Unauthenticated(
            f"status list signed by {region.short}, but the licence was issued in "
            f"{expected_region.short}"
        )
    iat = int_claim(payload, "iat", "status list")
    exp = int_claim(payload, "exp", "status list")
    ttl = int_claim(payload, "ttl", "status list")
    if now > exp + skew_s:
        raise Unauthenticated(f"status list {uri} expired at {exp}; fetch a fresh one")
    if iat > now + skew_s:
        raise Unauthenticated(f"status list {uri} issued in the future (check clocks)")
    claim = payload.get("status_list")
    if not isinstance(claim, dict):
        raise InvalidArgument("status list JWT has no 'status_list' object")
    statuses = StatusList.decode(claim)
    return VerifiedStatusList(uri, region, iat, exp, max(ttl, 0), statuses, token)


__all__ = [
    "DEFAULT_STATUS_TTL_S",
    "MAX_STATUS_LIST_BYTES",
    "STATUS_BITS",
    "STATUS_LIST_TYP",
    "LicenceStatus",
    "StatusList",
    "VerifiedStatusList",
    "random_free_index",
    "sign_status_list",
    "verify_status_list",
]
