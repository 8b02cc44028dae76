"""The store protocol: what a node persists, independent of the database behind it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from federation.audit import AuditDraft, AuditRecord

if TYPE_CHECKING:
    from federation.storage.group_commit import CommitObserver


class WouldWait(Exception):
    """Raised inside `Store.without_waiting()` by a call that would have had to wait; the call
    wrote nothing, so the caller can make it again where waiting is allowed (a thread)."""


@dataclass(frozen=True)
class SubjectRecord:
    """A natural person (citizen id) or legal person (credit code) registered at its home region."""

    subject_id: str
    kind: str  # "natural" | "legal"
    name: str
    home_region: str  # region code, e.g. "330000"
    password_hash: str
    created_at: float
    # the hub's signed statement that this region is the subject's only home (empty for a
    # subject registered before home attestations: it is claimed at its next login)
    home_attestation: str = ""


@dataclass(frozen=True)
class SubjectHome:
    """At the hub: the one region a subject is registered at, federation-wide."""

    subject_id: str
    kind: str
    home_region: str
    claimed_at: float


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


@dataclass(frozen=True)
class LicenceRecord:
    """An issued, sealed licence held by its issuing region."""

    identifier: str
    request_id: str
    request_hash: str  # sha-256 of the issue request, to tell a retry from a reused id
    type_code: str
    holder_code: str
    authority_code: str
    sd_jwt: str  # full serialization: issuer JWT and every disclosure
    status_index: int
    status: int  # federation.licences.LicenceStatus value
    issued_at: float
    updated_at: float
    # codes of other subjects the licence concerns, e.g. the citizen id of an enterprise's
    # legal representative; her aggregation (归集) lists the licence too. Stores return them
    # sorted and without repeats.
    parties: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseRecord:
    """A cross-province case (跨省通办) at its owner region; `version` guards transitions."""

    case_id: str
    request_id: str
    request_hash: str
    item_code: str
    owner_region: str
    window_region: str
    window_id: str
    applicant_id: str
    state: str
    data: Mapping[str, Any]
    created_at: float
    updated_at: float
    deadline_at: float
    version: int = 1


@dataclass(frozen=True)
class CaseEvent:
    """One persisted transition of a case (seq is per case, from 1)."""

    case_id: str
    seq: int
    time: float
    from_state: str
    to_state: str
    actor: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class CaseStep:
    """One transition of a case filed with others in one transaction (see advance_case): the
    state and data it leaves the case in, its event (case_id and seq assigned by the store) and
    the audit entry that commits with it."""

    state: str
    data: Mapping[str, Any]
    event: CaseEvent
    audit: AuditDraft


@dataclass(frozen=True)
class CaseRating:
    """The applicant's evaluation (好差评) of a closed case."""

    case_id: str
    score: int
    reasons: tuple[str, ...]
    comment: str
    rated_at: float


