"""A reviewer's queue: validated case-list queries, bounded pages, opaque resumable page tokens."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from dataclasses import dataclass

from federation.cases.states import parse_state
from federation.crypto.jose import canonical_json
from federation.errors import InvalidArgument
from federation.storage.base import CaseRecord, Store

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_FILTER = 64
MAX_TOKEN = 512
TOKEN_VERSION = 1


def _filter(value: str, name: str) -> str | None:
    if not value:
        return None
    if len(value) > MAX_FILTER or not value.isprintable():
        raise InvalidArgument(f"{name} must be 1..{MAX_FILTER} printable characters")
    return value


@dataclass(frozen=True)
class CaseQuery:
    """Which of an owner region's cases to list, and how many per page."""

    owner_region: str
    state: str | None = None
    item_code: str | None = None
    window_region: str | None = None
    window_id: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE

    @classmethod
    def parse(
        cls,
        owner_region: str,
        *,
        state: str = "",
        item_code: str = "",
        window_id: str = "",
        page_size: int = 0,
        window_region: str | None = None,
    ) -> CaseQuery:
        """Validate request fields (empty: any; page size 0: the default)."""
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise InvalidArgument("page_size must be an integer")
        if page_size == 0:
            page_size = DEFAULT_PAGE_SIZE
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size must be 1..{MAX_PAGE_SIZE} (0: {DEFAULT_PAGE_SIZE})")
        return cls(
            owner_region=owner_region,
            state=parse_state(state).value if state else None,
            item_code=_filter(item_code, "item_code"),
            window_region=window_region,
            window_id=_filter(window_id, "window_id"),
            page_size=page_size,
        )

    def fingerprint(self) -> str:
        """Binds a page token to the filters it was made for (not to the page size)."""
        body = [self.owner_region, self.state, self.item_code, self.window_region, self.window_id]
        return hashlib.sha256(canonical_json(body)).hexdigest()[:16]


def encode_page_token(query: CaseQuery, last: CaseRecord) -> str:
    """The token resuming `query` after `last`, the last case of a page."""
    body = {"v": TOKEN_VERSION, "q": query.fingerprint(), "t": last.created_at, "c": last.case_id}
    return base64.urlsafe_b64encode(canonical_json(body)).decode().rstrip("=")


def decode_page_token(query: CaseQuery, token: str) -> tuple[float, str] | None:
    """The (created_at, case_id) cursor in `token`; None for the first page; InvalidArgument
    for anything not made by `encode_page_token` for the same filters."""
    if not token:
        return None
    bad = InvalidArgument("page_token is not a token from a previous page of this list")
    if len(token) > MAX_TOKEN or not token.isascii():
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(body, dict) or set(body) != {"v", "q", "t", "c"}:
        raise bad
    created, case_id = body["t"], body["c"]
    if (
        body["v"] != TOKEN_VERSION
        or isinstance(created, bool)
        or not isinstance(created, int | float)
        or not math.isfinite(created)
        or not isinstance(case_id, str)
        or not case_id
    ):
        raise bad
    if body["q"] != query.fingerprint():
        raise InvalidArgument(
            "page_token was made for other filters; list again from the first page"
        )
    return float(created), case_id


def list_cases(
    store: Store, query: CaseQuery, page_token: str = ""
) -> tuple[list[CaseRecord], str]:
    """One page of cases, newest first, and the token of the next page ("" when none)."""
    before = decode_page_token(query, page_token)
    # one more than a page tells whether another page follows without a second query
    found = store.page_cases(
        query.owner_region,
        state=query.state,
        item_code=query.item_code,
        window_region=query.window_region,
        window_id=query.window_id,
        before=before,
        limit=query.page_size + 1,
    )
    page = found[: query.page_size]
    more = len(found) > query.page_size
    return page, encode_page_token(query, page[-1]) if more else ""


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "CaseQuery",
    "decode_page_token",
    "encode_page_token",
    "list_cases",
]
