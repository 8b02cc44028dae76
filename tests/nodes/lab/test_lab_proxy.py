"""The WAN proxy: bytes arrive whole and in order, its own accounting of applied delay matches
the link spec, partitions refuse new connections and stall open ones. No timing thresholds."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodes.lab.proxy import Direction, LinkProxy, ProxyFarm
from nodes.lab.topology import LinkSpec


def spec(**values: object) -> LinkSpec:
    return LinkSpec.model_validate(values)


@given(
    sizes=st.lists(st.integers(1, 100_000), min_size=1, max_size=50),
    gaps=st.lists(st.floats(0, 0.05), min_size=50, max_size=50),
    jitter=st.floats(0, 20),
    loss=st.floats(0, 0.9),
    bandwidth=st.one_of(st.none(), st.floats(10, 100_000)),
)
def test_a_chunk_never_overtakes_an_earlier_one(
    sizes: list[int], gaps: list[float], jitter: float, loss: float, bandwidth: float | None
) -> None:
    way = Direction(
        spec(delay_ms=10, jitter_ms=jitter, loss=loss, bandwidth_kbps=bandwidth),
        random.Random(1),
    )
    now, last = 0.0, 0.0
    for size, gap in zip(sizes, gaps, strict=False):
        now += gap
        release = way.release_time(size, now)
        assert release >= last and release >= now
        last = release
    assert way.stats.chunks == len(sizes) and way.stats.bytes == sum(sizes)


def test_the_applied_delay_is_the_configured_delay_plus_one_rto_per_loss() -> None:
    way = Direction(spec(delay_ms=12.5, loss=0.3, rto_ms=200), random.Random(7))
    for i in range(400):
        way.release_time(100, i * 1.0)
    stats = way.stats
    assert 0 < stats.loss_events < 400
    expected = 400 * 0.0125 + stats.loss_events * (0.200 + 0.0125)
    assert stats.applied_delay_s == pytest.approx(expected)


def test_bandwidth_holds_bytes_beyond_the_bucket() -> None:
    # 80 kbit/s = 10 kB/s with a 1 kB bucket: 10 kB read at once leave over about 0.9 s
    way = Direction(spec(bandwidth_kbps=80, burst_bytes=1000), random.Random(1))
    releases = [way.release_time(1000, 0.0) for _ in range(10)]
    assert releases[0] == 0.0
    assert releases[-1] == pytest.approx(0.9)
    assert way.stats.bandwidth_wait_s == pytest.approx(sum(releases))


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def _exchange(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for i in range(0, len(payload), 1000):  # many small writes: many chunks to reorder
        writer.write(payload[i : i + 1000])
        await writer.drain()
    got = await reader.readexactly(len(payload))
    writer.close()
    return got


def test_bytes_come_back_whole_and_in_order_through_a_jittery_lossy_link() -> None:
    async def scenario() -> None:
        server, port = await _echo_server()
        link = spec(delay_ms=2, jitter_ms=2, loss=0.05, rto_ms=5)
        proxy = LinkProxy("t", ("127.0.0.1", port), link, link, seed=3)
        proxy_port = await proxy.start()
        payload = bytes(random.Random(5).getrandbits(8) for _ in range(50_000))
        assert await _exchange(proxy_port, payload) == payload
        stats = proxy.stats()
        assert stats["forward"]["bytes"] == stats["backward"]["bytes"] == len(payload)
        assert stats["connections"] == 1
        await proxy.close()
        server.close()

    asyncio.run(scenario())


def test_a_partition_refuses_new_connections_and_stalls_open_ones_until_it_heals() -> None:
    async def scenario() -> None:
        server, port = await _echo_server()
        proxy = LinkProxy("t", ("127.0.0.1", port), spec(), spec())
        proxy_port = await proxy.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
        writer.write(b"before")
        assert await reader.readexactly(6) == b"before"

        proxy.set_specs(spec(partitioned=True), spec())
        late_reader, _ = await asyncio.open_connection("127.0.0.1", proxy_port)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await late_reader.readexactly(1)  # accepted, then reset at once
        assert proxy.refused == 1
        writer.write(b"during")
        await writer.drain()
        pending = asyncio.ensure_future(reader.readexactly(6))
        await asyncio.sleep(0.3)
        assert not pending.done()  # held by the partition, not lost

        proxy.set_specs(spec(), spec())
        assert await pending == b"during"
        assert proxy.stats()["forward"]["stalled_s"] > 0
        writer.close()
        await proxy.close()
        server.close()

    asyncio.run(scenario())


def test_the_farm_changes_a_link_at_run_time_and_reports_it() -> None:
    async def serve() -> tuple[asyncio.Server, int]:
        return await _echo_server()

    with ProxyFarm() as farm:
        server, port = asyncio.run_coroutine_threadsafe(serve(), farm._loop).result(5)
        proxy_port = farm.add("a->b", ("127.0.0.1", port), spec(delay_ms=1), spec())
        farm.set_specs("a->b", spec(delay_ms=3, partitioned=True), spec())
        stats = farm.stats()["a->b"]
        assert stats["port"] == proxy_port and stats["partitioned"]
        assert stats["forward"]["spec"]["delay_ms"] == 3
        assert farm.reset("a->b") == 0
        farm._loop.call_soon_threadsafe(server.close)


def test_the_proxy_process_relays_and_answers_like_the_farm() -> None:
    import socket
    import threading

    from nodes.lab.proxy_host import ProxyHost

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def echo_once() -> None:
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=echo_once, daemon=True).start()
    with ProxyHost() as host:
        proxy_port = host.add("a->b", ("127.0.0.1", port), spec(delay_ms=1), spec(delay_ms=2))
        with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as conn:
            conn.sendall(b"ping")
            assert conn.recv(4) == b"ping"
        host.set_specs("a->b", spec(delay_ms=5), spec())
        stats = host.stats()["a->b"]
        assert stats["forward"]["spec"]["delay_ms"] == 5
        assert stats["forward"]["applied_delay_s"] == pytest.approx(0.001)
        assert stats["backward"]["applied_delay_s"] == pytest.approx(0.002)
        with pytest.raises(RuntimeError, match="KeyError"):
            host.reset("no-such-link")
    listener.close()
