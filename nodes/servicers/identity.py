"""IdentityService: registration, login and token minting at home; verification anywhere."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

import grpc

from federation.audit import AuditDraft
from federation.errors import InvalidArgument
from federation.identity.assurance import Assurance
from federation.identity.provider import IdentityProvider
from federation.identity.tokens import TokenClaims, TokenVerifier
from federation.trust.trustlist import UnknownKey
from nodes.convert import claims_to_proto, login_to_proto, revocation_to_proto
from nodes.pb.v1 import identity_pb2, identity_pb2_grpc
from nodes.server.interceptors import caller
from nodes.server.runtime import NodeRuntime

SERVICE = "/yrd.federation.v1.IdentityService/"
OPERATOR = frozenset({"operator"})
ROLES = {
    SERVICE + "RegisterSubject": OPERATOR,
    SERVICE + "Authenticate": OPERATOR,
    SERVICE + "IssueToken": OPERATOR,
    SERVICE + "Logout": OPERATOR,
    SERVICE + "EnrolFace": OPERATOR,
    SERVICE + "VerifyToken": frozenset({"operator", "region"}),
    SERVICE + "ListRevocations": frozenset({"region", "operator"}),
}
STORE_WRITERS = 4
"""Threads that wait on VerifyToken's replay-and-audit commits (group commit batches them)."""


def _level(text: str) -> Assurance:
    return Assurance.parse(text) if text else Assurance.LOW


def _require(value: str, name: str) -> str:
    if not value:
        raise InvalidArgument(f"{name} is required")
    return value


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self, runtime: NodeRuntime, provider: IdentityProvider, verifier: TokenVerifier
    ) -> None:
        self._rt = runtime
        self._provider = provider
        self._verifier = verifier
        # its own small pool: a slow commit never blocks the event loop or the rpc workers;
        # the node shuts it down (`close`) once its server has drained
        self._store_writes = ThreadPoolExecutor(STORE_WRITERS, thread_name_prefix="verify-store")

    def close(self) -> None:
        """Wait for the store writes running or queued here (idempotent): each commits before
        the node closes its store. Call after the server stopped taking calls."""
        self._store_writes.shutdown(wait=True)

    def RegisterSubject(
        self, request: identity_pb2.RegisterSubjectRequest, context: grpc.ServicerContext
    ) -> identity_pb2.RegisterSubjectResponse:
        record = self._provider.register(
            request.kind, request.subject_id, request.name, request.password
        )
        self._rt.audit(caller().entity_id, "identity.register", "granted", record.subject_id)
        return identity_pb2.RegisterSubjectResponse(
            subject_id=record.subject_id, home_region=record.home_region
        )

    def Authenticate(
        self, request: identity_pb2.AuthenticateRequest, context: grpc.ServicerContext
    ) -> identity_pb2.AuthenticateResponse:
        result = self._provider.authenticate(
            _require(request.subject_id, "subject_id"),
            request.password,
            list(request.audiences),
            _level(request.requested_acr),
            list(request.face_template) if request.face_template else None,
        )
        self._rt.audit(
            caller().entity_id,
            "identity.authenticate",
            "granted",
            request.subject_id,
            {"acr": result.assurance.acr, "audiences": sorted(result.tokens)},
        )
        return login_to_proto(result)

    def IssueToken(
        self, request: identity_pb2.IssueTokenRequest, context: grpc.ServicerContext
    ) -> identity_pb2.IssueTokenResponse:
        token = self._provider.issue_token(
            _require(request.session_id, "session_id"),
            request.session_secret,
            _require(request.audience, "audience"),
        )
        return identity_pb2.IssueTokenResponse(token=token)

    def Logout(
        self, request: identity_pb2.LogoutRequest, context: grpc.ServicerContext
    ) -> identity_pb2.LogoutResponse:
        session = self._provider.logout(
            _require(request.session_id, "session_id"), request.session_secret
        )
        self._rt.audit(
            caller().entity_id,
            "identity.logout",
            "granted",
            session.subject_id,
            {"session_id": session.session_id},
        )
        return identity_pb2.LogoutResponse(revoked_at=session.revoked_at or 0.0)

    def EnrolFace(
        self, request: identity_pb2.EnrolFaceRequest, context: grpc.ServicerContext
    ) -> identity_pb2.EnrolFaceResponse:
        self._provider.enrol_face(
            _require(request.subject_id, "subject_id"), request.password, list(request.template)
        )
        self._rt.audit(caller().entity_id, "identity.enrol_face", "granted", request.subject_id)
        return identity_pb2.EnrolFaceResponse(subject_id=request.subject_id)

    async def VerifyToken(
        self, request: identity_pb2.VerifyTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.VerifyTokenResponse:
        """A coroutine: the CPU checks run on the event loop, the store on `_store_writes`.

        The checks (parse, one Ed25519 verification of ~0.14 ms, a cached home attestation)
        touch no store or network, and the loop already decodes and admits every call. A
        health probe waits behind at most the checks queued ahead of it: the unary budget
        (applied by the interceptor to coroutines too, 1024 calls in total, half per caller)
        bounds that to about 0.2 s in the worst burst, well inside a probe's timeout; in
        practice it is one or two checks. The store half (revocation, replay row and audit
        entry, one commit) runs on the loop only when it cannot wait (see below), else on
        `_store_writes`.
        """
        asking = caller().entity_id
        token = _require(request.token, "token")
        level = _level(request.required_acr)
        now = self._rt.clock.now()
        loop = asyncio.get_running_loop()
        try:
            claims = self._verifier.check(token, level, now, refresh=False)
        except UnknownKey:  # rare (key rotation): refreshing the trust list may need the hub
            claims = await loop.run_in_executor(
                None, functools.partial(self._verifier.check, token, level, now)
            )
        # revocation, then the jti and the audit entry of accepting it, committed together
        # before the answer (fail closed). Done right here when that waits for nothing (no
        # batch in progress, the store free, a commit without fsync: tens of microseconds,
        # less than two thread switches); otherwise on `_store_writes`, where a slow commit
        # holds a store thread, never the loop, and concurrent calls share one transaction.
        audit = functools.partial(self._audit_of, asking)
        if self._verifier.accept_now(claims, audit) is None:
            await loop.run_in_executor(self._store_writes, self._verifier.accept, claims, audit)
        return identity_pb2.VerifyTokenResponse(claims=claims_to_proto(claims))

    def _audit_of(self, asking: str, claims: TokenClaims) -> AuditDraft:
        return self._rt.draft(
            asking,
            "identity.verify_token",
            "granted",
            claims.subject,
            {"iss": claims.issuer, "jti": claims.jti, "acr": claims.assurance.acr},
        )

    def ListRevocations(
        self, request: identity_pb2.ListRevocationsRequest, context: grpc.ServicerContext
    ) -> identity_pb2.ListRevocationsResponse:
        now = self._rt.clock.now()
        revocations = self._rt.store.revoked_sessions(request.since, now)
        return identity_pb2.ListRevocationsResponse(
            issuer=self._rt.entity_id,
            revocations=[revocation_to_proto(r) for r in revocations],
            as_of=now,
        )
