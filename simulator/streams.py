"""Independent seeded random streams per source, drawn from numpy in batches."""

from __future__ import annotations

import zlib

import numpy as np

from simulator.distributions import Distribution, FloatArray

__all__ = ["BATCH", "Sampler", "Streams", "UniformStream"]

#: Numbers drawn per refill; large enough that numpy's per-call overhead disappears.
BATCH = 4096


def _source_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """Factory of generators keyed by (replication, source name).

    Each source gets ``SeedSequence(seed, spawn_key=(replication, crc32(name)))``, the same
    construction ``SeedSequence.spawn`` uses for its children, but keyed by name rather than
    by spawn order: adding or re-ordering sources never shifts another source's numbers, which
    is what common random numbers across scenarios need.
    """

    def __init__(self, seed: int, replication: int = 0) -> None:
        self.seed = seed
        self.replication = replication

    def generator(self, name: str) -> np.random.Generator:
        """A fresh generator for one source."""
        seq = np.random.SeedSequence(self.seed, spawn_key=(self.replication, _source_key(name)))
        return np.random.Generator(np.random.PCG64(seq))

    def uniform(self, name: str) -> UniformStream:
        """Batched U(0,1) numbers for one source."""
        return UniformStream(self.generator(name))

    def sampler(self, name: str, dist: Distribution) -> Sampler:
        """Batched draws (minutes) from one distribution on its own source."""
        return Sampler(self.generator(name), dist)


class UniformStream:
    """U(0,1) numbers handed out one at a time from numpy batches."""

    __slots__ = ("_buf", "_gen", "_i")

    def __init__(self, gen: np.random.Generator) -> None:
        self._gen = gen
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        i = self._i
        if i >= len(self._buf):
            self._buf = self._gen.random(BATCH).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]

    def array(self, n: int) -> FloatArray:
        """n numbers at once, from the stream's own generator."""
        return self._gen.random(n)


class Sampler:
    """Durations in minutes, by inversion of batched uniforms (monotone coupling for CRN)."""

    __slots__ = ("_buf", "_gen", "_i", "dist")

    def __init__(self, gen: np.random.Generator, dist: Distribution) -> None:
        self._gen = gen
        self.dist = dist
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        i = self._i
        if i >= len(self._buf):
            self._buf = self.dist.ppf_minutes(self._gen.random(BATCH)).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]

    def array(self, n: int) -> FloatArray:
        """n draws at once."""
        return self.dist.ppf_minutes(self._gen.random(n))
