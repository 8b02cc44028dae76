"""Build and run one node: mTLS gRPC server, interceptors, health, reflection, background loops.

The server is `grpc.aio`: health, reflection and streams run on the event loop and never wait
for a thread; unary servicers run on a bounded pool of `threads` threads, admitted by budget.
With `processes` > 1 this is one of several worker processes sharing the port (see workers.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from federation.errors import Unavailable
from federation.identity.face import FaceVerificationService, QuotaPolicy
from federation.identity.homes import HomeRegistry
from federation.identity.provider import FaceCheckResult, IdentityProvider
from federation.identity.tokens import TokenVerifier
from federation.regions import Region
from federation.storage.base import Revocation
from nodes.config import NodeConfig
from nodes.convert import revocation_from_proto
from nodes.errors import error_from_rpc
from nodes.observability.context_pool import ContextThreadPool
from nodes.pb.v1 import (
    case_pb2_grpc,
    diagnostics_pb2_grpc,
    hub_pb2,
    hub_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    licence_pb2_grpc,
    trust_pb2,
    trust_pb2_grpc,
)
from nodes.peering.home_claims import HubHomes
from nodes.public import PublicDocuments, PublicServer, server_tls_context
from nodes.server.interceptors import Budget, FederationInterceptor
from nodes.server.reflection import enable_reflection
from nodes.server.runtime import Background, NodeRuntime
from nodes.servicers import case as case_servicers
from nodes.servicers import catalogue as catalogue_servicers
from nodes.servicers import diagnostics as diagnostics_servicers
from nodes.servicers import hub as hub_servicers
from nodes.servicers import identity as identity_servicers
from nodes.servicers import licence as licence_servicers
from nodes.servicers.catalogue import CatalogueServicer
from nodes.servicers.catalogue_view import CatalogueView, HubCatalogue
from nodes.servicers.diagnostics import DiagnosticsServicer
from nodes.servicers.region import RegionServices

log = logging.getLogger("yrd.node")


def server_options(config: NodeConfig) -> list[tuple[str, int]]:
    # gRPC core cancels calls at random once more than `max_pending_requests` wait to be
    # picked up (default 1000): a burst of watchers would then see CANCELLED. Our own budgets
    # answer overload with RESOURCE_EXHAUSTED instead, so the core's queue must hold them all.
    pending = MAX_STREAMS + config.threads * QUEUED_PER_WORKER
    return [
        ("grpc.server.max_pending_requests", pending),
        ("grpc.server.max_pending_requests_hard_limit", 2 * pending),
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        ("grpc.keepalive_permit_without_calls", 1),
        # worker processes of one node share its port; a lone node refuses a second binder
        ("grpc.so_reuseport", 1 if config.processes > 1 else 0),
    ]


# a unary call queues for a worker; beyond this many per worker the node says RESOURCE_EXHAUSTED
QUEUED_PER_WORKER = 64
MAX_STREAMS = 4096
MAX_STREAMS_PER_CALLER = 1024
# how long a stopping node waits, after its server stopped, for store work its pools run (a
# commit is milliseconds; this bounds a wedged disk or database so the process still exits)
POOL_DRAIN_S = 30.0


class Node:
    """One running federation node (hub or region)."""

    def __init__(
        self, config: NodeConfig, loop: asyncio.AbstractEventLoop, worker_index: int = 0
    ) -> None:
        """Build on the running event loop `loop` (grpc.aio binds the server to it);
        `worker_index` is this process's number among the node's worker processes."""
        self.config = config
        self.worker_index = worker_index
        self.loop = loop
        self.rt = NodeRuntime(config, worker=worker_index)
        self.background = Background()
        self.health = health.aio.HealthServicer()
        self._refresh_lock = threading.Lock()
        self._last_forced_refresh = 0.0
        self._published = False
        roles: dict[str, frozenset[str]] = {}
        roles.update(identity_servicers.ROLES)
        roles.update(hub_servicers.ROLES)
        roles.update(licence_servicers.ROLES)
        roles.update(case_servicers.ROLES)
        roles.update(catalogue_servicers.ROLES)
        roles.update(diagnostics_servicers.ROLES)
        self.region_services: RegionServices | None = None
        self.identity: identity_servicers.IdentityServicer | None = None
        self._stopping: asyncio.Future[None] | None = None
        # each task runs in a copy of its submitter's context: a served call's trace span
        # reaches the synchronous servicer on its worker (and the peer calls it makes)
        self.workers = ContextThreadPool(max_workers=config.threads, thread_name_prefix="rpc")
        queued = config.threads * QUEUED_PER_WORKER
        self.unary_budget = Budget("calls in progress", queued, max(queued // 2, 1))
        self.stream_budget = Budget("open streams", MAX_STREAMS, MAX_STREAMS_PER_CALLER)
        interceptor = FederationInterceptor(
            self.rt.trust.current,
            roles,
            self._refused,
            self.workers,
            self.unary_budget,
            self.stream_budget,
        )
        self.server = grpc.aio.server(
            migration_thread_pool=self.workers,
            # observation first: it sees admission, refusals and queueing for a worker too
            interceptors=[*self.rt.observability.server_interceptors(), interceptor],
            options=server_options(config),
            maximum_concurrent_rpcs=None,
        )
        names = self._add_services()
        self.port = self.server.add_secure_port(config.endpoint, self.rt.tls.server_credentials())
        if self.port == 0:
            raise OSError(f"could not bind {config.endpoint}")
        enable_reflection(names, self.server)
        self.public: PublicServer | None = self._public_server()

    def _public_server(self) -> PublicServer | None:
        """The read-only HTTPS endpoint for verifiers outside the federation (regions only)."""
        if self.config.public_port is None or self.region_services is None:
            return None
        if self.worker_index != 0:  # one worker serves it: its port is not shared
            return None
        rt, registry = self.rt, self.region_services.registry
        authorities = self.region_services.authorities
        documents = PublicDocuments(
            member=lambda: rt.trust_list().member(rt.entity_id),
            status_uri=registry.status_uri,
            signed_status_list=registry.signed_status_list,
            status_max_age_s=max(self.config.status_list_ttl_s // 2, 1),
            authority_seal_keys=authorities.seal_keys_of,
            public_url=self.region_services.listed_public_url,
        )
        tls = server_tls_context(self.config.tls_cert, self.config.tls_key)
        return PublicServer(documents, self.config.host, self.config.public_port, tls)

    def _refused(self, peer: str, method: str, code: grpc.StatusCode, message: str) -> None:
        # the call is refused whatever happens here: a failed audit write is logged, not raised
        self.rt.audit_refusal(peer, method, f"refused:{code.name}", "", {"reason": message})

    def _add_services(self) -> Sequence[str]:
        rt = self.rt
        names: list[str] = []
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names.append(health.SERVICE_NAME)
        trust_pb2_grpc.add_TrustListServiceServicer_to_server(
            hub_servicers.TrustListServicer(rt), self.server
        )
        names.append("yrd.federation.v1.TrustListService")
        diagnostics = DiagnosticsServicer(rt.entity_id, rt)
        diagnostics_pb2_grpc.add_DiagnosticsServiceServicer_to_server(diagnostics, self.server)
        names.append("yrd.federation.v1.DiagnosticsService")
        if self.config.is_hub:
            face = FaceVerificationService(
                store=rt.store,
                signing_key=rt.signing_key(),
                hub_entity_id=rt.entity_id,
                clock=rt.clock,
                quotas={
                    code: QuotaPolicy(q.daily_limit, q.rate_per_s, q.burst)
                    for code, q in self.config.face_quotas.items()
                },
                threshold=self.config.face_threshold,
            )
            hub_pb2_grpc.add_FaceServiceServicer_to_server(
                hub_servicers.FaceServicer(rt, face), self.server
            )
            quotas = self.config.face_quotas
            rt.observability.watch_face_quotas(face.remaining, quotas)
            names.append("yrd.federation.v1.FaceService")
            homes = HomeRegistry(
                claim=rt.store.claim_home,
                signing_key=rt.signing_key,
                hub_entity_id=rt.entity_id,
                clock=rt.clock,
            )
            hub_pb2_grpc.add_HomeRegistryServiceServicer_to_server(
                hub_servicers.HomeRegistryServicer(rt, homes), self.server
            )
            names.append("yrd.federation.v1.HomeRegistryService")
            view = CatalogueView(
                lambda kid: rt.trust_list().member(rt.entity_id).key(kid, rt.clock.now(), "sig"),
                rt.config.node_dir / "catalogue-cache.jwt",
                rt.clock,
            )
            hub_catalogue = HubCatalogue(
                rt.config.node_dir / "catalogue.jwt", rt.signing_key, view, rt.clock
            )
            case_pb2_grpc.add_CatalogueServiceServicer_to_server(
                CatalogueServicer(rt, view, hub_catalogue), self.server
            )
            diagnostics.catalogue_version = lambda: view.current().version
            names.append("yrd.federation.v1.CatalogueService")
        else:
            hub_homes = HubHomes(rt)
            provider = IdentityProvider(
                region_code=rt.region.code,
                entity_id=rt.entity_id,
                store=rt.store,
                signing_key=rt.signing_key,
                audiences=rt.audiences,
                clock=rt.clock,
                face_check=self._face_check,
                face_enrol=self._face_enrol,
                home_claim=hub_homes.claim,
                home_check=hub_homes.check,
                token_ttl_s=self.config.token_ttl_s,
                password_cost_log2=self.config.password_cost_log2,
            )
            verifier = TokenVerifier(
                rt.entity_id,
                rt.trust.current,
                lambda aud, jti, exp, audit=None: rt.store.remember_jti(
                    aud, jti, exp, rt.clock.now(), audit
                ),
                rt.revocations.is_revoked,
                skew_s=self.config.clock_skew_s,
                refresh_trust=self._refresh_on_unknown_key,
                replay_now=lambda aud, jti, exp, audit=None: rt.store.remember_jti_now(
                    aud, jti, exp, rt.clock.now(), audit
                ),
                revoked_now=rt.revocations.is_revoked_now,
            )
            self.identity = identity_servicers.IdentityServicer(rt, provider, verifier)
            identity_pb2_grpc.add_IdentityServiceServicer_to_server(self.identity, self.server)
            names.append("yrd.federation.v1.IdentityService")
            self.region_services = RegionServices(rt, verifier, self._face_check)
            own = rt.region.code
            rt.observability.watch_cases(lambda: rt.store.case_counts(own))
            self.region_services.changes.bind(self.loop)
            licence_pb2_grpc.add_LicenceServiceServicer_to_server(
                self.region_services.licences, self.server
            )
            case_pb2_grpc.add_CaseServiceServicer_to_server(self.region_services.cases, self.server)
            case_pb2_grpc.add_CatalogueServiceServicer_to_server(
                CatalogueServicer(rt, self.region_services.catalogue, None), self.server
            )
            catalogue = self.region_services.catalogue
            diagnostics.catalogue_version = lambda: catalogue.current().version
            names += [
                "yrd.federation.v1.LicenceService",
                "yrd.federation.v1.CaseService",
                "yrd.federation.v1.CatalogueService",
            ]
        self._service_names = names
        return names

    # --- calls to peers -------------------------------------------------------------
    def _hub_face(self) -> hub_pb2_grpc.FaceServiceStub:
        return hub_pb2_grpc.FaceServiceStub(self.rt.peers.channel(self.rt.hub_entity()))

    def _face_check(self, subject_id: str, template: Sequence[float]) -> FaceCheckResult:
        try:
            reply = self._hub_face().VerifyFace(
                hub_pb2.VerifyFaceRequest(subject_id=subject_id, template=list(template)),
                timeout=self.config.peer_timeout_s,
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, "hub face verification") from None
        return FaceCheckResult(reply.match, reply.score, reply.assertion)

    def _face_enrol(self, subject_id: str, kind: str, template: Sequence[float]) -> None:
        try:
            self._hub_face().EnrolFaceTemplate(
                hub_pb2.EnrolFaceTemplateRequest(
                    subject_id=subject_id, subject_kind=kind, template=list(template)
                ),
                timeout=self.config.peer_timeout_s,
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, "hub face enrolment") from None

    def _fetch_trust_list(self, known: int) -> str:
        # the hub the trust list names, or the federation's hub before any list is known: the
        # handshake checks the node at hub_endpoint is that hub
        try:
            hub = self.rt.hub_entity()
        except Unavailable:
            hub = Region.HUB.entity_id
        channel = self.rt.peers.channel_to_endpoint("hub-bootstrap", self.config.hub_endpoint, hub)
        reply = trust_pb2_grpc.TrustListServiceStub(channel).GetTrustList(
            trust_pb2.GetTrustListRequest(known_version=known), timeout=self.config.peer_timeout_s
        )
        return str(reply.signed_trust_list)

    def _poll_revocations(self, issuer: str, since: float) -> tuple[list[Revocation], float]:
        stub = identity_pb2_grpc.IdentityServiceStub(self.rt.peers.channel(issuer))
        reply = stub.ListRevocations(
            identity_pb2.ListRevocationsRequest(since=since), timeout=self.config.peer_timeout_s
        )
        return [revocation_from_proto(r) for r in reply.revocations], reply.as_of

    def _refresh_on_unknown_key(self) -> None:
        """Refresh now (at most once a second) when a token names a key we do not know."""
        now = time.monotonic()
        with self._refresh_lock:
            if now - self._last_forced_refresh < 1.0:
                return
            self._last_forced_refresh = now
        self.rt.trust.refresh(self._fetch_trust_list)

    # --- lifecycle ------------------------------------------------------------------
    def _refresh_trust(self) -> None:
        if self.rt.hub_source is not None:
            self.rt.hub_source.reload()
        else:
            self.rt.trust.refresh(self._fetch_trust_list)
        self._update_health()

    def _update_health(self) -> None:
        try:
            self.rt.trust.current()
            if self.region_services is not None:
                self.region_services.catalogue.current()
            status = health_pb2.HealthCheckResponse.SERVING
        except Exception:
            status = health_pb2.HealthCheckResponse.NOT_SERVING
        # called from background threads and the worker pool: the health servicer lives on the loop
        asyncio.run_coroutine_threadsafe(self._set_health(status), self.loop).result(timeout=10)

    async def _set_health(self, status: Any) -> None:
        for name in ("", *self._service_names):
            await self.health.set(name, status)

    def _catalogue_loop(self) -> None:
        services = self.region_services
        assert services is not None
        if not self._published:
            try:
                services.publish_own_items()
                self._published = True
            except Exception as exc:  # the hub may be down: retried on the next round
                log.warning("publishing service items failed: %s", exc)
            self._update_health()
            return
        services.refresh_catalogue()
        self._update_health()

    def _revocation_loop(self) -> None:
        try:
            members = self.rt.audiences().values()
        except Exception:
            return
        self.rt.revocations.poll(list(members), self._poll_revocations)

    async def start(self) -> None:
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.rt.observability.start()  # a metrics port that cannot be bound stops us first
        await self.server.start()
        if self.public is not None:
            await self.public.start()
        if self.rt.hub_source is None:
            await self.loop.run_in_executor(
                self.workers, self.rt.trust.refresh, self._fetch_trust_list
            )
        await self.loop.run_in_executor(self.workers, self._update_health)
        refresh = self.config.trust_list_refresh_s
        self.background.every(refresh, "trust-refresh", self._refresh_trust, first_delay=1.0)
        if not self.config.is_hub:
            self.background.every(
                self.config.revocation_poll_s, "revocations", self._revocation_loop
            )
        if self.region_services is not None:
            # the catalogue changes when any region publishes: look often, it is one small call
            self.background.every(min(refresh, 2.0), "catalogue", self._catalogue_loop)
        where = f" (worker {self.worker_index})" if self.config.processes > 1 else ""
        log.info("%s serving on %s:%d%s", self.rt.entity_id, self.config.host, self.port, where)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop serving and release everything; idempotent (a second call waits for the first).

        In order: the gRPC server drains (calls in flight get `grace` seconds, then are
        cancelled); the pools that run store work finish what they hold, so a write a call
        took (e.g. a group-commit batch it leads or waits in) commits before the store
        closes; then the store's connections, peer channels and observability close."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop(grace))
        await asyncio.shield(self._stopping)

    async def _stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.loop.run_in_executor(None, self.background.stop)
        if self.public is not None:
            await self.public.stop()
        await self.server.stop(grace)
        if self.region_services is not None:
            await self.region_services.aio_peers.close()
        drained = self.loop.run_in_executor(None, self._drain_pools)
        try:
            await asyncio.wait_for(asyncio.shield(drained), POOL_DRAIN_S)
        except TimeoutError:
            log.error(
                "%s: store work still running %.0f s after the server stopped; closing the "
                "store under it (its calls were not answered)",
                self.rt.entity_id,
                POOL_DRAIN_S,
            )
        self.rt.close()

    def _drain_pools(self) -> None:
        """Shut the worker pools down, waiting for the tasks they are running (a thread)."""
        # nothing new starts on the rpc workers; what runs there (a synchronous servicer's
        # write, a health update) finishes
        self.workers.shutdown(wait=True, cancel_futures=True)
        if self.identity is not None:
            self.identity.close()
        if self.region_services is not None:
            self.region_services.close_pools()


def freeze_startup_heap() -> None:
    """Collect start-up's garbage, then move what remains (modules, protos, the runtime: about
    50k objects after the imports alone) into the collector's permanent generation, so that
    a full collection while serving walks only what serving allocated since, not the whole
    heap (a full pass over the imports alone: 10-14 ms, a stall in some call's latency)."""
    gc.collect()
    gc.freeze()


async def _serve(config: NodeConfig, worker_index: int) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, done.set)
    node = Node(config, loop, worker_index)
    await node.start()
    freeze_startup_heap()
    public = f" public {node.public.base_url}" if node.public is not None else ""
    metrics_url = node.rt.observability.metrics_url
    metrics = f" metrics {metrics_url}" if metrics_url else ""
    print(f"READY {config.entity_id} {config.host}:{node.port}{public}{metrics}", flush=True)
    await done.wait()
    log.info("%s shutting down", config.entity_id)
    await node.stop()


def serve(config: NodeConfig, worker_index: int | None = None) -> None:
    """Run until SIGINT or SIGTERM, then drain in-flight calls and stop.

    `worker_index`: this process is that worker of a node run by `nodes.server.workers` (it
    stops when its supervising parent dies)."""
    if worker_index is not None:
        from nodes.server.workers import die_with_parent, label_worker_logs

        die_with_parent()
        label_worker_logs(worker_index)
    asyncio.run(_serve(config, worker_index or 0))
