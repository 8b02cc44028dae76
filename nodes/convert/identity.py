"""Identity conversions: token claims and revoked sessions, both ways (round-trip tested)."""

from __future__ import annotations

from federation.identity.assurance import Assurance
from federation.identity.provider import LoginResult
from federation.identity.tokens import TokenClaims
from federation.storage.base import Revocation
from nodes.pb.v1 import common_pb2, identity_pb2


def claims_to_proto(claims: TokenClaims) -> common_pb2.TokenClaims:
    return common_pb2.TokenClaims(
        iss=claims.issuer,
        sub=claims.subject,
        aud=claims.audience,
        iat=claims.issued_at,
        exp=claims.expires_at,
        jti=claims.jti,
        acr=claims.assurance.acr,
        sid=claims.session_id,
        home_region=claims.home_region,
        subject_kind=claims.subject_kind,
        name=claims.name,
        amr=list(claims.amr),
    )


def claims_from_proto(msg: common_pb2.TokenClaims) -> TokenClaims:
    return TokenClaims(
        issuer=msg.iss,
        subject=msg.sub,
        audience=msg.aud,
        issued_at=msg.iat,
        expires_at=msg.exp,
        jti=msg.jti,
        assurance=Assurance.parse(msg.acr),
        session_id=msg.sid,
        home_region=msg.home_region,
        subject_kind=msg.subject_kind,
        name=msg.name,
        amr=tuple(msg.amr),
    )


def revocation_to_proto(rev: Revocation) -> identity_pb2.Revocation:
    return identity_pb2.Revocation(
        session_id=rev.session_id, revoked_at=rev.revoked_at, expires_at=rev.expires_at
    )


def revocation_from_proto(msg: identity_pb2.Revocation) -> Revocation:
    return Revocation(
        session_id=msg.session_id, revoked_at=msg.revoked_at, expires_at=msg.expires_at
    )


def login_to_proto(result: LoginResult) -> identity_pb2.AuthenticateResponse:
    return identity_pb2.AuthenticateResponse(
        session_id=result.session_id,
        session_secret=result.session_secret,
        acr=result.assurance.acr,
        session_expires_at=result.expires_at,
        tokens=dict(result.tokens),
        face_assertion=result.face_assertion,
    )


def login_from_proto(msg: identity_pb2.AuthenticateResponse) -> LoginResult:
    return LoginResult(
        session_id=msg.session_id,
        session_secret=msg.session_secret,
        assurance=Assurance.parse(msg.acr),
        expires_at=msg.session_expires_at,
        tokens=dict(msg.tokens),
        face_assertion=msg.face_assertion,
    )
