"""Tests for the hub's face verification: similarity, enrolment, signed assertions, quotas."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from federation.clock import CHINA_STANDARD_TIME, FixedClock, china_day
from federation.crypto.jose import Jwk, SigningKey, verify_compact
from federation.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from federation.identity.face import (
    DEFAULT_THRESHOLD,
    FACE_ASSERTION_TTL_S,
    FACE_ASSERTION_TYP,
    FaceVerificationService,
    QuotaPolicy,
    TokenBucket,
    cosine_similarity,
)
from federation.storage import open_store
from federation.storage.base import Store, SubjectHome

HUB = "yrd:hub:100000"
HUB_KEY = SigningKey.generate()
SUBJECT = "310101199001011234"
# 23:59:00 China time on 1 June 2025 (15:59 UTC)
LATE_EVENING = datetime.datetime(2025, 6, 1, 23, 59, tzinfo=CHINA_STANDARD_TIME).timestamp()
TEMPLATE = [math.sin(i * 0.37) + 0.1 for i in range(128)]
OTHER_FACE = [math.cos(i * 1.91) for i in range(128)]
NEAR_TEMPLATE = [v + (0.01 if i % 2 else -0.01) for i, v in enumerate(TEMPLATE)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store("sqlite:///" + str(tmp_path / "s.sqlite3"))
    yield s
    s.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(LATE_EVENING)


def make_service(
    store: Store, clock: FixedClock, home: str = "310000", **quotas: QuotaPolicy
) -> FaceVerificationService:
    """The hub's face service, with SUBJECT's home already in the hub's home registry."""
    store.claim_home(SubjectHome(SUBJECT, "natural", home, clock.now()))
    return FaceVerificationService(
        store=store,
        signing_key=HUB_KEY,
        hub_entity_id=HUB,
        clock=clock,
        quotas=quotas or {"310000": QuotaPolicy(), "330000": QuotaPolicy()},
    )


@pytest.fixture
def service(store: Store, clock: FixedClock) -> FaceVerificationService:
    svc = make_service(store, clock)
    svc.enrol("310000", SUBJECT, "natural", TEMPLATE)
    return svc


def hub_resolver(kid: str) -> Jwk:
    if kid != HUB_KEY.kid:
        raise Unauthenticated(f"not the hub key: {kid}")
    return HUB_KEY.jwk


# --- cosine similarity -------------------------------------------------------------------------

vectors = st.integers(min_value=1, max_value=16).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n),
        st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n),
    )
)


def norm(v: list[float]) -> float:
    return math.sqrt(math.fsum(x * x for x in v))


@settings(deadline=None)
@given(vectors)
def test_cosine_is_symmetric(pair: tuple[list[float], list[float]]) -> None:
    a, b = pair
    assert cosine_similarity(a, b) == cosine_similarity(b, a)


@settings(deadline=None)
@given(vectors)
def test_cosine_is_within_minus_one_and_one_up_to_rounding(
    pair: tuple[list[float], list[float]],
) -> None:
    a, b = pair
    assert -1 - 1e-12 <= cosine_similarity(a, b) <= 1 + 1e-12
    assert -1 - 1e-12 <= cosine_similarity(a, a) <= 1 + 1e-12


def test_cosine_never_exceeds_one() -> None:
    a = [0.1 * ((i * 7919) % 13 - 6) + 0.03 for i in range(64)]
    assert cosine_similarity(a, a) <= 1.0


@settings(deadline=None)
@given(
    vectors,
    st.floats(min_value=1e-3, max_value=1e3),
    st.booleans(),
)
def test_cosine_is_scale_invariant(
    pair: tuple[list[float], list[float]], factor: float, negate: bool
) -> None:
    a, b = pair
    assume(norm(a) > 1e-3 and norm(b) > 1e-3)
    k = -factor if negate else factor
    scaled = [k * x for x in a]
    expected = -cosine_similarity(a, b) if negate else cosine_similarity(a, b)
    assert math.isclose(cosine_similarity(scaled, b), expected, rel_tol=1e-9, abs_tol=1e-9)


