"""Tests for verifier-chosen nonces: challenges bound to a verifier, live, answered exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.errors import InvalidArgument, Unauthenticated
from federation.licences import (
    check_challenge,
    create_presentation,
    issue_challenge,
    verify_presentation,
)
from federation.regions import Region
from tests._support.licences import NOW, NonceLedger, World

AUD = Region.ZJ.entity_id
SECRET = b"s" * 32
CHOSEN = ["holder_name", "vehicle_class"]


@settings(max_examples=50, deadline=None)
@given(
    secret=st.binary(min_size=16, max_size=64),
    ttl=st.integers(min_value=1, max_value=600),
    elapsed=st.integers(min_value=0, max_value=1200),
)
def test_a_challenge_is_accepted_by_its_verifier_until_it_expires(
    secret: bytes, ttl: int, elapsed: int
) -> None:
    challenge = issue_challenge(secret, AUD, NOW, ttl)
    assert challenge.expires_at == int(NOW) + ttl and challenge.audience == AUD
    later = NOW + elapsed
    if later < challenge.expires_at:
        assert check_challenge(secret, AUD, challenge.nonce, later) == challenge
    else:
        with pytest.raises(Unauthenticated, match="expired"):
            check_challenge(secret, AUD, challenge.nonce, later)


@settings(max_examples=50, deadline=None)
@given(position=st.integers(min_value=0), char=st.sampled_from("A0_-.9z"))
def test_an_altered_challenge_is_refused(position: int, char: str) -> None:
    nonce = issue_challenge(SECRET, AUD, NOW).nonce
    position %= len(nonce)
    altered = nonce[:position] + char + nonce[position + 1 :]
    if altered == nonce:
        return
    with pytest.raises(Unauthenticated):
        check_challenge(SECRET, AUD, altered, NOW)


def test_another_verifiers_challenge_is_refused() -> None:
    nonce = issue_challenge(SECRET, Region.JS.entity_id, NOW).nonce
    with pytest.raises(Unauthenticated, match="not a challenge issued by this verifier"):
        check_challenge(SECRET, AUD, nonce, NOW)
    with pytest.raises(Unauthenticated, match="not a challenge issued by this verifier"):
        check_challenge(b"another node secret", Region.JS.entity_id, nonce, NOW)


@pytest.mark.parametrize("nonce", ["", "holder-chosen", "a.b.c", "a.99999999999999.c", "a.1"])
def test_a_holder_nonce_is_not_a_challenge(nonce: str) -> None:
    with pytest.raises(Unauthenticated):
        check_challenge(SECRET, AUD, nonce, NOW)


@pytest.mark.parametrize("ttl", [0, -1, 601])
def test_challenge_lifetime_is_bounded(ttl: int) -> None:
    with pytest.raises(InvalidArgument, match="lifetime"):
        issue_challenge(SECRET, AUD, NOW, ttl)


def test_a_presentation_must_answer_the_expected_nonce(
    world: World, sealed_driving: str, ledger: NonceLedger
) -> None:
    challenge = issue_challenge(SECRET, AUD, NOW)
    answering = create_presentation(
        sealed_driving, world.holder_key, CHOSEN, AUD, NOW, challenge.nonce
    )
    other = create_presentation(sealed_driving, world.holder_key, CHOSEN, AUD, NOW, "mine-123")
    with pytest.raises(Unauthenticated, match="does not answer this verifier's challenge"):
        verify_presentation(other, world.resolver, AUD, ledger, NOW, expected_nonce=challenge.nonce)
    assert ledger.calls == 0  # a refused presentation consumes nothing
    result = verify_presentation(
        answering, world.resolver, AUD, ledger, NOW, expected_nonce=challenge.nonce
    )
    assert result.nonce == challenge.nonce and set(result.disclosed) == set(CHOSEN)
    with pytest.raises(Unauthenticated, match="already used"):
        verify_presentation(
            answering, world.resolver, AUD, ledger, NOW, expected_nonce=challenge.nonce
        )


def test_holder_chosen_nonces_still_work_without_a_challenge(
    world: World, sealed_driving: str, ledger: NonceLedger
) -> None:
    text = create_presentation(sealed_driving, world.holder_key, CHOSEN, AUD, NOW, "mine-456")
    assert verify_presentation(text, world.resolver, AUD, ledger, NOW).nonce == "mine-456"
