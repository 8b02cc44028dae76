"""Tests for status lists: bit layout, compression round trips, transitions and signatures."""

from __future__ import annotations

import random
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.crypto.jose import SigningKey, b64url_encode, parse_compact, sign_compact
from federation.errors import (
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unauthenticated,
)
from federation.licences import (
    LicenceStatus,
    StatusList,
    random_free_index,
    sign_status_list,
    verify_status_list,
)
from federation.licences.status import STATUS_LIST_TYP
from federation.regions import Region
from tests._support.licences import NOW, World

URI = "https://js.yrd.example/status/police/1"


def test_two_bit_layout_matches_the_token_status_list_example() -> None:
    statuses = StatusList(12)
    for index, value in enumerate([1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]):
        statuses.set(index, value)
    assert statuses.to_bytes() == bytes([0xC9, 0x44, 0xF9])


def test_one_bit_layout_matches_the_token_status_list_example() -> None:
    statuses = StatusList(16, bits=1)
    for index, value in enumerate([1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]):
        statuses.set(index, value)
    assert statuses.to_bytes() == bytes([0xB9, 0xA3])


@given(st.binary(min_size=1, max_size=2048), st.sampled_from([1, 2, 4, 8]))
def test_encode_decode_round_trip(data: bytes, bits: int) -> None:
    statuses = StatusList.from_bytes(data, bits)
    claim = statuses.encode()
    assert claim["bits"] == bits
    decoded = StatusList.decode(claim)
    assert decoded == statuses
    assert decoded.to_bytes() == data
    assert decoded.size == len(data) * 8 // bits


@given(st.lists(st.tuples(st.integers(0, 99), st.sampled_from(list(LicenceStatus)))))
def test_set_get_agrees_with_a_plain_list(ops: list[tuple[int, LicenceStatus]]) -> None:
    statuses, model = StatusList(100), [LicenceStatus.VALID] * 100
    for index, status in ops:
        statuses.set(index, status)
        model[index] = status
    assert [statuses.get(i) for i in range(100)] == model
    assert StatusList.decode(statuses.encode()) == statuses


def test_size_rounds_up_to_whole_bytes_and_bounds_are_checked() -> None:
    statuses = StatusList(10)
    assert statuses.size == 12
    for bad in (-1, 12, True):
        with pytest.raises(InvalidArgument, match="outside the list"):
            statuses.get(bad)
    with pytest.raises(InvalidArgument, match="does not fit"):
        statuses.set(0, 4)
    with pytest.raises(InvalidArgument, match="does not fit"):
        StatusList(8, bits=1).set(0, LicenceStatus.SUSPENDED)
    with pytest.raises(InvalidArgument, match="bits"):
        StatusList(8, bits=3)
    with pytest.raises(InvalidArgument, match="size"):
        StatusList(0)
    statuses.set(3, 3)
    with pytest.raises(InvalidArgument, match="undefined"):
        statuses.get(3)


def test_transitions() -> None:
    statuses = StatusList(8)
    assert statuses.transition(1, LicenceStatus.SUSPENDED) is LicenceStatus.VALID
    assert statuses.transition(1, LicenceStatus.VALID) is LicenceStatus.SUSPENDED
    statuses.transition(1, LicenceStatus.SUSPENDED)
    assert statuses.transition(1, LicenceStatus.REVOKED) is LicenceStatus.SUSPENDED
    statuses.transition(1, LicenceStatus.REVOKED)  # idempotent
    for target in (LicenceStatus.VALID, LicenceStatus.SUSPENDED):
        with pytest.raises(FailedPrecondition, match="is revoked"):
            statuses.transition(1, target)


