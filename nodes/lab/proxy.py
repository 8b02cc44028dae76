"""A user-space WAN link: an asyncio TCP proxy with delay, jitter, loss, bandwidth, partition.

`tc netem` is not available on the kernels this runs on, so every node-to-node connection is
relayed by a proxy that holds each chunk of bytes for the link's delay before passing it on.
What a user-space proxy can and cannot do, honestly:

- delay and jitter are per chunk (what one `read()` returned), and a chunk never overtakes an
  earlier one: TCP delivers bytes in order, so a chunk whose jitter would make it early waits
  behind its predecessor (accounted as `order_wait_s`);
- a proxy cannot drop bytes from a TCP stream (the kernel on each side would resend them), so
  loss is emulated as what it costs TCP: with probability `loss` a chunk is delivered a
  retransmission timeout plus one more one-way delay late;
- bandwidth is a token bucket (rate = bandwidth, depth = `burst_bytes`);
- a partition refuses new connections (accepted, then reset at once) and stalls the existing
  ones (bytes wait until the partition heals, as a real network holds TCP retransmissions);
  `reset()` closes the existing ones instead.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from nodes.lab.topology import LinkSpec

CHUNK_BYTES = 64 * 1024
T = TypeVar("T")


@dataclass
class DirectionStats:
    """What one direction of a link did, by its own accounting (seconds are sums over chunks)."""

    chunks: int = 0
    bytes: int = 0
    applied_delay_s: float = 0.0  # sampled delay + jitter + loss penalties: what the spec asked
    loss_events: int = 0
    bandwidth_wait_s: float = 0.0
    order_wait_s: float = 0.0  # held behind an earlier chunk (TCP byte order)
    stalled_s: float = 0.0  # held by a partition
    late_s: float = 0.0  # written after its release time (the proxy's own event-loop lag)


class Direction:
    """One direction of one link: its spec (replaced at run time), token bucket, accounting."""

    def __init__(self, spec: LinkSpec, rng: random.Random) -> None:
        self.spec = spec
        self.stats = DirectionStats()
        self._rng = rng
        self._tat = 0.0  # the token bucket's theoretical arrival time (GCRA form)
        self._last_release = 0.0

    def release_time(self, size: int, now: float) -> float:
        """When a chunk of `size` bytes read at `now` may be written on the other side."""
        spec, stats = self.spec, self.stats
        delay = spec.delay_ms / 1e3
        if spec.jitter_ms:
            delay = max(0.0, delay + self._rng.uniform(-spec.jitter_ms, spec.jitter_ms) / 1e3)
        if spec.loss and self._rng.random() < spec.loss:
            delay += (spec.rto_ms + spec.delay_ms) / 1e3
            stats.loss_events += 1
        sent = now
        if spec.bandwidth_kbps is not None:
            rate = spec.bandwidth_kbps * 1000 / 8  # bytes per second
            self._tat = max(self._tat, now) + size / rate
            sent = max(now, self._tat - spec.burst_bytes / rate)
            stats.bandwidth_wait_s += sent - now
        due = sent + delay
        release = max(due, self._last_release)
        self._last_release = release
        stats.order_wait_s += release - due
        stats.applied_delay_s += delay
        stats.chunks += 1
        stats.bytes += size
        return release


class LinkProxy:
    """Relays connections to `upstream`; `forward` shapes client->server bytes, `backward`
    server->client (for the link A->B: forward is A->B's spec, backward B->A's)."""

    def __init__(
        self,
        name: str,
        upstream: tuple[str, int],
        forward: LinkSpec,
        backward: LinkSpec,
        seed: int = 0,
    ) -> None:
        self.name = name
        self.upstream = upstream
        rng = random.Random(f"{name}:{seed}")
        self.forward = Direction(forward, rng)
        self.backward = Direction(backward, rng)
        self.refused = 0
        self.connections = 0
        self.upstream_failures = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._healed = asyncio.Event()
        self._healed.set()

    @property
    def partitioned(self) -> bool:
        return self.forward.spec.partitioned or self.backward.spec.partitioned

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def set_specs(self, forward: LinkSpec, backward: LinkSpec) -> None:
        self.forward.spec, self.backward.spec = forward, backward
        if self.partitioned:
            self._healed.clear()
        else:
            self._healed.set()

    def reset(self) -> int:
        """Close every open connection now (abortive: the peers see a reset)."""
        writers = list(self._open)
        for writer in writers:
            writer.transport.abort()
        return len(writers)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset()
        self._healed.set()
        if self._server is not None:
            await self._server.wait_closed()

    def stats(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "upstream": f"{self.upstream[0]}:{self.upstream[1]}",
            "connections": self.connections,
            "open": len(self._open) // 2,
            "refused": self.refused,
            "upstream_failures": self.upstream_failures,
            "partitioned": self.partitioned,
            "forward": {"spec": self.forward.spec.model_dump(), **asdict(self.forward.stats)},
            "backward": {"spec": self.backward.spec.model_dump(), **asdict(self.backward.stats)},
        }

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.partitioned:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self.upstream_failures += 1
            writer.transport.abort()
            return
        self.connections += 1
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, self.forward),
                self._pump(up_reader, writer, self.backward),
            )
        finally:
            for w in (writer, up_writer):
                self._open.discard(w)
                w.transport.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, way: Direction
    ) -> None:
        """Read chunks as they come; a second task writes each at its release time, in order."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        sender = asyncio.ensure_future(self._send(queue, writer, way))
        try:
            while True:
                data = await reader.read(CHUNK_BYTES)
                if not data:
                    break
                queue.put_nowait((way.release_time(len(data), loop.time()), data))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait(None)
        await sender

    async def _send(
        self,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        writer: asyncio.StreamWriter,
        way: Direction,
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (item := await queue.get()) is not None:
                release, data = item
                wait = release - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not self._healed.is_set():
                    stalled = loop.time()
                    await self._healed.wait()
                    way.stats.stalled_s += loop.time() - stalled
                way.stats.late_s += max(0.0, loop.time() - release)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError, RuntimeError):
            writer.transport.abort()


