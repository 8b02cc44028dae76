"""The home region's identity provider: register subjects, log them in, mint federated tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from federation.clock import Clock
from federation.codes import validate_citizen_id, validate_credit_code
from federation.crypto.jose import SigningKey
from federation.crypto.passwords import check_password_policy, hash_password, verify_password
from federation.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from federation.identity.assurance import Assurance
from federation.identity.homes import HomeAttestation
from federation.identity.tokens import DEFAULT_TTL_S, mint_token
from federation.storage.base import SessionRecord, Store, SubjectRecord

SUBJECT_KINDS = ("natural", "legal")
SESSION_TTL_S = 8 * 3600
MAX_NAME_LENGTH = 100
FACE_TEMPLATE_DIMS = (64, 1024)


def validate_subject_id(kind: str, subject_id: str) -> str:
    """Citizen id (GB 11643) for natural persons, credit code (GB 32100) for legal persons."""
    if kind == "natural":
        return validate_citizen_id(subject_id)
    if kind == "legal":
        return validate_credit_code(subject_id)
    raise InvalidArgument(f"subject kind must be one of {SUBJECT_KINDS}, got {kind!r}")


def validate_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidArgument("name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"name longer than {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidArgument("name contains control or unassigned characters")
    return name


def validate_face_template(template: Sequence[float]) -> list[float]:
    low, high = FACE_TEMPLATE_DIMS
    if not low <= len(template) <= high:
        raise InvalidArgument(
            f"face template must have {low}..{high} dimensions, got {len(template)}"
        )
    values = [float(v) for v in template]
    if any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise InvalidArgument("face template contains NaN or infinity")
    if not any(values):
        raise InvalidArgument("face template is all zeros")
    return values


@dataclass(frozen=True)
class FaceCheckResult:
    """What the hub answered about a face: the match and its signed assertion."""

    match: bool
    score: float
    assertion: str


FaceCheck = Callable[[str, Sequence[float]], FaceCheckResult]
"""(subject_id, presented template) -> hub's answer; raises ResourceExhausted on quota."""

FaceEnrol = Callable[[str, str, Sequence[float]], None]
"""(subject_id, kind, template) -> enrols the template at the hub."""

HomeClaim = Callable[[str, str], str]
"""(subject_id, kind) -> the hub's home attestation naming this region; raises AlreadyExists
when another region is the subject's home, Unavailable when the hub is unreachable."""

HomeCheck = Callable[[str, float], HomeAttestation]
"""(attestation, now) -> its verified content (hub key from the trust list) or raises."""