def test_decode_refuses_garbage_and_bombs() -> None:
    with pytest.raises(InvalidArgument, match="zlib"):
        StatusList.decode({"bits": 2, "lst": b64url_encode(b"not zlib")})
    with pytest.raises(InvalidArgument, match="needs integer"):
        StatusList.decode({"bits": "2", "lst": ""})
    bomb = b64url_encode(zlib.compress(bytes(5 * 1024 * 1024)))
    with pytest.raises(InvalidArgument, match="inflates beyond"):
        StatusList.decode({"bits": 2, "lst": bomb})
    truncated = b64url_encode(zlib.compress(bytes(100))[:-3])
    with pytest.raises(InvalidArgument, match="truncated"):
        StatusList.decode({"bits": 2, "lst": truncated})


def test_random_free_index() -> None:
    rng = random.Random(7)
    taken = set(range(0, 64, 2))
    for _ in range(20):
        index = random_free_index(64, taken.__contains__, rng)
        assert index not in taken
    almost = set(range(64)) - {41}
    assert random_free_index(64, almost.__contains__, rng) == 41
    with pytest.raises(ResourceExhausted, match="full"):
        random_free_index(64, lambda i: True, rng)


def _signed(world: World, statuses: StatusList, now: float = NOW, **kw: object) -> str:
    return sign_status_list(statuses, world.region_keys[Region.JS], Region.JS, URI, now, **kw)  # type: ignore[arg-type]


def test_sign_and_verify(world: World) -> None:
    statuses = StatusList(1024)
    statuses.set(5, LicenceStatus.REVOKED)
    token = _signed(world, statuses, ttl=120, lifetime=3600)
    header = parse_compact(token).header
    assert header["typ"] == STATUS_LIST_TYP
    verified = verify_status_list(token, world.resolver, NOW + 10, URI, Region.JS)
    assert verified.statuses == statuses
    assert verified.status_of(5) is LicenceStatus.REVOKED
    assert verified.region is Region.JS and verified.uri == URI
    assert verified.cache_until(NOW + 10) == NOW + 130
    assert verified.cache_until(NOW + 3590) == NOW + 3600


def test_verify_refusals(world: World) -> None:
    token = _signed(world, StatusList(64), ttl=60, lifetime=600)
    with pytest.raises(Unauthenticated, match="licence points to"):
        verify_status_list(token, world.resolver, NOW, "https://other/1")
    with pytest.raises(Unauthenticated, match="issued in"):
        verify_status_list(token, world.resolver, NOW, URI, Region.ZJ)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_status_list(token, world.resolver, NOW + 3600)
    with pytest.raises(Unauthenticated, match="future"):
        verify_status_list(token, world.resolver, NOW - 3600)
    rogue = sign_status_list(StatusList(64), SigningKey.generate(), Region.JS, URI, NOW)
    with pytest.raises(Unauthenticated, match="not in the trust list"):
        verify_status_list(rogue, world.resolver, NOW)
    payload = parse_compact(token).payload()
    wrong_typ = sign_compact(payload, world.region_keys[Region.JS], typ="JWT")
    with pytest.raises(Unauthenticated, match="not a status list"):
        verify_status_list(wrong_typ, world.resolver, NOW)
    stranger = sign_compact({**payload, "iss": "yrd:xx:990000"}, world.region_keys[Region.JS],
                            typ=STATUS_LIST_TYP)
    with pytest.raises(Unauthenticated, match="not a federation region"):
        verify_status_list(stranger, world.resolver, NOW)
    head, body, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(Unauthenticated, match="does not verify"):
        verify_status_list(f"{head}.{body}.{flipped}", world.resolver, NOW)
    with pytest.raises(InvalidArgument, match="ttl"):
        _signed(world, StatusList(8), ttl=0)


def test_another_region_cannot_sign_a_list_for_jiangsu(world: World) -> None:
    token = sign_status_list(StatusList(64), world.region_keys[Region.ZJ], Region.ZJ, URI, NOW)
    assert verify_status_list(token, world.resolver, NOW).region is Region.ZJ
    with pytest.raises(Unauthenticated, match="signed by ZJ"):
        verify_status_list(token, world.resolver, NOW, URI, Region.JS)
