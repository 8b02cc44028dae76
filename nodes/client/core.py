"""A typed client for integrators and the operator console: one call per RPC, domain errors out."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.json_format import MessageToDict
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.errors import Unavailable
from federation.regions import Region, parse_region
from federation.trust.trustlist import Member, TrustList, verify_trust_list
from nodes.client.cases import CaseCalls
from nodes.errors import error_from_rpc
from nodes.ops.provisioning import Layout, load_anchor, read_trust_list
from nodes.pb.v1 import (
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    licence_pb2,
    licence_pb2_grpc,
    trust_pb2,
    trust_pb2_grpc,
)
from nodes.peering.channels import secure_channel
from nodes.tls import TlsMaterial

if TYPE_CHECKING:
    from nodes.observability.tracing import NodeTracing

T = TypeVar("T")


def to_dict(message: Any) -> dict[str, Any]:
    """A reply message as a JSON-ready dict, keeping the proto field names (snake_case)."""
    return MessageToDict(message, preserving_proto_field_name=True)


class FederationClient(CaseCalls):
    """Talks to any node of a federation directory with the operator's mTLS identity.

    One method per RPC; regions are given by code ("330000"), short name ("ZJ") or `Region`.
    Replies are the generated protobuf messages (`to_dict` turns one into a dict); failures raise
    `federation.errors.FederationError` subclasses. Use it in a `with` block to close channels.
    """

    def __init__(
        self, directory: Path, timeout_s: float = 5.0, tracing: NodeTracing | None = None
    ) -> None:
        """Read the directory's trust list and operator certificate; no connection is made yet.

        `directory` is what `yrd federation init` created; `timeout_s` bounds every call.
        With `tracing`, every call runs in a client span under the caller's current span and
        carries its W3C trace context, so the nodes continue the caller's trace.
        """
        self.layout = Layout(directory.resolve())
        self.trust_list: TrustList = read_trust_list(self.layout)
        op = self.layout.operator_dir
        self._creds = TlsMaterial.load(
            self.layout.ca_cert, op / "tls.crt", op / "tls.key"
        ).channel_credentials()
        self.timeout_s = timeout_s
        self._channels: dict[tuple[str, str], grpc.Channel] = {}
        self._tracing = tracing

    def member(self, region: Region | str) -> Member:
        """The trust-list member of a region (code, short name, or `Region`)."""
        r = region if isinstance(region, Region) else parse_region(region)
        role = "hub" if r is Region.HUB else "region"
        return self.trust_list.member_by_region(r.code, role=role)

    def endpoint(self, region: Region | str) -> str:
        """The `host:port` the trust list gives for a region (code, short name, or `Region`);
        a region run as several replicas lists them all, comma-separated."""
        return self.member(region).endpoint

    def channel(self, region: Region | str) -> grpc.Channel:
        """The mTLS channel to a region's node, opened once and reused until `close()`.

        The handshake fails unless the node answering presents the certificate of the member
        the trust list names for the region (any other member is refused)."""
        member = self.member(region)
        # keyed by member too: a channel checks one member's name, even if two share an address
        key = (member.endpoint, member.entity_id)
        if key not in self._channels:
            # a region listing several replicas balances over them (round_robin)
            channel = secure_channel(member.endpoint, self._creds, member.entity_id)
            if self._tracing is not None:
                from nodes.observability.rpc_client import PeerCallObserver

                channel = grpc.intercept_channel(
                    channel, PeerCallObserver(member.entity_id, None, self._tracing)
                )
            self._channels[key] = channel
        return self._channels[key]

    def call(self, region: Region | str, what: str, fn: Callable[[], T]) -> T:
        """Run one RPC; a gRPC error comes out as the matching `FederationError` subclass."""
        try:
            return fn()
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, f"{what} at {region}") from None

    def close(self) -> None:
        """Close every channel (the client can still be used: channels reopen on demand)."""
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def __enter__(self) -> FederationClient:
        """Use the client in a `with` block; its channels close on leaving."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the channels."""
        self.close()

    # --- stubs --------------------------------------------------------------------
    def identity(self, region: Region | str) -> identity_pb2_grpc.IdentityServiceStub:
        """The raw IdentityService stub of a region (for calls this client does not wrap)."""
        return identity_pb2_grpc.IdentityServiceStub(self.channel(region))

    # --- calls --------------------------------------------------------------------
    def health(self, region: Region | str, service: str = "") -> str:
        """`grpc.health.v1` status of a node (or one of its services): SERVING, NOT_SERVING..."""
        stub = health_pb2_grpc.HealthStub(self.channel(region))
        reply = self.call(
            region,
            "health check",
            lambda: stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=self.timeout_s
            ),
        )
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    def wait_healthy(self, region: Region | str, attempts: int = 100, pause_s: float = 0.1) -> None:
        """Poll `health` until SERVING; raises `Unavailable` after `attempts` tries."""
        import time

        last = ""
        for _ in range(attempts):
            try:
                if self.health(region) == "SERVING":
                    return
            except Exception as exc:
                last = str(exc)
            time.sleep(pause_s)
        raise Unavailable(f"{region} did not become healthy: {last}")

    def echo(self, region: Region | str, payload: bytes) -> bytes:
        """DiagnosticsService.Echo: the payload back, the baseline round trip of benchmarks."""
        stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(self.channel(region))
        reply = self.call(
            region,
            "echo",
            lambda: stub.Echo(diagnostics_pb2.EchoRequest(payload=payload), timeout=self.timeout_s),
        )
        return bytes(reply.payload)

    def status(
        self, region: Region | str, probe_peers: bool = True, peer_timeout_s: float = 1.0
    ) -> diagnostics_pb2.StatusResponse:
        """A node's status (operator role): package and trust-list versions, trust-list age,
        catalogue version and, with `probe_peers`, every peer's reachability and latency."""
        stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(self.channel(region))
        req = diagnostics_pb2.StatusRequest(probe_peers=probe_peers, peer_timeout_s=peer_timeout_s)
        timeout = self.timeout_s + (peer_timeout_s if probe_peers else 0.0)
        reply: diagnostics_pb2.StatusResponse = self.call(
            region, "status", lambda: stub.Status(req, timeout=timeout)
        )
        return reply

    def fetch_trust_list(self, region: Region | str = Region.HUB) -> tuple[TrustList, str]:
        """The hub's current trust list, verified against the directory's anchor, and its JWS.

        Raises `Unavailable` when the hub cannot be reached; the directory's copy is
        `read_trust_list(Layout(directory))` (or `yrd federation trust-list --offline`).
        """
        stub = trust_pb2_grpc.TrustListServiceStub(self.channel(region))
        reply = self.call(
            region,
            "trust list",
            lambda: stub.GetTrustList(trust_pb2.GetTrustListRequest(), timeout=self.timeout_s),
        )
        import time

        signed = str(reply.signed_trust_list)
        return verify_trust_list(signed, load_anchor(self.layout), time.time()), signed

    def register(
        self, region: Region | str, kind: str, subject_id: str, name: str, password: str
    ) -> identity_pb2.RegisterSubjectResponse:
        """Register a subject at its home region.

        `kind` is "natural" (citizen id, GB 11643) or "legal" (unified social credit code,
        GB 32100). The region claims the home at the hub first: `AlreadyExists` names the other
        home when the subject has one, `Unavailable` when the hub is down (nothing registered).
        """
        req = identity_pb2.RegisterSubjectRequest(
            kind=kind, subject_id=subject_id, name=name, password=password
        )
        stub = self.identity(region)
        reply: identity_pb2.RegisterSubjectResponse = self.call(
            region, "register", lambda: stub.RegisterSubject(req, timeout=self.timeout_s)
        )
        return reply

    def login(
        self,
        region: Region | str,
        subject_id: str,
        password: str,
        audiences: Sequence[str],
        acr: str = "low",
        face_template: Sequence[float] | None = None,
    ) -> identity_pb2.AuthenticateResponse:
        """Log a subject in at its home region; the reply holds one federated token per audience.

        `audiences` are regions (code or short name) the tokens are for; `acr` is "low",
        "substantial" or "high" ("high" needs `face_template`, checked at the hub). The reply
        also carries the session id and secret for `issue_token` and `logout`.
        """
        req = identity_pb2.AuthenticateRequest(
            subject_id=subject_id,
            password=password,
            audiences=[self._audience(a) for a in audiences],
            requested_acr=acr,
            face_template=list(face_template or []),
        )
        stub = self.identity(region)
        reply: identity_pb2.AuthenticateResponse = self.call(
            region, "login", lambda: stub.Authenticate(req, timeout=self.timeout_s)
        )
        return reply

    def _audience(self, audience: str) -> str:
        try:
            return parse_region(audience).code
        except Exception:
            return audience

    def issue_token(self, region: Region | str, session_id: str, secret: str, audience: str) -> str:
        """A fresh federated token (a JWT) for one more audience, from an open session."""
        req = identity_pb2.IssueTokenRequest(
            session_id=session_id, session_secret=secret, audience=self._audience(audience)
        )
        stub = self.identity(region)
        reply = self.call(
            region, "issue token", lambda: stub.IssueToken(req, timeout=self.timeout_s)
        )
        return str(reply.token)

    def logout(self, region: Region | str, session_id: str, secret: str) -> float:
        """End a session (other regions learn of it by polling); returns the revocation time."""
        req = identity_pb2.LogoutRequest(session_id=session_id, session_secret=secret)
        stub = self.identity(region)
        reply = self.call(region, "logout", lambda: stub.Logout(req, timeout=self.timeout_s))
        return float(reply.revoked_at)

    def enrol_face(
        self, region: Region | str, subject_id: str, password: str, template: Sequence[float]
    ) -> None:
        """Enrol a face template at the hub through the subject's home region."""
        req = identity_pb2.EnrolFaceRequest(
            subject_id=subject_id, password=password, template=list(template)
        )
        stub = self.identity(region)
        self.call(region, "enrol face", lambda: stub.EnrolFace(req, timeout=self.timeout_s))

    def verify_token(
        self, region: Region | str, token: str, required_acr: str = ""
    ) -> identity_pb2.VerifyTokenResponse:
        """Verify a token at the region it is meant for (signature, audience, expiry, replay, acr).

        A token verifies once per audience: a second call is refused as a replay.
        """
        req = identity_pb2.VerifyTokenRequest(token=token, required_acr=required_acr)
        stub = self.identity(region)
        reply: identity_pb2.VerifyTokenResponse = self.call(
            region, "verify token", lambda: stub.VerifyToken(req, timeout=self.timeout_s)
        )
        return reply

    # --- licences -----------------------------------------------------------------
    def licence(self, region: Region | str) -> licence_pb2_grpc.LicenceServiceStub:
        """The raw LicenceService stub of a region (for calls this client does not wrap)."""
        return licence_pb2_grpc.LicenceServiceStub(self.channel(region))

    def issue_licence(
        self,
        region: Region | str,
        request_id: str,
        licence_type: str,
        holder_code: str,
        holder_name: str,
        fields: Mapping[str, Any],
        *,
        authority_code: str = "",
        number: str = "",
        valid_from: str = "",
        valid_until: str = "",
        holder_jwk: Mapping[str, Any] | None = None,
    ) -> licence_pb2.LicenceDocument:
        """Issue and seal a licence at `region` (idempotent per `request_id`).

        `fields` are the licence type's fields; `holder_jwk` binds presentations to the holder's
        wallet key. Dates are ISO `YYYY-MM-DD`; an empty `valid_until` means no expiry.
        """
        req = licence_pb2.IssueLicenceRequest(
            request_id=request_id,
            licence_type=licence_type,
            authority_code=authority_code,
            holder_code=holder_code,
            holder_name=holder_name,
            number=number,
            valid_from=valid_from,
            valid_until=valid_until,
            fields_json=json.dumps(dict(fields), ensure_ascii=False),
            holder_jwk_json=json.dumps(dict(holder_jwk)) if holder_jwk else "",
        )
        stub = self.licence(region)
        reply: licence_pb2.LicenceDocument = self.call(
            region, "issue licence", lambda: stub.IssueLicence(req, timeout=self.timeout_s)
        )
        return reply

    def get_licence(self, region: Region | str, identifier: str) -> licence_pb2.LicenceDocument:
        """A licence issued in `region`, by its GB/T 36904 identifier (SD-JWT and status)."""
        req = licence_pb2.GetLicenceRequest(identifier=identifier)
        stub = self.licence(region)
        reply: licence_pb2.LicenceDocument = self.call(
            region, "get licence", lambda: stub.GetLicence(req, timeout=self.timeout_s)
        )
        return reply

    def change_licence_status(
        self, region: Region | str, identifier: str, action: str, reason: str = ""
    ) -> licence_pb2.LicenceDocument:
        """action: revoke, suspend or reinstate (at the issuing region)."""
        req = licence_pb2.ChangeLicenceStatusRequest(identifier=identifier, reason=reason)
        stub = self.licence(region)
        method = {
            "revoke": stub.RevokeLicence,
            "suspend": stub.SuspendLicence,
            "reinstate": stub.ReinstateLicence,
        }[action]
        reply: licence_pb2.LicenceDocument = self.call(
            region, f"{action} licence", lambda: method(req, timeout=self.timeout_s)
        )
        return reply

    def verify_licence(self, region: Region | str, sd_jwt: str) -> licence_pb2.LicenceVerdict:
        """Verify a sealed licence anywhere: seal, chain, validity window and status."""
        req = licence_pb2.VerifyLicenceRequest(sd_jwt=sd_jwt)
        stub = self.licence(region)
        reply: licence_pb2.LicenceVerdict = self.call(
            region, "verify licence", lambda: stub.VerifyLicence(req, timeout=self.timeout_s)
        )
        return reply

    def list_holder_licences(
        self, region: Region | str, token: str, deadline_ms: int = 0
    ) -> licence_pb2.ListHolderLicencesResponse:
        """Every licence the token's subject holds across the regions (归集).

        `token` must be for `region`; `deadline_ms` bounds the fan-out (0: the node's default).
        """
        req = licence_pb2.ListHolderLicencesRequest(token=token, deadline_ms=deadline_ms)
        stub = self.licence(region)
        reply: licence_pb2.ListHolderLicencesResponse = self.call(
            region, "list licences", lambda: stub.ListHolderLicences(req, timeout=self.timeout_s)
        )
        return reply

    def fetch_remote_licence(
        self,
        region: Region | str,
        owner_region: str,
        identifier: str,
        service_item: str,
        purpose: str,
        consent_token: str,
    ) -> licence_pb2.ReadLicenceResponse:
        """Read a licence held by `owner_region` for a catalogued service item (consented).

        `consent_token` is the subject's token for the owner region; the owner checks its policy
        and audits the decision, granted or refused.
        """
        req = licence_pb2.FetchRemoteLicenceRequest(
            owner_region=parse_region(owner_region).code,
            read=licence_pb2.ReadLicenceRequest(
                identifier=identifier,
                service_item=service_item,
                purpose=purpose,
                consent_token=consent_token,
            ),
        )
        stub = self.licence(region)
        reply: licence_pb2.ReadLicenceResponse = self.call(
            region, "fetch licence", lambda: stub.FetchRemoteLicence(req, timeout=self.timeout_s)
        )
        return reply

    def issue_challenge(
        self, region: Region | str, ttl_s: int = 0
    ) -> licence_pb2.IssueChallengeResponse:
        """A verifier-chosen nonce for the next presentation to `region` (single use)."""
        req = licence_pb2.IssueChallengeRequest(ttl_s=ttl_s)
        stub = self.licence(region)
        reply: licence_pb2.IssueChallengeResponse = self.call(
            region, "issue challenge", lambda: stub.IssueChallenge(req, timeout=self.timeout_s)
        )
        return reply

    def verify_presentation(
        self, region: Region | str, presentation: str, expected_nonce: str = ""
    ) -> licence_pb2.VerifyPresentationResponse:
        """Verify a holder's presentation (亮证, a `YRD1:` string) and return what it discloses.

        With `expected_nonce` (from `issue_challenge`) the presentation must answer that
        challenge; without it a fresh holder-chosen nonce is accepted once.
        """
        req = licence_pb2.VerifyPresentationRequest(
            presentation=presentation, expected_nonce=expected_nonce
        )
        stub = self.licence(region)
        reply: licence_pb2.VerifyPresentationResponse = self.call(
            region,
            "verify presentation",
            lambda: stub.VerifyPresentation(req, timeout=self.timeout_s),
        )
        return reply
