"""Tests for presentations (亮证): selective disclosure, key binding, refusals, QR length."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.crypto.jose import SigningKey, parse_compact, sign_compact
from federation.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from federation.licences import (
    create_presentation,
    encode_qr,
    judge_licence,
    verify_presentation,
)
from federation.licences.sdjwt import join_sd_jwt, sd_digest, split_sd_jwt
from federation.regions import Region
from tests._support.licences import DRIVING_FIELDS, NOW, NonceLedger, World

AUD = Region.ZJ.entity_id
CHOSEN = ["holder_name", "vehicle_class", "first_issue_date"]
CLAIMS = ["holder_name", "holder_code", "number", *DRIVING_FIELDS]
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _present(world: World, sealed: str, fields: list[str] = CHOSEN, now: float = NOW,
             nonce: str | None = None) -> str:
    return create_presentation(sealed, world.holder_key, fields, AUD, now, nonce)


def test_discloses_only_chosen_fields(world: World, sealed_driving: str,
                                      ledger: NonceLedger) -> None:
    presentation = _present(world, sealed_driving)
    result = verify_presentation(presentation, world.resolver, AUD, ledger, NOW + 5)
    assert dict(result.disclosed) == {
        "holder_name": "张三", "vehicle_class": "C1", "first_issue_date": "2010-03-01"
    }
    assert "address" not in result.disclosed and "holder_code" not in result.disclosed
    assert result.metadata.valid_until is not None
    assert result.identifier == world.driving_licence().identifier.format()
    assert result.audience == AUD and result.presented_at == int(NOW)
    assert result.holder_jwk == world.holder_key.jwk
    assert judge_licence(result.metadata, None, NOW).is_valid


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(CLAIMS), unique=True))
def test_any_subset_is_disclosed_exactly(world: World, sealed_driving: str,
                                         fields: list[str]) -> None:
    presentation = _present(world, sealed_driving, fields)
    result = verify_presentation(presentation, world.resolver, AUD, NonceLedger(), NOW)
    assert set(result.disclosed) == set(fields)


def test_qr_form_verifies_and_is_qr_sized(world: World, sealed_driving: str,
                                          ledger: NonceLedger) -> None:
    qr = encode_qr(_present(world, sealed_driving))
    assert qr.startswith("YRD1:")
    assert len(qr) < 1700, len(qr)
    result = verify_presentation(qr, world.resolver, AUD, ledger, NOW)
    assert set(result.disclosed) == set(CHOSEN)


def test_kb_jwt_shape(world: World, sealed_driving: str) -> None:
    presentation = _present(world, sealed_driving, nonce="n-0123456789")
    parts = split_sd_jwt(presentation)
    kb = parse_compact(parts.kb_jwt)  # type: ignore[arg-type]
    assert kb.header["typ"] == "kb+jwt"
    claims = kb.payload()
    assert claims == {"iat": int(NOW), "aud": AUD, "nonce": "n-0123456789",
                      "sd_hash": sd_digest(parts.presented)}


def test_expired_presentation_is_refused(world: World, sealed_driving: str,
                                         ledger: NonceLedger) -> None:
    presentation = _present(world, sealed_driving)
    with pytest.raises(Unauthenticated, match="presentation expired: made 301 s ago"):
        verify_presentation(presentation, world.resolver, AUD, ledger, NOW + 301)
    with pytest.raises(Unauthenticated, match="future"):
        verify_presentation(presentation, world.resolver, AUD, ledger, NOW - 120)
    assert ledger.calls == 0


def test_wrong_audience_is_refused_without_burning_the_nonce(
    world: World, sealed_driving: str, ledger: NonceLedger
) -> None:
    presentation = _present(world, sealed_driving)
    with pytest.raises(PermissionDenied, match="meant for 'yrd:zj:330000'"):
        verify_presentation(presentation, world.resolver, Region.AH.entity_id, ledger, NOW)
    assert ledger.calls == 0
    verify_presentation(presentation, world.resolver, AUD, ledger, NOW)


def test_replayed_nonce_is_refused(world: World, sealed_driving: str,
                                   ledger: NonceLedger) -> None:
    presentation = _present(world, sealed_driving)
    verify_presentation(presentation, world.resolver, AUD, ledger, NOW)
    with pytest.raises(Unauthenticated, match="already used here: replayed"):
        verify_presentation(presentation, world.resolver, AUD, ledger, NOW + 1)
    again = _present(world, sealed_driving)  # a fresh presentation has a fresh nonce
    verify_presentation(again, world.resolver, AUD, ledger, NOW + 1)


def test_missing_key_binding_is_refused(world: World, sealed_driving: str,
                                        ledger: NonceLedger) -> None:
    stripped = _present(world, sealed_driving).rsplit("~", 1)[0] + "~"
    with pytest.raises(Unauthenticated, match="no key-binding JWT"):
        verify_presentation(stripped, world.resolver, AUD, ledger, NOW)
    with pytest.raises(Unauthenticated, match="no key-binding JWT"):
        verify_presentation(sealed_driving, world.resolver, AUD, ledger, NOW)


def test_added_or_removed_disclosures_break_sd_hash(world: World, sealed_driving: str,
                                                    ledger: NonceLedger) -> None:
    full = split_sd_jwt(sealed_driving)
    parts = split_sd_jwt(_present(world, sealed_driving))
    added = join_sd_jwt(parts.issuer_jwt, (*parts.disclosures, full.disclosures[3]),
                        parts.kb_jwt or "")
    with pytest.raises(Unauthenticated, match="sd_hash does not match"):
        verify_presentation(added, world.resolver, AUD, ledger, NOW)
    removed = join_sd_jwt(parts.issuer_jwt, parts.disclosures[1:], parts.kb_jwt or "")
    with pytest.raises(Unauthenticated, match="sd_hash does not match"):
        verify_presentation(removed, world.resolver, AUD, ledger, NOW)
    assert ledger.calls == 0


def test_kb_signed_by_someone_else_is_refused(world: World, sealed_driving: str,
                                              ledger: NonceLedger) -> None:
    parts = split_sd_jwt(_present(world, sealed_driving))
    claims = parse_compact(parts.kb_jwt).payload()  # type: ignore[arg-type]
    thief = sign_compact(claims, SigningKey.generate(), typ="kb+jwt")
    with pytest.raises(Unauthenticated, match=r"key-binding JWT .* does not verify"):
        verify_presentation(parts.presented + thief, world.resolver, AUD, ledger, NOW)
    wrong_typ = sign_compact(claims, world.holder_key, typ="JWT")
    with pytest.raises(InvalidArgument, match=r"typ 'kb\+jwt'"):
        verify_presentation(parts.presented + wrong_typ, world.resolver, AUD, ledger, NOW)
    no_nonce = sign_compact({**claims, "nonce": ""}, world.holder_key, typ="kb+jwt")
    with pytest.raises(InvalidArgument, match="nonce"):
        verify_presentation(parts.presented + no_nonce, world.resolver, AUD, ledger, NOW)


def test_holder_side_refusals(world: World, sealed_driving: str) -> None:
    with pytest.raises(PermissionDenied, match="another holder key"):
        create_presentation(sealed_driving, SigningKey.generate(), CHOSEN, AUD, NOW)
    with pytest.raises(InvalidArgument, match=r"no disclosable claim.*colour"):
        _present(world, sealed_driving, ["holder_name", "colour"])
    unbound = world.seal(world.driving_licence(), bind=False)
    with pytest.raises(FailedPrecondition, match="not bound to a holder key"):
        _present(world, unbound)
    with pytest.raises(InvalidArgument, match="not from another presentation"):
        _present(world, _present(world, sealed_driving))
    with pytest.raises(InvalidArgument, match="audience"):
        create_presentation(sealed_driving, world.holder_key, CHOSEN, "", NOW)


def test_unbound_licence_cannot_be_verified_as_presentation(
    world: World, ledger: NonceLedger
) -> None:
    unbound = world.seal(world.driving_licence(), bind=False)
    kb = sign_compact({"iat": int(NOW), "aud": AUD, "nonce": "abc",
                       "sd_hash": sd_digest(unbound)}, world.holder_key, typ="kb+jwt")
    with pytest.raises(Unauthenticated, match="not bound to a holder key"):
        verify_presentation(unbound + kb, world.resolver, AUD, ledger, NOW)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_single_character_substitution_is_refused(
    world: World, sealed_driving: str, data: st.DataObject
) -> None:
    presentation = _present(world, sealed_driving)
    position = data.draw(st.integers(0, len(presentation) - 1))
    original = presentation[position]
    replacement = data.draw(st.sampled_from(B64URL + "~.").filter(lambda c: c != original))
    tampered = presentation[:position] + replacement + presentation[position + 1 :]
    with pytest.raises((InvalidArgument, Unauthenticated, PermissionDenied)):
        verify_presentation(tampered, world.resolver, AUD, NonceLedger(), NOW)
