"""Everything one running node holds: config, store, trust view, keys, peers, audit."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from federation.audit import AUDIT_UNAVAILABLE, AuditDraft, AuditRecord
from federation.clock import Clock, SystemClock
from federation.crypto.jose import Jwk, SigningKey
from federation.errors import Unavailable
from federation.regions import Region
from federation.storage import open_store
from federation.storage.base import Store
from federation.trust.keys import HubKeys, RegionKeys, hub_keys, seal_keys, status_keys
from federation.trust.trustlist import TrustList, region_members
from nodes.config import NodeConfig
from nodes.observability.node_observability import Observability
from nodes.ops.provisioning import TRUST_LIST_LIFETIME_S, load_active_signing_key
from nodes.peering.channels import PeerChannels
from nodes.peering.revocations import RevocationTracker
from nodes.peering.trust_view import HubTrustSource, TrustView
from nodes.tls import TlsMaterial, check_server_identity

log = logging.getLogger("yrd.node")


class NodeRuntime:
    """The long-lived state of a node, shared by its servicers and background loops."""

    def __init__(self, config: NodeConfig, clock: Clock | None = None, worker: int = 0) -> None:
        """`worker`: this process's number when the node runs as several processes."""
        self.config = config
        self.region = config.region_enum
        self.entity_id = config.entity_id
        self.clock: Clock = clock or SystemClock()
        # before opening anything: a certificate that does not name us cannot serve
        self.tls = TlsMaterial.load(config.ca_cert, config.tls_cert, config.tls_key)
        check_server_identity(self.tls.cert, self.entity_id, config.tls_cert)
        self.store: Store = open_store(config.store_url)
        # metrics, traces, access log: each only if configured (all off by default)
        self.observability = Observability(config, worker)
        metrics = self.observability.metrics
        if metrics is not None:
            self.store.observe_commits(metrics.batch_committed)
        anchor = Jwk.from_dict(json.loads(config.anchor_jwk.read_text(encoding="utf-8")))
        self.trust = TrustView(anchor, config.trust_list_cache, self.clock)
        self.hub_source: HubTrustSource | None = None
        if config.is_hub:
            assert config.trust_list_signed is not None and config.anchor_key is not None
            self.hub_source = HubTrustSource(
                config.trust_list_signed,
                SigningKey.from_pem(config.anchor_key.read_bytes()),
                self.trust,
                self.clock,
                TRUST_LIST_LIFETIME_S,
            )
            self.hub_source.reload()
        else:
            self.trust.load_cache()
        self.peers = PeerChannels(
            self.tls,
            self.trust.current,
            self.observability.peer_interceptors,
            overrides=config.peer_endpoints,
        )
        # the one way each kind of key is found in the trust list, shared by every servicer
        self.seal_keys: RegionKeys = seal_keys(self.trust_list, self.clock.now)
        self.status_keys: RegionKeys = status_keys(self.trust_list, self.clock.now)
        self.hub_key: HubKeys = hub_keys(self.trust_list, self.clock.now)
        self.revocations = RevocationTracker(self.entity_id, self.store, self.clock)
        self._signing: tuple[tuple[str, ...], SigningKey] | None = None
        self._signing_lock = threading.Lock()
        self._audit_lock = threading.Lock()

    def trust_list(self) -> TrustList:
        return self.trust.current()

    def signing_key(self) -> SigningKey:
        """Our newest listed key; follows rotations as soon as the trust list shows them."""
        me = self.trust.current().member(self.entity_id)
        kids = tuple(k.kid for k in me.signing_keys)
        cached = self._signing
        if cached is not None and cached[0] == kids:
            return cached[1]
        with self._signing_lock:
            key = load_active_signing_key(self.config.signing_keys_dir, me.signing_keys)
            self._signing = (kids, key)
            return key

    def audiences(self) -> Mapping[str, str]:
        """Region code -> entity id of every region in the trust list."""
        return {m.region_code: m.entity_id for m in region_members(self.trust.current())}

    def hub_entity(self) -> str:
        return self.trust.current().member_by_region(Region.HUB.code, role="hub").entity_id

    def draft(
        self,
        actor: str,
        action: str,
        outcome: str,
        subject: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> AuditDraft:
        """An entry stamped now, for a store write that commits it with its own change."""
        return AuditDraft(
            time=self.clock.now(),
            actor=actor,
            action=action,
            outcome=outcome,
            subject=subject,
            detail=dict(detail or {}),
        )

    def audit(
        self,
        actor: str,
        action: str,
        outcome: str,
        subject: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a decision before its answer leaves; Unavailable if it cannot be recorded.

        Fail closed (as X-Road's message log does): a grant that cannot be audited is refused.
        """
        self._append(self.draft(actor, action, outcome, subject, detail), self.store.append_audit)

    def audit_now(
        self,
        actor: str,
        action: str,
        outcome: str,
        subject: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> bool:
        """`audit` on the calling thread (an event loop) if the store need not wait for it:
        True once recorded; False, with nothing written, when `audit` must run elsewhere."""
        draft = self.draft(actor, action, outcome, subject, detail)
        return self._append(draft, self.store.append_audit_now)

    def _append(self, draft: AuditDraft, write: Callable[[AuditDraft], AuditRecord | None]) -> bool:
        """One audit write, timed into the metrics when it wrote; Unavailable if it failed."""
        started = time.perf_counter()
        try:
            written = write(draft) is not None
        except Exception as exc:
            log.critical(
                "AUDIT LOG NOT WRITABLE; refusing %s by %s: %s", draft.action, draft.actor, exc
            )
            raise Unavailable(AUDIT_UNAVAILABLE) from exc
        metrics = self.observability.metrics
        if written and metrics is not None:
            metrics.audit_appended(time.perf_counter() - started)
        return written

    def audit_refusal(
        self,
        actor: str,
        action: str,
        outcome: str,
        subject: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a refusal; the call is refused anyway, so a failed write is only logged."""
        try:
            self.audit(actor, action, outcome, subject, detail)
        except Unavailable:
            log.critical("refusal of %s by %s could not be audited: %s", action, actor, detail)

    def close(self) -> None:
        self.peers.close()
        self.store.close()
        self.observability.close()  # last: spans of the final calls are exported


Loop = Callable[[], None]


class Background:
    """Periodic loops on daemon threads, stopped together."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def every(self, seconds: float, name: str, fn: Loop, first_delay: float = 0.0) -> None:
        def run() -> None:
            if self._stop.wait(first_delay):
                return
            while not self._stop.is_set():
                try:
                    fn()
                except Exception:
                    log.exception("background loop %s failed", name)
                if self._stop.wait(seconds):
                    return

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
