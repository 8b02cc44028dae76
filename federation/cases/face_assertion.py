"""The hub's face-verification assertion as a case accepts it: whose face, for which window."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from federation.crypto.jose import KeyResolver, parse_compact, verify_compact
from federation.errors import InvalidArgument, PermissionDenied, Unauthenticated
from federation.identity.face import FACE_ASSERTION_TYP


def face_score(claims: Mapping[str, Any], subject: str, window_region: str, now: float) -> float:
    """The similarity score of a verified assertion's claims, once every rule holds.

    The assertion must be about the applicant, made for the window's region (the region whose
    quota paid for it), unexpired, and a match.
    """
    if claims.get("sub") != subject:
        raise PermissionDenied("the face assertion is about another person")
    if claims.get("aud") != window_region:
        raise PermissionDenied(
            f"the face assertion was made for region {claims.get('aud')}, "
            f"not the window's region {window_region}"
        )
    expires = claims.get("exp")
    if isinstance(expires, bool) or not isinstance(expires, int) or now > expires:
        raise Unauthenticated("the face assertion expired; verify the face again")
    if claims.get("match") is not True:
        raise PermissionDenied("the hub did not match the applicant's face")
    score = claims.get("score", 0.0)
    if isinstance(score, bool) or not isinstance(score, int | float) or not -1 <= score <= 1:
        raise InvalidArgument(f"the face assertion's score {score!r} is not a number in -1..1")
    return float(score)


def verify_face_assertion(
    assertion: str, subject: str, window_region: str, hub_key: KeyResolver, now: float
) -> float:
    """Check a hub-signed face assertion for a case; the similarity score, or a refusal."""
    if parse_compact(assertion).header.get("typ") != FACE_ASSERTION_TYP:
        raise Unauthenticated("the face assertion is not a hub face-verification result")
    claims = verify_compact(assertion, hub_key).payload()
    return face_score(claims, subject, window_region, now)


__all__ = ["face_score", "verify_face_assertion"]
