"""Tamper-evident audit log: an append-only hash chain of decisions, granted or refused."""

from __future__ import annotations

import hashlib
import json.encoder
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from federation.crypto.jose import canonical_json, canonical_text

# what canonical_json (ensure_ascii=False) writes a string as: the very same function
_json_string = json.encoder.encode_basestring
# canonical_text's encoder refusing NaN and infinities, which strict (stored) JSON cannot hold
_STRICT_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)

GENESIS_HASH = "0" * 64
# What a caller is told when a decision could not be written to the log: it is then refused.
AUDIT_UNAVAILABLE = "the audit log cannot be written; nothing was granted"


@dataclass(frozen=True)
class AuditDraft:
    """What happened, before it is linked into the chain."""

    time: float
    actor: str
    action: str
    outcome: str
    subject: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """One linked entry: `hash` covers the entry's content and the previous entry's hash."""

    seq: int
    time: float
    actor: str
    action: str
    outcome: str
    subject: str
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "outcome": self.outcome,
            "subject": self.subject,
            "detail": dict(self.detail),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def entry_hash(
    seq: int,
    prev_hash: str,
    time: float,
    actor: str,
    action: str,
    outcome: str,
    subject: str,
    detail: Mapping[str, Any],
    detail_text: str | None = None,
) -> str:
    """`detail_text`, when given, is `canonical_detail(detail)` (a store has it already)."""
    return hashlib.sha256(
        entry_bytes(seq, prev_hash, time, actor, action, outcome, subject, detail, detail_text)
    ).hexdigest()


def canonical_detail(detail: Mapping[str, Any]) -> str:
    """The detail as the canonical JSON text an entry's hash covers, for a store to keep as
    well (one encoding for both). ValueError for NaN or an infinity, which strict JSON cannot
    hold; TypeError for a value JSON has no form for."""
    return _STRICT_CANONICAL.encode(dict(detail))


def entry_bytes(
    seq: int,
    prev_hash: str,
    time: float,
    actor: str,
    action: str,
    outcome: str,
    subject: str,
    detail: Mapping[str, Any],
    detail_text: str | None = None,
) -> bytes:
    """What an entry's hash covers: the canonical JSON of its body (`_body_bytes`).

    Every entry is hashed as it is written (an inline VerifyToken commit pays this), so the
    usual entry (an int seq, str fields) is written out directly, its members in the sorted
    order canonical_json gives them and each string by the encoder's own function: the same
    bytes without building and sorting the body (property-tested against `_body_bytes`).
    """
    if type(seq) is int and (
        type(prev_hash) is type(actor) is type(action) is type(outcome) is type(subject) is str
    ):
        s = _json_string
        text = canonical_text(dict(detail)) if detail_text is None else detail_text
        return (
            f'{{"action":{s(action)},"actor":{s(actor)},"detail":{text},'
            f'"outcome":{s(outcome)},"prev":{s(prev_hash)},"seq":{seq},'
            f'"subject":{s(subject)},"time":{s(repr(float(time)))}}}'
        ).encode()
    return _body_bytes(seq, prev_hash, time, actor, action, outcome, subject, detail)


def _body_bytes(
    seq: int,
    prev_hash: str,
    time: float,
    actor: str,
    action: str,
    outcome: str,
    subject: str,
    detail: Mapping[str, Any],
) -> bytes:
    """The definition of the hashed bytes (every entry ever written was hashed over these)."""
    body = {
        "seq": seq,
        "prev": prev_hash,
        "time": repr(float(time)),
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "subject": subject,
        "detail": dict(detail),
    }
    return canonical_json(body)


def link(draft: AuditDraft, seq: int, prev_hash: str) -> AuditRecord:
    """Seal a draft as entry number `seq` following an entry whose hash is `prev_hash`."""
    return sealed(draft, seq, prev_hash, draft_hash(draft, seq, prev_hash))


def draft_hash(draft: AuditDraft, seq: int, prev_hash: str, detail_text: str | None = None) -> str:
    """The hash a draft gets as entry `seq` after `prev_hash` (`detail_text` as in
    `entry_hash`)."""
    return entry_hash(
        seq,
        prev_hash,
        draft.time,
        draft.actor,
        draft.action,
        draft.outcome,
        draft.subject,
        draft.detail,
        detail_text,
    )


def sealed(draft: AuditDraft, seq: int, prev_hash: str, digest: str) -> AuditRecord:
    """The record of a draft written as entry `seq` after `prev_hash`, with its hash `digest`
    (computed by `link`, or by a store that encodes the detail once for row and hash)."""
    return AuditRecord(
        seq=seq,
        time=draft.time,
        actor=draft.actor,
        action=draft.action,
        outcome=draft.outcome,
        subject=draft.subject,
        detail=dict(draft.detail),
        prev_hash=prev_hash,
        hash=digest,
    )


@dataclass(frozen=True)
class ChainReport:
    """Result of checking a chain: how many entries were good and where it first broke."""

    entries: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""
    head_hash: str = GENESIS_HASH

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "ok": self.ok,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "head_hash": self.head_hash,
        }


def verify_chain(records: Iterable[AuditRecord]) -> ChainReport:
    """Walk the chain from the genesis and report the first entry that does not link."""
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for rec in records:
        if rec.seq != expected_seq:
            return ChainReport(count, False, rec.seq, f"expected seq {expected_seq}", prev)
        if rec.prev_hash != prev:
            return ChainReport(count, False, rec.seq, "prev_hash does not match", prev)
        recomputed = entry_hash(
            rec.seq,
            rec.prev_hash,
            rec.time,
            rec.actor,
            rec.action,
            rec.outcome,
            rec.subject,
            rec.detail,
        )
        if recomputed != rec.hash:
            return ChainReport(count, False, rec.seq, "content does not match its hash", prev)
        prev = rec.hash
        expected_seq += 1
        count += 1
    return ChainReport(count, True, None, "", prev)