@settings(deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=16))
def test_cosine_of_a_vector_with_itself_and_its_opposite(a: list[float]) -> None:
    assume(norm(a) > 1e-3)
    assert math.isclose(cosine_similarity(a, a), 1.0, rel_tol=1e-12)
    assert math.isclose(cosine_similarity(a, [-x for x in a]), -1.0, rel_tol=1e-12)


def test_cosine_special_cases() -> None:
    assert cosine_similarity([1.0, 0.0], [0.0, 1.0]) == 0.0
    assert cosine_similarity([0.0, 0.0], [1.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="differ in dimension"):
        cosine_similarity([1.0], [1.0, 2.0])


# --- enrolment ---------------------------------------------------------------------------------


def test_enrol_by_the_home_region_stores_the_template(
    service: FaceVerificationService, store: Store
) -> None:
    stored = store.get_face_template(SUBJECT)
    assert stored == pytest.approx(TEMPLATE, rel=1e-6)


def test_home_region_may_re_enrol(service: FaceVerificationService) -> None:
    service.enrol("310000", SUBJECT, "natural", OTHER_FACE)
    assert service.verify("310000", SUBJECT, OTHER_FACE).match
    assert not service.verify("310000", SUBJECT, TEMPLATE).match


def test_another_region_may_not_replace_the_template(
    service: FaceVerificationService, store: Store
) -> None:
    with pytest.raises(PermissionDenied, match=r"home region is 310000; .* not region 330000"):
        service.enrol("330000", SUBJECT, "natural", OTHER_FACE)
    assert store.get_face_template(SUBJECT) == pytest.approx(TEMPLATE, rel=1e-6)


def test_no_region_may_enrol_first_for_another_regions_subject(
    store: Store, clock: FixedClock
) -> None:
    """Squatting: a region enrolling a face before the true home does is refused."""
    svc = make_service(store, clock)  # SUBJECT's home is 310000
    with pytest.raises(PermissionDenied, match="home region is 310000"):
        svc.enrol("330000", SUBJECT, "natural", OTHER_FACE)
    assert store.get_face_template(SUBJECT) is None
    svc.enrol("310000", SUBJECT, "natural", TEMPLATE)  # the true home is not blocked
    assert store.get_face_template(SUBJECT) == pytest.approx(TEMPLATE, rel=1e-6)


def test_a_subject_without_a_home_cannot_be_enrolled(store: Store, clock: FixedClock) -> None:
    svc = make_service(store, clock)
    with pytest.raises(FailedPrecondition, match="no home in the hub's registry"):
        svc.enrol("310000", "330106198805172315", "natural", TEMPLATE)
    assert store.get_face_template("330106198805172315") is None


def test_the_kind_must_match_the_home_registry(store: Store, clock: FixedClock) -> None:
    with pytest.raises(InvalidArgument, match="registered as a natural person, not legal"):
        make_service(store, clock).enrol("310000", SUBJECT, "legal", TEMPLATE)


@pytest.mark.parametrize(
    "template", [[0.1] * 10, [*TEMPLATE[:-1], float("nan")], [0.0] * 128, [float("-inf")] * 64]
)
def test_enrol_refuses_invalid_templates(
    store: Store, clock: FixedClock, template: list[float]
) -> None:
    svc = make_service(store, clock)
    with pytest.raises(InvalidArgument, match="face template"):
        svc.enrol("310000", SUBJECT, "natural", template)
    assert store.get_subject(SUBJECT) is None


# --- verification ------------------------------------------------------------------------------


def test_match_with_a_signed_assertion(service: FaceVerificationService) -> None:
    result = service.verify("330000", SUBJECT, NEAR_TEMPLATE)
    assert result.match and DEFAULT_THRESHOLD <= result.score <= 1.0 + 1e-12
    parsed = verify_compact(result.assertion, hub_resolver)
    assert parsed.header["typ"] == FACE_ASSERTION_TYP
    claims = parsed.payload()
    now = int(LATE_EVENING)
    assert claims == {
        "iss": HUB, "sub": SUBJECT, "aud": "330000", "iat": now,
        "exp": now + FACE_ASSERTION_TTL_S, "match": True, "score": round(result.score, 4),
    }


def test_no_match_is_also_signed(service: FaceVerificationService) -> None:
    result = service.verify("310000", SUBJECT, OTHER_FACE)
    assert not result.match and result.score < DEFAULT_THRESHOLD
    claims = verify_compact(result.assertion, hub_resolver).payload()
    assert claims["match"] is False and claims["aud"] == "310000"


def test_assertion_is_not_verifiable_with_another_key(service: FaceVerificationService) -> None:
    result = service.verify("310000", SUBJECT, TEMPLATE)
    impostor = SigningKey.generate()
    with pytest.raises(Unauthenticated):
        verify_compact(result.assertion, lambda kid: impostor.jwk)


def test_threshold_is_inclusive(store: Store, clock: FixedClock) -> None:
    svc = make_service(store, clock)
    svc.enrol("310000", SUBJECT, "natural", TEMPLATE)
    score = svc.verify("310000", SUBJECT, NEAR_TEMPLATE).score
    svc.threshold = score
    assert svc.verify("310000", SUBJECT, NEAR_TEMPLATE).match
    svc.threshold = math.nextafter(score, 2.0)
    assert not svc.verify("310000", SUBJECT, NEAR_TEMPLATE).match


def test_unenrolled_subject_is_not_found(service: FaceVerificationService) -> None:
    with pytest.raises(NotFound, match="no face template"):
        service.verify("310000", "330106198505200427", TEMPLATE)


def test_dimension_mismatch_is_refused_without_using_quota(
    store: Store, clock: FixedClock
) -> None:
    svc = make_service(store, clock, **{"310000": QuotaPolicy(daily_limit=1)})
    svc.enrol("310000", SUBJECT, "natural", TEMPLATE)
    with pytest.raises(InvalidArgument, match="has 64 dimensions, enrolled has 128"):
        svc.verify("310000", SUBJECT, TEMPLATE[:64])
    assert svc.verify("310000", SUBJECT, TEMPLATE).match  # the one daily call is still there


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_infinite_template_is_refused(service: FaceVerificationService, bad: float) -> None:
    with pytest.raises(InvalidArgument, match="NaN or infinity"):
        service.verify("310000", SUBJECT, [*TEMPLATE[:-1], bad])


def test_region_without_quota_is_permission_denied(service: FaceVerificationService) -> None:
    with pytest.raises(PermissionDenied, match="region 320000 has no face verification quota"):
        service.verify("320000", SUBJECT, TEMPLATE)


def test_region_without_quota_learns_nothing_about_enrolment(
    service: FaceVerificationService,
) -> None:
    with pytest.raises(PermissionDenied):
        service.verify("320000", "330106198505200427", TEMPLATE)


# --- quotas and rate limits --------------------------------------------------------------------


def test_daily_quota_names_region_and_limit_and_resets_next_china_day(
    store: Store, clock: FixedClock
) -> None:
    svc = make_service(store, clock, home="330000", **{"330000": QuotaPolicy(daily_limit=2)})
    svc.enrol("330000", SUBJECT, "natural", TEMPLATE)
    svc.verify("330000", SUBJECT, TEMPLATE)
    svc.verify("330000", SUBJECT, TEMPLATE)
    with pytest.raises(ResourceExhausted) as info:
        svc.verify("330000", SUBJECT, TEMPLATE)
    message = info.value.message
    assert "region 330000" in message and "2 calls" in message and "2025-06-01" in message
    clock.advance(59)  # 23:59:59 China time: still the same day
    with pytest.raises(ResourceExhausted):
        svc.verify("330000", SUBJECT, TEMPLATE)
    clock.advance(1)  # midnight in China (16:00 UTC)
    assert china_day(clock.now()) == "2025-06-02"
    assert svc.verify("330000", SUBJECT, TEMPLATE).match


def test_quota_does_not_reset_at_utc_midnight(store: Store) -> None:
    # 07:59 China time is 23:59 UTC of the day before
    clock = FixedClock(
        datetime.datetime(2025, 6, 2, 7, 59, tzinfo=CHINA_STANDARD_TIME).timestamp()
    )
    svc = make_service(store, clock, **{"310000": QuotaPolicy(daily_limit=1)})
    svc.enrol("310000", SUBJECT, "natural", TEMPLATE)
    svc.verify("310000", SUBJECT, TEMPLATE)
    clock.advance(120)  # past UTC midnight, same China day
    with pytest.raises(ResourceExhausted, match="2025-06-02"):
        svc.verify("310000", SUBJECT, TEMPLATE)


def test_quotas_are_per_region(store: Store, clock: FixedClock) -> None:
    svc = make_service(
        store, clock, **{"310000": QuotaPolicy(daily_limit=1), "330000": QuotaPolicy(daily_limit=1)}
    )
    svc.enrol("310000", SUBJECT, "natural", TEMPLATE)
    svc.verify("310000", SUBJECT, TEMPLATE)
    with pytest.raises(ResourceExhausted, match="310000"):
        svc.verify("310000", SUBJECT, TEMPLATE)
    assert svc.verify("330000", SUBJECT, TEMPLATE).match


def test_rate_limit_is_a_token_bucket(store: Store, clock: FixedClock) -> None:
    svc = make_service(store, clock, **{"310000": QuotaPolicy(rate_per_s=2.0, burst=3)})
    svc.enrol("310000", SUBJECT, "natural", TEMPLATE)
    for _ in range(3):
        svc.verify("310000", SUBJECT, TEMPLATE)
    with pytest.raises(ResourceExhausted, match="rate limit of 2/s for region 310000"):
        svc.verify("310000", SUBJECT, TEMPLATE)
    clock.advance(0.5)  # refills one token
    svc.verify("310000", SUBJECT, TEMPLATE)
    with pytest.raises(ResourceExhausted, match="rate limit"):
        svc.verify("310000", SUBJECT, TEMPLATE)
    clock.advance(60)  # refills to the burst, not beyond
    for _ in range(3):
        svc.verify("310000", SUBJECT, TEMPLATE)
    with pytest.raises(ResourceExhausted, match="rate limit"):
        svc.verify("310000", SUBJECT, TEMPLATE)


def test_rate_limited_calls_do_not_spend_the_daily_quota(store: Store, clock: FixedClock) -> None:
    policy = QuotaPolicy(daily_limit=4, rate_per_s=1, burst=2)
    svc = make_service(store, clock, **{"310000": policy})
    svc.enrol("310000", SUBJECT, "natural", TEMPLATE)
    svc.verify("310000", SUBJECT, TEMPLATE)
    svc.verify("310000", SUBJECT, TEMPLATE)
    for _ in range(3):
        with pytest.raises(ResourceExhausted, match="rate limit"):
            svc.verify("310000", SUBJECT, TEMPLATE)
    clock.advance(1)
    svc.verify("310000", SUBJECT, TEMPLATE)
    clock.advance(1)
    svc.verify("310000", SUBJECT, TEMPLATE)  # the fourth call of the day
    clock.advance(1)
    with pytest.raises(ResourceExhausted, match="quota for region 310000 is spent"):
        svc.verify("310000", SUBJECT, TEMPLATE)


@settings(deadline=None)
@given(
    rate=st.floats(min_value=0.1, max_value=100),
    burst=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=5), max_size=40),
)
def test_token_bucket_never_admits_more_than_burst_plus_refill(
    rate: float, burst: int, gaps: list[float]
) -> None:
    start = 1000.0
    bucket = TokenBucket(rate, burst, start)
    now = start
    admitted = 0
    for gap in gaps:
        now += gap
        admitted += bucket.take(now)
    assert admitted <= burst + (now - start) * rate + 1e-9
    assert 0.0 <= bucket.tokens <= burst
