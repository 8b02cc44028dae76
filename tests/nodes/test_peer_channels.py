"""Channels to peers follow the trust list: a moved endpoint gets a new channel, the old closes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from federation.errors import Unavailable
from nodes.peering.channels import AioPeerChannels, PeerChannels


@dataclass
class _Member:
    endpoint: str


class _Trust:
    def __init__(self) -> None:
        self.endpoints = {"yrd:js:320000": "127.0.0.1:1"}

    def member(self, entity_id: str) -> _Member:
        return _Member(self.endpoints.get(entity_id, ""))


class _Tls:
    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials()


def test_sync_channels_follow_a_moved_endpoint_and_refuse_a_member_without_one() -> None:
    trust = _Trust()
    peers = PeerChannels(_Tls(), lambda: trust)  # type: ignore[arg-type]
    first = peers.channel("yrd:js:320000")
    assert peers.channel("yrd:js:320000") is first
    trust.endpoints["yrd:js:320000"] = "127.0.0.1:2"
    assert peers.channel("yrd:js:320000") is not first
    with pytest.raises(Unavailable, match="lists no endpoint"):
        peers.channel("yrd:ah:340000")
    peers.close()


def test_aio_channels_follow_a_moved_endpoint_and_close_the_old_one() -> None:
    async def scenario() -> dict[str, Any]:
        trust = _Trust()
        peers = AioPeerChannels(_Tls(), lambda: trust)  # type: ignore[arg-type]
        first = peers.channel("yrd:js:320000")
        same = peers.channel("yrd:js:320000") is first
        trust.endpoints["yrd:js:320000"] = "127.0.0.1:2"
        second = peers.channel("yrd:js:320000")
        await peers.close()
        with pytest.raises(Unavailable, match="lists no endpoint"):
            peers.channel("yrd:ah:340000")
        old_closed = first.get_state() == grpc.ChannelConnectivity.SHUTDOWN
        return {"same": same, "moved": second is not first, "old_closed": old_closed}

    assert asyncio.run(scenario()) == {"same": True, "moved": True, "old_closed": True}
