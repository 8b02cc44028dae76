"""The store protocol: what a node persists, independent of the database behind it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from federation.audit import AuditDraft, AuditRecord


@dataclass(frozen=True)
class SubjectRecord:
    """A natural person (citizen id) or legal person (credit code) registered at its home region."""

    subject_id: str
    kind: str  # "natural" | "legal"
    name: str
    home_region: str  # region code, e.g. "330000"
    password_hash: str
    created_at: float


@dataclass(frozen=True)
class SessionRecord:
    """A login at the home region; tokens for other regions are minted from it."""

    session_id: str
    subject_id: str
    secret_hash: str
    acr: str
    created_at: float
    expires_at: float
    revoked_at: float | None = None


@dataclass(frozen=True)
class Revocation:
    """A revoked session, kept until the session would have expired anyway."""

    session_id: str
    revoked_at: float
    expires_at: float


@dataclass(frozen=True)
class QuotaResult:
    """Outcome of an atomic check-and-consume against a counter."""

    allowed: bool
    used: int
    limit: int


@runtime_checkable
class Store(Protocol):
    """Persistence for one node. Every method is atomic; a returned write is durable."""

    # subjects
    def add_subject(self, subject: SubjectRecord) -> None:
        """Insert; raises federation.errors.AlreadyExists if the subject_id exists."""

    def get_subject(self, subject_id: str) -> SubjectRecord | None: ...

    # face templates (at the home region for enrolment and at the hub for comparison)
    def put_face_template(self, subject_id: str, template: Sequence[float]) -> None:
        """Insert or replace the enrolled template of a subject."""

    def get_face_template(self, subject_id: str) -> list[float] | None: ...

    # sessions
    def add_session(self, session: SessionRecord) -> None: ...

    def get_session(self, session_id: str) -> SessionRecord | None: ...

    def revoke_session(self, session_id: str, at: float) -> SessionRecord | None:
        """Mark revoked (idempotent: the first revocation time is kept); None if unknown."""

    def revoked_sessions(self, since: float, now: float) -> list[Revocation]:
        """Sessions revoked at or after `since` that have not yet expired at `now`."""

    # replay cache
    def remember_jti(self, audience: str, jti: str, expires_at: float, now: float) -> bool:
        """Record (audience, jti); True if first seen, False if a replay. Purges expired rows."""

    # quotas (hub face verification)
    def consume_quota(self, bucket: str, period: str, limit: int) -> QuotaResult:
        """Atomically add one use to (bucket, period) unless `limit` is already reached."""

    # audit log
    def append_audit(self, draft: AuditDraft) -> AuditRecord:
        """Link the draft after the current head (federation.audit.link) and persist it."""

    def audit_entries(self, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        """Entries with seq > after_seq, in order."""

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry, or (0, GENESIS_HASH) if the log is empty."""

    def close(self) -> None: ...
