"""The hub's unified face verification: cosine similarity, per-region daily quota and rate limit."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from federation.clock import Clock, china_day
from federation.crypto.jose import SigningKey, sign_compact
from federation.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from federation.identity.provider import FaceCheckResult, validate_face_template
from federation.storage.base import Store

DEFAULT_THRESHOLD = 0.85
FACE_ASSERTION_TYP = "face-assertion+jwt"
FACE_ASSERTION_TTL_S = 300


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        raise ValueError(f"templates differ in dimension: {len(a)} vs {len(b)}")
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(math.fsum(x * x for x in a))
    nb = math.sqrt(math.fsum(y * y for y in b))
    if na == 0 or nb == 0:
        return 0.0
    return max(-1.0, min(1.0, dot / (na * nb)))


def _bucket(region: str) -> str:
    """The store counter of a region's daily face verifications."""
    return f"face:{region}"


@dataclass(frozen=True)
class QuotaPolicy:
    """Per-region limits: calls per China-time day and a token-bucket rate."""

    daily_limit: int = 10_000
    rate_per_s: float = 50.0
    burst: int = 100


class TokenBucket:
    """A thread-safe token bucket driven by an injected clock."""

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self.rate = rate_per_s
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.stamp = now
        self._lock = threading.Lock()

    def take(self, now: float) -> bool:
        with self._lock:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


class FaceVerificationService:
    """Runs at the hub: enrolment by the home region, verification by any region within quota."""

    def __init__(
        self,
        *,
        store: Store,
        signing_key: SigningKey,
        hub_entity_id: str,
        clock: Clock,
        quotas: Mapping[str, QuotaPolicy],
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self._store = store
        self._key = signing_key
        self._hub = hub_entity_id
        self._clock = clock
        self._quotas = dict(quotas)
        self.threshold = threshold
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def enrol(
        self, caller_region: str, subject_id: str, kind: str, template: Sequence[float]
    ) -> None:
        """Only the subject's home, as the hub's home registry knows it, enrols its face."""
        values = validate_face_template(template)
        home = self._store.get_home(subject_id)
        if home is None:
            raise FailedPrecondition(
                "the subject has no home in the hub's registry; register it at its home "
                "region before enrolling a face"
            )
        if home.home_region != caller_region:
            raise PermissionDenied(
                f"subject's home region is {home.home_region}; only the home enrols its "
                f"subjects' faces, not region {caller_region}"
            )
        if kind and kind != home.kind:
            raise InvalidArgument(f"subject is registered as a {home.kind} person, not {kind}")
        self._store.put_face_template(subject_id, values)

    def _policy(self, region: str) -> QuotaPolicy:
        policy = self._quotas.get(region)
        if policy is None:
            raise PermissionDenied(f"region {region} has no face verification quota at the hub")
        return policy

    def _admit(self, region: str) -> None:
        policy = self._policy(region)
        now = self._clock.now()
        with self._lock:
            bucket = self._buckets.get(region)
            if bucket is None:
                bucket = self._buckets[region] = TokenBucket(policy.rate_per_s, policy.burst, now)
        if not bucket.take(now):
            raise ResourceExhausted(
                f"face verification rate limit of {policy.rate_per_s:g}/s for region {region} "
                "exceeded; retry in a second"
            )
        day = china_day(now)
        used = self._store.consume_quota(_bucket(region), day, policy.daily_limit)
        if not used.allowed:
            raise ResourceExhausted(
                f"face verification quota for region {region} is spent "
                f"({used.limit} calls on {day}, China time); it resets at midnight, "
                "or ask the hub operator to raise the quota"
            )

    def remaining(self, region: str) -> int:
        """Verifications `region` may still make today (China time); 0 without a quota."""
        policy = self._quotas.get(region)
        if policy is None:
            return 0
        used = self._store.quota_used(_bucket(region), china_day(self._clock.now()))
        return max(policy.daily_limit - used, 0)

    def verify(
        self, caller_region: str, subject_id: str, template: Sequence[float]
    ) -> FaceCheckResult:
        self._policy(caller_region)  # a region without quota learns nothing about enrolment
        values = validate_face_template(template)
        enrolled = self._store.get_face_template(subject_id)
        if enrolled is None:
            raise NotFound(
                "no face template is enrolled for this subject; enrol at the home region"
            )
        if len(enrolled) != len(values):
            raise InvalidArgument(
                f"presented template has {len(values)} dimensions, enrolled has {len(enrolled)}"
            )
        self._admit(caller_region)
        score = cosine_similarity(values, enrolled)
        match = score >= self.threshold
        now = int(self._clock.now())
        claims: dict[str, Any] = {
            "iss": self._hub,
            "sub": subject_id,
            "aud": caller_region,
            "iat": now,
            "exp": now + FACE_ASSERTION_TTL_S,
            "match": match,
            "score": round(score, 4),
        }
        assertion = sign_compact(claims, self._key, typ=FACE_ASSERTION_TYP)
        return FaceCheckResult(match=match, score=score, assertion=assertion)
