"""Channels from this node to its federation peers, addressed by entity id via the trust list.

An endpoint may list a region's replicas (`a:p,b:p`): see nodes.peering.targets. Every channel
is for one entity id and its TLS handshake fails unless the server's certificate names that
entity (`entity_dns_name`): another member answering at the address is refused."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc

from federation.errors import Unavailable
from federation.trust.trustlist import TrustList
from nodes.peering.targets import channel_target
from nodes.tls import TlsMaterial

MIN_CONNECT_TIMEOUT_MS = 20_000
CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.max_send_message_length", 4 * 1024 * 1024),
    # a peer that starts a moment later is reached within 100 ms, not gRPC's default 1 s+
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    # despite its name, gRPC core reads this as the minimum time a connection attempt (TCP, TLS,
    # HTTP/2 settings) is given, not as a backoff: at 100 ms a handshake on a loaded machine
    # timed out ("connection attempt timed out before receiving SETTINGS frame") and calls
    # failed UNAVAILABLE. gRPC's default; a refused connection still fails at once
    ("grpc.min_reconnect_backoff_ms", MIN_CONNECT_TIMEOUT_MS),
]


def secure_channel(
    endpoint: str,
    creds: grpc.ChannelCredentials,
    entity_id: str,
    extra_options: Sequence[tuple[str, str | int]] = (),
) -> grpc.Channel:
    """An mTLS channel to `entity_id` at an endpoint: one address, or a region's replicas
    (round_robin). The handshake fails when the server's certificate does not name `entity_id`.
    `extra_options` are added to the defaults."""
    target = channel_target(endpoint, entity_id)
    return grpc.secure_channel(
        target.target, creds, options=[*CHANNEL_OPTIONS, *extra_options, *target.options]
    )


def aio_secure_channel(
    endpoint: str,
    creds: grpc.ChannelCredentials,
    entity_id: str,
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """`secure_channel` for grpc.aio, with the channel's client interceptors if any."""
    target = channel_target(endpoint, entity_id)
    return grpc.aio.secure_channel(
        target.target,
        creds,
        options=[*CHANNEL_OPTIONS, *target.options],
        interceptors=interceptors,
    )


Interceptors = Callable[[str], Sequence[Any]]
"""target (an entity id, or what a channel is for) -> client interceptors for its channel."""


def _none(target: str) -> Sequence[Any]:
    return ()


def peer_endpoint(
    trust: TrustList, entity_id: str, overrides: Mapping[str, str] | None = None
) -> str:
    """Where the trust list says `entity_id` listens; Unavailable when it lists none.

    `overrides` (config `peer_endpoints`, by entity id or region code) wins over the list.
    """
    member = trust.member(entity_id)
    if overrides:
        override = overrides.get(entity_id) or overrides.get(member.region_code)
        if override:
            return override
    if not member.endpoint:
        raise Unavailable(f"{entity_id} lists no endpoint in the trust list")
    return member.endpoint


class PeerChannels:
    """One long-lived mTLS channel per peer; rebuilt when the trust list moves its endpoint."""

    def __init__(
        self,
        tls: TlsMaterial,
        trust: Callable[[], TrustList],
        interceptors: Interceptors = _none,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self._creds = tls.channel_credentials()
        self._trust = trust
        self._interceptors = interceptors
        self._overrides = dict(overrides or {})
        # key -> (endpoint, entity id, channel)
        self._channels: dict[str, tuple[str, str, grpc.Channel]] = {}
        self._lock = threading.Lock()

    def channel_to_endpoint(self, key: str, endpoint: str, entity_id: str) -> grpc.Channel:
        """The channel kept under `key` to `entity_id` at `endpoint` (a new one if either moved)."""
        with self._lock:
            known = self._channels.get(key)
            if known and known[0] == endpoint and known[1] == entity_id:
                return known[2]
            if known:
                known[2].close()
            channel = secure_channel(endpoint, self._creds, entity_id)
            observers = self._interceptors(key)
            if observers:  # metrics and trace context of calls to this peer
                channel = grpc.intercept_channel(channel, *observers)
            self._channels[key] = (endpoint, entity_id, channel)
            return channel

    def channel(self, entity_id: str) -> grpc.Channel:
        endpoint = peer_endpoint(self._trust(), entity_id, self._overrides)
        return self.channel_to_endpoint(entity_id, endpoint, entity_id)

    def close(self) -> None:
        with self._lock:
            for _, _, channel in self._channels.values():
                channel.close()
            self._channels.clear()


class AioPeerChannels:
    """`grpc.aio` channels to peers, for calls made from the event loop (forwarded streams).

    Used only on the server's loop, so no lock: channels are created lazily by coroutines.
    """

    def __init__(
        self,
        tls: TlsMaterial,
        trust: Callable[[], TrustList],
        interceptors: Interceptors = _none,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self._creds = tls.channel_credentials()
        self._trust = trust
        self._interceptors = interceptors
        self._overrides = dict(overrides or {})
        self._channels: dict[str, tuple[str, grpc.aio.Channel]] = {}
        self._closing: set[asyncio.Task[None]] = set()  # keeps the close tasks alive

    def channel(self, entity_id: str) -> grpc.aio.Channel:
        endpoint = peer_endpoint(self._trust(), entity_id, self._overrides)
        known = self._channels.get(entity_id)
        if known and known[0] == endpoint:
            return known[1]
        if known:  # the trust list moved the peer: close the old channel in the background
            task = asyncio.get_running_loop().create_task(known[1].close(grace=None))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        channel = aio_secure_channel(
            endpoint,
            self._creds,
            entity_id,
            interceptors=list(self._interceptors(entity_id)) or None,
        )
        self._channels[entity_id] = (endpoint, channel)
        return channel

    async def close(self) -> None:
        for _, channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        await asyncio.gather(*self._closing, return_exceptions=True)