@dataclass(frozen=True)
class LoginResult:
    session_id: str
    session_secret: str
    assurance: Assurance
    expires_at: float
    tokens: Mapping[str, str]
    face_assertion: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "session_secret": self.session_secret,
            "acr": self.assurance.acr,
            "expires_at": self.expires_at,
            "tokens": dict(self.tokens),
            "face_assertion": self.face_assertion,
        }


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class IdentityProvider:
    """Authentication at the home region: one login, tokens for every other region."""

    def __init__(
        self,
        *,
        region_code: str,
        entity_id: str,
        store: Store,
        signing_key: Callable[[], SigningKey],
        audiences: Callable[[], Mapping[str, str]],
        clock: Clock,
        face_check: FaceCheck | None = None,
        face_enrol: FaceEnrol | None = None,
        home_claim: HomeClaim | None = None,
        home_check: HomeCheck | None = None,
        token_ttl_s: int = DEFAULT_TTL_S,
        password_cost_log2: int = 14,
    ) -> None:
        self.region_code = region_code
        self.entity_id = entity_id
        self._store = store
        self._signing_key = signing_key
        self._audiences = audiences  # region code -> entity id, from the trust list
        self._clock = clock
        self._face_check = face_check
        self._face_enrol = face_enrol
        self._home_claim = home_claim
        self._home_check = home_check
        self.token_ttl_s = token_ttl_s
        self._cost = password_cost_log2
        # A real hash to compare against when the subject is unknown, so the time to
        # refuse does not reveal whether an id is registered.
        self._dummy_hash = hash_password("dummy-password-0", n_log2=password_cost_log2)

    def register(self, kind: str, subject_id: str, name: str, password: str) -> SubjectRecord:
        subject_id = validate_subject_id(kind, subject_id)
        name = validate_name(name)
        check_password_policy(password, user_inputs=(subject_id, name))
        if self._store.get_subject(subject_id) is not None:
            raise AlreadyExists(f"subject {subject_id} already exists")
        # one person, one home: the hub must accept this region as the home before anything
        # is stored here (hub unreachable -> Unavailable, nothing registered)
        attestation = self._claim_home(subject_id, kind)
        record = SubjectRecord(
            subject_id=subject_id,
            kind=kind,
            name=name,
            home_region=self.region_code,
            password_hash=hash_password(password, n_log2=self._cost),
            created_at=self._clock.now(),
            home_attestation=attestation,
        )
        self._store.add_subject(record)
        return record

    def _claim_home(self, subject_id: str, kind: str) -> str:
        if self._home_claim is None or self._home_check is None:
            raise FailedPrecondition("this node has no hub connection to claim subjects' homes")
        attestation = self._home_claim(subject_id, kind)
        self._checked_home(attestation, subject_id, kind)
        return attestation

    def _checked_home(self, attestation: str, subject_id: str, kind: str) -> str:
        assert self._home_check is not None
        home = self._home_check(attestation, self._clock.now())
        if (home.subject, home.home_region, home.subject_kind) != (
            subject_id,
            self.region_code,
            kind,
        ):
            raise FailedPrecondition(
                f"the hub attested home {home.home_region} for another subject, kind or region"
            )
        return attestation

    def home_attestation(self, subject: SubjectRecord) -> str:
        """The stored attestation when it still verifies, else one claimed from the hub now
        (subjects registered before attestations, or after the hub's key retired)."""
        if subject.home_attestation and self._home_check is not None:
            try:
                return self._checked_home(
                    subject.home_attestation, subject.subject_id, subject.kind
                )
            except (Unauthenticated, FailedPrecondition, InvalidArgument):
                pass  # claimed again below
        try:
            attestation = self._claim_home(subject.subject_id, subject.kind)
        except AlreadyExists as exc:
            raise PermissionDenied(
                f"region {self.region_code} is not this subject's home: {exc.message}"
            ) from None
        self._store.set_home_attestation(subject.subject_id, attestation)
        return attestation

    def _check_password(self, subject_id: str, password: str) -> SubjectRecord:
        # the same normalisation registration applies (not validation: the refusal must not
        # reveal whether an id is well-formed or registered)
        subject = self._store.get_subject(subject_id.strip().upper())
        stored = subject.password_hash if subject else self._dummy_hash
        if not verify_password(password, stored) or subject is None:
            raise Unauthenticated("unknown subject or wrong password")
        return subject

    def enrol_face(self, subject_id: str, password: str, template: Sequence[float]) -> None:
        subject = self._check_password(subject_id, password)
        values = validate_face_template(template)
        if self._face_enrol is None:
            raise FailedPrecondition("this node has no hub connection for face enrolment")
        # the hub enrols only for the subject's home: make sure it knows (registered earlier)
        self.home_attestation(subject)
        self._face_enrol(subject.subject_id, subject.kind, values)
        self._store.put_face_template(subject.subject_id, values)

    def resolve_audience(self, audience: str) -> str:
        """Accept a region code or entity id; answer the entity id listed in the trust list."""
        known = self._audiences()
        if audience in known:
            return known[audience]
        if audience in known.values():
            return audience
        raise InvalidArgument(
            f"unknown audience {audience!r}; use a region code among {sorted(known)}"
        )

    def authenticate(
        self,
        subject_id: str,
        password: str,
        audiences: Sequence[str],
        requested: Assurance = Assurance.LOW,
        face_template: Sequence[float] | None = None,
    ) -> LoginResult:
        if not audiences:
            raise InvalidArgument("name at least one audience region for the tokens")
        targets = [self.resolve_audience(a) for a in audiences]
        subject = self._check_password(subject_id, password)
        home = self.home_attestation(subject)
        amr: tuple[str, ...] = ("pwd",)
        level = Assurance.LOW
        assertion = ""
        if requested >= Assurance.SUBSTANTIAL:
            if face_template is None:
                raise InvalidArgument(
                    f"level {requested.name.lower()} requires a face template verified at the hub"
                )
            if self._face_check is None:
                raise FailedPrecondition("this node has no hub connection for face verification")
            result = self._face_check(subject.subject_id, validate_face_template(face_template))
            if not result.match:
                raise Unauthenticated(
                    f"face verification failed at the hub (similarity {result.score:.3f})"
                )
            amr = ("pwd", "face")
            level = requested
            assertion = result.assertion
        now = self._clock.now()
        session_id = secrets.token_urlsafe(18)
        secret = secrets.token_urlsafe(32)
        self._store.add_session(
            SessionRecord(
                session_id=session_id,
                subject_id=subject.subject_id,
                secret_hash=_secret_hash(secret),
                acr=level.acr,
                created_at=now,
                expires_at=now + SESSION_TTL_S,
            )
        )
        session = self._store.get_session(session_id)
        assert session is not None
        tokens = {aud: self._mint(subject, session, aud, amr, now, home) for aud in targets}
        return LoginResult(session_id, secret, level, now + SESSION_TTL_S, tokens, assertion)

    def _mint(
        self,
        subject: SubjectRecord,
        session: SessionRecord,
        audience: str,
        amr: tuple[str, ...],
        now: float,
        home_attestation: str,
    ) -> str:
        return mint_token(
            self._signing_key(),
            issuer=self.entity_id,
            subject=subject.subject_id,
            audience=audience,
            session_id=session.session_id,
            assurance=Assurance.parse(session.acr),
            home_region=self.region_code,
            subject_kind=subject.kind,
            name=subject.name,
            amr=amr,
            home_attestation=home_attestation,
            now=now,
            ttl_s=min(self.token_ttl_s, max(1, int(session.expires_at - now))),
        )

    def _live_session(self, session_id: str, secret: str) -> SessionRecord:
        session = self._store.get_session(session_id)
        if session is None:
            raise NotFound(f"no session {session_id!r} at region {self.region_code}")
        if not hmac.compare_digest(session.secret_hash, _secret_hash(secret)):
            raise Unauthenticated("wrong session secret")
        if session.revoked_at is not None:
            raise Unauthenticated("session was logged out; log in again")
        if self._clock.now() > session.expires_at:
            raise Unauthenticated("session expired; log in again")
        return session

    def issue_token(self, session_id: str, secret: str, audience: str) -> str:
        """A fresh token for another audience from an existing login (no second login)."""
        target = self.resolve_audience(audience)
        session = self._live_session(session_id, secret)
        subject = self._store.get_subject(session.subject_id)
        if subject is None:
            raise PermissionDenied("the session's subject is no longer registered")
        amr = ("pwd", "face") if Assurance.parse(session.acr) >= Assurance.SUBSTANTIAL else ("pwd",)
        home = self.home_attestation(subject)
        return self._mint(subject, session, target, amr, self._clock.now(), home)

    def logout(self, session_id: str, secret: str) -> SessionRecord:
        self._live_session(session_id, secret)
        revoked = self._store.revoke_session(session_id, self._clock.now())
        assert revoked is not None
        return revoked
