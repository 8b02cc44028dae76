"""Verifier-chosen presentation nonces: a short-lived challenge bound to the verifying region."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from federation.crypto.jose import b64url_encode
from federation.errors import InvalidArgument, Unauthenticated

# A challenge nonce is `<random>.<expires_at>.<mac>`, the MAC (HMAC-SHA-256 under the verifier's
# own secret) binding the random part, the expiry and the verifier's entity id: the verifier
# recognises its own live challenges without a lookup, and no other region's challenge passes.
# Single use is the replay table's job: the nonce is remembered when a presentation answers it.
DEFAULT_CHALLENGE_TTL_S = 120
MAX_CHALLENGE_TTL_S = 600
_RANDOM_BYTES = 16
_MAC_BYTES = 16


@dataclass(frozen=True)
class Challenge:
    """A nonce the holder must sign into its presentation for `audience`, before `expires_at`."""

    nonce: str
    audience: str
    expires_at: int


def _mac(secret: bytes, audience: str, random_part: str, expires_at: int) -> str:
    message = f"{audience}\n{random_part}\n{expires_at}".encode()
    return b64url_encode(hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES])


def issue_challenge(
    secret: bytes, audience: str, now: float, ttl_s: int = DEFAULT_CHALLENGE_TTL_S
) -> Challenge:
    """A fresh random nonce for presentations to `audience`, valid for `ttl_s` seconds."""
    if not audience:
        raise InvalidArgument("a challenge needs the verifier's id as audience")
    if not 0 < ttl_s <= MAX_CHALLENGE_TTL_S:
        raise InvalidArgument(f"challenge lifetime must be 1..{MAX_CHALLENGE_TTL_S} s")
    random_part = b64url_encode(secrets.token_bytes(_RANDOM_BYTES))
    expires_at = int(now) + ttl_s
    nonce = f"{random_part}.{expires_at}.{_mac(secret, audience, random_part, expires_at)}"
    return Challenge(nonce, audience, expires_at)


def check_challenge(secret: bytes, audience: str, nonce: str, now: float) -> Challenge:
    """The challenge `nonce` names, if this verifier issued it for `audience` and it is live.

    Unauthenticated otherwise (another verifier's, altered, or expired); whether it was already
    answered is for the replay table to say.
    """
    pieces = nonce.split(".") if isinstance(nonce, str) else []
    if len(pieces) != 3 or not pieces[1].isdigit() or len(pieces[1]) > 12:
        raise Unauthenticated("the expected nonce is not a challenge issued by this verifier")
    random_part, expiry, mac = pieces
    expires_at = int(expiry)
    if not hmac.compare_digest(mac, _mac(secret, audience, random_part, expires_at)):
        raise Unauthenticated("the expected nonce is not a challenge issued by this verifier")
    if now >= expires_at:
        raise Unauthenticated(f"the challenge expired at {expires_at}; ask for a new one")
    return Challenge(nonce, audience, expires_at)


__all__ = [
    "DEFAULT_CHALLENGE_TTL_S",
    "MAX_CHALLENGE_TTL_S",
    "Challenge",
    "check_challenge",
    "issue_challenge",
]
