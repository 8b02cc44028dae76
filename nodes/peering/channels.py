"""Channels from this node to its federation peers, addressed by entity id via the trust list."""

from __future__ import annotations

import threading
from collections.abc import Callable

import grpc

from federation.errors import Unavailable
from federation.trust.trustlist import TrustList
from nodes.tls import TlsMaterial

CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.max_send_message_length", 4 * 1024 * 1024),
    # a peer that starts a moment later is reached within 100 ms, not gRPC's default 1 s+
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


class PeerChannels:
    """One long-lived mTLS channel per peer; rebuilt when the trust list moves its endpoint."""

    def __init__(self, tls: TlsMaterial, trust: Callable[[], TrustList]) -> None:
        self._creds = tls.channel_credentials()
        self._trust = trust
        self._channels: dict[str, tuple[str, grpc.Channel]] = {}
        self._lock = threading.Lock()

    def channel_to_endpoint(self, key: str, endpoint: str) -> grpc.Channel:
        with self._lock:
            known = self._channels.get(key)
            if known and known[0] == endpoint:
                return known[1]
            if known:
                known[1].close()
            channel = grpc.secure_channel(endpoint, self._creds, options=CHANNEL_OPTIONS)
            self._channels[key] = (endpoint, channel)
            return channel

    def channel(self, entity_id: str) -> grpc.Channel:
        member = self._trust().member(entity_id)
        if not member.endpoint:
            raise Unavailable(f"{entity_id} lists no endpoint in the trust list")
        return self.channel_to_endpoint(entity_id, member.endpoint)

    def close(self) -> None:
        with self._lock:
            for _, channel in self._channels.values():
                channel.close()
            self._channels.clear()


class AioPeerChannels:
    """`grpc.aio` channels to peers, for calls made from the event loop (forwarded streams).

    Used only on the server's loop, so no lock: channels are created lazily by coroutines.
    """

    def __init__(self, tls: TlsMaterial, trust: Callable[[], TrustList]) -> None:
        self._creds = tls.channel_credentials()
        self._trust = trust
        self._channels: dict[str, tuple[str, grpc.aio.Channel]] = {}

    def channel(self, entity_id: str) -> grpc.aio.Channel:
        member = self._trust().member(entity_id)
        if not member.endpoint:
            raise Unavailable(f"{entity_id} lists no endpoint in the trust list")
        known = self._channels.get(entity_id)
        if known and known[0] == member.endpoint:
            return known[1]
        channel = grpc.aio.secure_channel(member.endpoint, self._creds, options=CHANNEL_OPTIONS)
        self._channels[entity_id] = (member.endpoint, channel)
        return channel

    async def close(self) -> None:
        for _, channel in self._channels.values():
            await channel.close()
        self._channels.clear()