@runtime_checkable
class Store(Protocol):
    """Persistence for one node. Every method is atomic; a returned write is durable."""

    # subjects
    def add_subject(self, subject: SubjectRecord) -> None:
        """Insert; raises federation.errors.AlreadyExists if the subject_id exists."""

    def get_subject(self, subject_id: str) -> SubjectRecord | None: ...

    def set_home_attestation(self, subject_id: str, attestation: str) -> None:
        """Store the hub's home attestation of a subject; raises NotFound if unknown."""

    # home registry (hub)
    def claim_home(self, home: SubjectHome) -> SubjectHome:
        """Insert unless the subject already has a home; answer the stored home (atomic)."""

    def get_home(self, subject_id: str) -> SubjectHome | None: ...

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
    def remember_jti(
        self,
        audience: str,
        jti: str,
        expires_at: float,
        now: float,
        audit: AuditDraft | None = None,
    ) -> bool:
        """Record (audience, jti); True if first seen, False if a replay. Purges expired rows.

        When first seen, `audit` (if given) is appended to the audit log in the same
        transaction: the row and its entry commit together or not at all (a failed append
        raises federation.errors.Unavailable and leaves the jti unused). A replay appends
        nothing."""

    def remember_jti_now(
        self,
        audience: str,
        jti: str,
        expires_at: float,
        now: float,
        audit: AuditDraft | None = None,
    ) -> bool | None:
        """`remember_jti`, done on the calling thread only if it need not wait for anything
        (a lock, another batch, an fsync, the network); None, with nothing written, when it
        would, so an event loop can hand the write to a thread instead."""

    # quotas (hub face verification)
    def consume_quota(self, bucket: str, period: str, limit: int) -> QuotaResult:
        """Atomically add one use to (bucket, period) unless `limit` is already reached."""

    def quota_used(self, bucket: str, period: str) -> int:
        """Uses counted against (bucket, period) so far (0 if none); a read, for monitoring."""

    # audit log
    def append_audit(self, draft: AuditDraft) -> AuditRecord:
        """Link the draft after the current head (federation.audit.link) and persist it."""

    def append_audit_now(self, draft: AuditDraft) -> AuditRecord | None:
        """`append_audit` done on the calling thread only if it need not wait for anything;
        None, with nothing written, when it would (see remember_jti_now)."""

    def audit_entries(self, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        """Entries with seq > after_seq, in order."""

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry, or (0, GENESIS_HASH) if the log is empty."""

    # licences (issuing region)
    def add_licence(
        self, licence: LicenceRecord, audit: AuditDraft | None = None
    ) -> tuple[LicenceRecord, bool]:
        """Insert; idempotent by request_id: a retry with the same request_hash returns the
        stored record and False; the same request_id with another hash raises AlreadyExists;
        a duplicate identifier or status_index raises AlreadyExists.

        When the licence is inserted, `audit` (if given) is appended to the audit log in the
        same transaction, so no licence is ever stored without its entry (a failed append
        raises federation.errors.Unavailable and stores nothing). A retry appends nothing."""

    def get_licence(self, identifier: str) -> LicenceRecord | None: ...

    def licences_of_holder(self, holder_code: str) -> list[LicenceRecord]:
        """Every licence whose holder_code is `holder_code` or whose parties include it,
        oldest first (issued_at, then insertion order), without duplicates."""

    def licences_of_holder_now(self, holder_code: str) -> list[LicenceRecord] | None:
        """`licences_of_holder` on the calling thread only if it need not wait for anything
        (a lock, the network); None, having read nothing, when it would (see
        remember_jti_now)."""

    def set_licence_status(self, identifier: str, status: int, at: float) -> LicenceRecord:
        """Change the status and set updated_at to `at`; raises NotFound for an unknown
        identifier."""

    def status_entries(self) -> list[tuple[int, int]]:
        """(status_index, status) of every licence, by status_index, to build the signed
        status list."""

    # cases (owner region)
    def create_case(
        self,
        case: CaseRecord,
        first: CaseEvent,
        audit: AuditDraft | None = None,
        then: Sequence[CaseStep] = (),
    ) -> tuple[CaseRecord, bool]:
        """Insert the case and its first event atomically; idempotent by request_id exactly
        like add_licence (same hash -> stored case and False, other hash -> AlreadyExists);
        a duplicate case_id raises AlreadyExists. The first event is filed under case.case_id
        as seq 1 (its own case_id and seq are ignored). An insert appends `audit` (if given)
        in the same transaction (a failed append raises Unavailable and stores nothing).

        An insert also files the steps `then` (as advance_case from version 1) in that same
        transaction, and answers the case as they leave it: all of it commits or none of it.
        A retry (the stored case comes back) files nothing."""

    def get_case(self, case_id: str) -> CaseRecord | None: ...

    def transition_case(
        self,
        case_id: str,
        expected_version: int,
        state: str,
        data: Mapping[str, Any],
        event: CaseEvent,
        audit: AuditDraft | None = None,
    ) -> CaseRecord:
        """Atomically set state and data, bump version and append the event, only if the
        stored version equals expected_version (else FailedPrecondition); NotFound if absent.
        The event is filed under case_id with the next seq, assigned by the store in the same
        transaction (the passed case_id and seq are ignored); updated_at becomes event.time.
        `audit` (if given) is appended in that transaction too (Unavailable if it cannot be)."""

    def advance_case(
        self, case_id: str, expected_version: int, steps: Sequence[CaseStep]
    ) -> CaseRecord:
        """transition_case for each step in order, all in one transaction: the first only if
        the stored version equals expected_version (else FailedPrecondition, nothing written;
        NotFound if absent), each step bumping the version, filing its event as the next seq
        and appending its audit entry. Every step commits or none does (Unavailable if an
        entry cannot be appended). Answers the case as the last step leaves it."""

    def case_events(self, case_id: str, after_seq: int = 0) -> list[CaseEvent]:
        """Events of the case with seq > after_seq, in order ([] for an unknown case)."""

    def list_cases(
        self,
        owner_region: str | None = None,
        window_region: str | None = None,
        applicant_id: str | None = None,
    ) -> list[CaseRecord]:
        """Cases matching every given filter (None: any), oldest first (created_at, then
        insertion order)."""

    def page_cases(
        self,
        owner_region: str,
        *,
        state: str | None = None,
        item_code: str | None = None,
        window_region: str | None = None,
        window_id: str | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> list[CaseRecord]:
        """Up to `limit` cases of `owner_region` matching every given filter (None: any),
        newest first (created_at, then case_id, both descending); with `before`, only the
        cases after that (created_at, case_id) in this order: the next page."""

    def case_counts(self, owner_region: str) -> dict[str, int]:
        """Number of cases of `owner_region` in each state (states without cases left out);
        one grouped count, cheap enough for every metrics scrape."""

    def rate_case(self, rating: CaseRating) -> None:
        """Store the rating; AlreadyExists if the case was rated already."""

    def case_ratings(self) -> list[CaseRating]:
        """Every rating, oldest first (rated_at, then insertion order)."""

    def without_waiting(self) -> AbstractContextManager[bool]:
        """A block in which this thread's calls never wait: one that would (for the connection,
        a lock held by another thread, an fsync, the network) raises WouldWait instead, having
        written nothing. Yields True if calls can be made so, False if every call of this
        store waits (a network database): then the caller makes them where it may wait."""

    def observe_commits(self, observer: CommitObserver | None) -> None:
        """Call `observer(writes, seconds)` after each group-commit transaction (None: stop)."""

    def close(self) -> None: ...