class ProxyFarm:
    """Link proxies on their own event loop thread; every method is safe from other threads."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lab-proxies")
        self._thread.daemon = True
        self._thread.start()
        self.proxies: dict[str, LinkProxy] = {}

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def add(
        self,
        name: str,
        upstream: tuple[str, int],
        forward: LinkSpec,
        backward: LinkSpec,
        avoid: frozenset[int] = frozenset(),
    ) -> int:
        """Start a proxy for `upstream` on a free loopback port not in `avoid` (ports handed
        out to nodes that have not bound them yet); returns the port."""

        async def start() -> int:
            proxy = LinkProxy(name, upstream, forward, backward)
            for _ in range(20):
                if await proxy.start() not in avoid:
                    break
                await proxy.close()
            else:
                raise OSError(f"no free port outside {sorted(avoid)} for proxy {name}")
            self.proxies[name] = proxy
            return proxy.port

        return self._run(start())

    def set_specs(self, name: str, forward: LinkSpec, backward: LinkSpec) -> None:
        async def apply() -> None:
            self.proxies[name].set_specs(forward, backward)

        self._run(apply())

    def reset(self, name: str) -> int:
        async def reset() -> int:
            return self.proxies[name].reset()

        return self._run(reset())

    def stats(self) -> dict[str, dict[str, Any]]:
        async def collect() -> dict[str, dict[str, Any]]:
            return {name: p.stats() for name, p in self.proxies.items()}

        return self._run(collect())

    def close(self) -> None:
        if not self._loop.is_running():
            return

        async def close_all() -> None:
            await asyncio.gather(*(p.close() for p in self.proxies.values()))

        try:
            self._run(close_all())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> ProxyFarm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
