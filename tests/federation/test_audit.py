"""Tests for the hash-chained audit log: linking and finding the first tampered entry."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.audit import (
    GENESIS_HASH,
    AuditDraft,
    AuditRecord,
    ChainReport,
    canonical_detail,
    entry_hash,
    link,
    verify_chain,
)

detail_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=10),
    st.lists(st.text(max_size=5), max_size=3),
)
drafts = st.builds(
    AuditDraft,
    time=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    actor=st.sampled_from(["yrd:sh:310000", "yrd:zj:330000", "yrd:hub:100000"]),
    action=st.sampled_from(["exchange.read", "identity.login", "licence.verify"]),
    outcome=st.sampled_from(["granted", "refused"]),
    subject=st.text(max_size=20),
    detail=st.dictionaries(st.text(max_size=8), detail_values, max_size=4),
)


def build_chain(items: list[AuditDraft]) -> list[AuditRecord]:
    chain: list[AuditRecord] = []
    prev = GENESIS_HASH
    for seq, draft in enumerate(items, start=1):
        record = link(draft, seq, prev)
        chain.append(record)
        prev = record.hash
    return chain


def test_empty_chain_is_ok_at_the_genesis() -> None:
    assert verify_chain([]) == ChainReport(0, True, None, "", GENESIS_HASH)


def test_link_fields_and_hash_construction() -> None:
    draft = AuditDraft(12.5, "yrd:sh:310000", "exchange.read", "granted", "s1", {"item": "x"})
    record = link(draft, 1, GENESIS_HASH)
    assert (record.seq, record.prev_hash, record.subject) == (1, GENESIS_HASH, "s1")
    body = {
        "seq": 1, "prev": GENESIS_HASH, "time": "12.5", "actor": "yrd:sh:310000",
        "action": "exchange.read", "outcome": "granted", "subject": "s1", "detail": {"item": "x"},
    }
    expected = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert record.hash == expected
    assert record.to_dict()["hash"] == expected
    assert entry_hash(1, GENESIS_HASH, 12.5, "yrd:sh:310000", "exchange.read", "granted",
                      "s1", {"item": "x"}) == expected


def test_link_copies_the_detail() -> None:
    detail = {"k": "v"}
    record = link(AuditDraft(1.0, "a", "b", "c", detail=detail), 1, GENESIS_HASH)
    detail["k"] = "changed"
    assert record.detail == {"k": "v"}
    assert verify_chain([record]).ok


@settings(deadline=None)
@given(st.lists(drafts, max_size=12))
def test_chains_link_and_verify(items: list[AuditDraft]) -> None:
    chain = build_chain(items)
    for earlier, later in itertools.pairwise(chain):
        assert later.prev_hash == earlier.hash
    report = verify_chain(chain)
    assert report.ok and report.first_bad_seq is None
    assert report.entries == len(chain)
    assert report.head_hash == (chain[-1].hash if chain else GENESIS_HASH)
    assert len({r.hash for r in chain}) == len(chain)


def _changed(record: AuditRecord, field: str) -> AuditRecord:
    current = getattr(record, field)
    if field == "time":
        new: object = current + 1.0
    elif field == "detail":
        new = {**current, "tampered": True}
    elif field in ("prev_hash", "hash"):
        new = ("f" if current[0] != "f" else "e") + current[1:]
    else:
        new = current + "x"
    return dataclasses.replace(record, **{field: new})


@settings(deadline=None)
@given(
    items=st.lists(drafts, min_size=1, max_size=10),
    data=st.data(),
    field=st.sampled_from(
        ["time", "actor", "action", "outcome", "subject", "detail", "prev_hash", "hash"]
    ),
)
def test_a_changed_field_is_found_at_its_entry(
    items: list[AuditDraft], data: st.DataObject, field: str
) -> None:
    chain = build_chain(items)
    index = data.draw(st.integers(min_value=0, max_value=len(chain) - 1))
    chain[index] = _changed(chain[index], field)
    report = verify_chain(chain)
    assert not report.ok
    assert report.first_bad_seq == index + 1
    assert report.entries == index
    assert report.head_hash == (chain[index - 1].hash if index else GENESIS_HASH)


@settings(deadline=None)
@given(items=st.lists(drafts, min_size=1, max_size=10), data=st.data())
def test_a_rehashed_entry_breaks_the_link_to_the_next_one(
    items: list[AuditDraft], data: st.DataObject
) -> None:
    chain = build_chain(items)
    index = data.draw(st.integers(min_value=0, max_value=len(chain) - 1))
    # the forger recomputes the entry's own hash after changing it
    forged = link(dataclasses.replace(items[index], outcome="forged"), index + 1,
                  chain[index].prev_hash)
    chain[index] = forged
    report = verify_chain(chain)
    if index == len(chain) - 1:
        # the tip can be rewritten; only the head hash tells (compare it with a stored head)
        assert report.ok and report.head_hash == forged.hash
        assert report.head_hash != build_chain(items)[-1].hash
    else:
        assert not report.ok
        assert report.first_bad_seq == index + 2
        assert report.reason == "prev_hash does not match"


@settings(deadline=None)
@given(items=st.lists(drafts, min_size=2, max_size=10), data=st.data())
def test_a_removed_entry_is_found(items: list[AuditDraft], data: st.DataObject) -> None:
    chain = build_chain(items)
    index = data.draw(st.integers(min_value=0, max_value=len(chain) - 1))
    original_head = chain[-1].hash
    del chain[index]
    report = verify_chain(chain)
    if index == len(items) - 1:
        # truncating the tail keeps a valid prefix; the head hash no longer matches
        assert report.ok and report.entries == len(items) - 1
        assert report.head_hash != original_head
    else:
        assert not report.ok
        assert report.first_bad_seq == index + 2
        assert report.entries == index
        assert report.reason == f"expected seq {index + 1}"


@settings(deadline=None)
@given(items=st.lists(drafts, min_size=2, max_size=10), data=st.data())
def test_reordered_entries_are_found(items: list[AuditDraft], data: st.DataObject) -> None:
    chain = build_chain(items)
    i = data.draw(st.integers(min_value=0, max_value=len(chain) - 2))
    j = data.draw(st.integers(min_value=i + 1, max_value=len(chain) - 1))
    chain[i], chain[j] = chain[j], chain[i]
    report = verify_chain(chain)
    assert not report.ok
    assert report.entries == i
    assert report.first_bad_seq == j + 1  # the record found where seq i+1 belonged


def test_renumbered_entries_after_a_removal_are_found() -> None:
    items = [AuditDraft(float(t), "a", "act", "granted") for t in range(4)]
    chain = build_chain(items)
    del chain[1]
    renumbered = [dataclasses.replace(r, seq=n) for n, r in enumerate(chain, start=1)]
    report = verify_chain(renumbered)
    assert not report.ok
    assert report.first_bad_seq == 2
    assert report.reason == "prev_hash does not match"


def test_chain_report_to_dict() -> None:
    report = ChainReport(3, False, 4, "content does not match its hash", "ab" * 32)
    assert report.to_dict() == {
        "entries": 3, "ok": False, "first_bad_seq": 4,
        "reason": "content does not match its hash", "head_hash": "ab" * 32,
    }


@pytest.mark.parametrize("time", [1, 1.0])
def test_int_and_float_times_hash_alike(time: float) -> None:
    record = link(AuditDraft(time, "a", "b", "c"), 1, GENESIS_HASH)
    assert record.hash == link(AuditDraft(1.0, "a", "b", "c"), 1, GENESIS_HASH).hash


any_text = st.text(max_size=12)  # any code point, surrogates and quotes included
nested = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)


def _hash_of_body(*fields: object) -> str:
    """The hash as first defined: canonical JSON of the body dict (what old entries carry)."""
    seq, prev, time, actor, action, outcome, subject, detail = fields
    body = {
        "seq": seq, "prev": prev, "time": repr(float(time)),  # type: ignore[arg-type]
        "actor": actor, "action": action, "outcome": outcome, "subject": subject,
        "detail": dict(detail),  # type: ignore[call-overload]
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@settings(deadline=None, max_examples=300)
@given(
    seq=st.integers(min_value=0, max_value=2**63),
    prev=any_text,
    time=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**40), 2**40),
    actor=any_text,
    action=any_text,
    outcome=any_text,
    subject=any_text,
    detail=st.dictionaries(any_text, nested, max_size=4),
)
def test_entry_hash_is_the_hash_of_the_canonical_body(
    seq: int, prev: str, time: float, actor: str, action: str, outcome: str, subject: str,
    detail: dict[str, object],
) -> None:
    fields = (seq, prev, time, actor, action, outcome, subject, detail)
    try:
        expected = _hash_of_body(*fields)
    except ValueError as exc:  # a lone surrogate cannot be UTF-8: refused either way
        with pytest.raises(type(exc)):
            entry_hash(*fields)
        return
    assert entry_hash(*fields) == expected
    try:  # the detail a store encodes once, for its row and for the hash
        text = canonical_detail(detail)
    except ValueError:  # NaN or an infinity: strict JSON cannot hold it, so stores refuse it
        assert any(isinstance(v, float) for v in _leaves(detail))
        return
    assert json.loads(text) == json.loads(json.dumps(detail))
    assert entry_hash(*fields, text) == expected


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


class _Text(str):
    """A str subclass: hashed through the generic path, to the same bytes."""


def test_entry_hash_of_str_subclasses_and_int_subclass_seq_matches_the_body() -> None:
    fields = (True, _Text("p"), 1.5, _Text("a"), "b", "c", "d", {"k": ["v", 1]})
    assert entry_hash(*fields) == _hash_of_body(*fields)  # type: ignore[arg-type]
    fields = (7, "p", 1.5, _Text("ä\"\\"), "b", "c", "d", {})
    assert entry_hash(*fields) == _hash_of_body(*fields)  # type: ignore[arg-type]
