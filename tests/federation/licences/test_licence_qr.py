"""Tests for the QR transport encoding: lossless round trips and safe decoding."""

from __future__ import annotations

import contextlib
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.crypto.jose import b64url_encode
from federation.errors import InvalidArgument
from federation.licences import create_presentation, decode_qr, encode_qr, is_qr
from federation.licences.qr import QR_PREFIX
from federation.regions import Region
from tests._support.licences import NOW, World

segments = st.binary(max_size=80).map(b64url_encode)
parts = st.lists(segments, min_size=1, max_size=4).map(".".join)
sd_jwts = st.lists(parts, min_size=1, max_size=6).map("~".join)


@given(sd_jwts)
def test_round_trip_of_arbitrary_segment_layouts(text: str) -> None:
    assert decode_qr(encode_qr(text)) == text


def test_round_trip_of_licences_and_presentations(world: World, sealed_driving: str,
                                                   sealed_business: str) -> None:
    presentation = create_presentation(sealed_driving, world.holder_key, ["holder_name"],
                                       Region.SH.entity_id, NOW)
    for text in (sealed_driving, sealed_business, presentation):
        encoded = encode_qr(text)
        assert is_qr(encoded) and decode_qr(encoded) == text
        assert len(encoded) < len(text)


def test_non_canonical_base64url_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="canonical"):
        encode_qr("AB~")  # "AB" carries non-zero unused bits


@given(st.text(max_size=200))
def test_decoder_raises_only_invalid_argument(text: str) -> None:
    with contextlib.suppress(InvalidArgument):
        decode_qr(QR_PREFIX + text)


@given(st.binary(max_size=300))
def test_decoder_survives_arbitrary_deflated_bytes(data: bytes) -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = deflater.compress(data) + deflater.flush()
    with contextlib.suppress(InvalidArgument):
        decode_qr(QR_PREFIX + b64url_encode(packed))


def test_refuses_text_without_prefix_and_oversized_payloads() -> None:
    with pytest.raises(InvalidArgument, match="starts with"):
        decode_qr("eyJhbGciOi")
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflater.compress(bytes(200_000)) + deflater.flush()
    with pytest.raises(InvalidArgument, match="larger than allowed"):
        decode_qr(QR_PREFIX + b64url_encode(bomb))
