"""Data API v2 answers (VENUE-2026-12.md §1, PROTOCOL.md §3.2). Pure: no I/O.

Every list route answers `{"data": [...] | null, "pagination": {"has_more", "next_cursor"}}`
(`/v2/resolutions`: `{"data": [...]}` alone); fields are snake_case; amounts are JSON numbers
or strings. A page parses row by row: a bad row (even one too deep to decode with the page,
jsontext.loads_rows) becomes a `Malformed` in `Page.bad` and costs no good row; a bad
envelope raises `Malformed`. An error answer is `{error, code, retryable,
trace_id}` (`parse_error` never raises). Row models follow the SDK's
(`polymarket/models/data/activity.py`, `portfolio.py`, `resolutions.py`, 0.14.0).

Positions: `current_size` is what is held; `total_size` is everything ever bought (a trap).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from polycopy.errors import Malformed
from polycopy.wire import fields as f
from polycopy.wire.jsontext import each_row, excerpt, loads, loads_rows
from polycopy.wire.trade import Spelling, parse_trade

MAX_PAGE_BYTES = 16 * 1024 * 1024  # 1,000 rows of ~1 KB, with room
MAX_DEPTH = 12
MAX_ROWS = 5000
ZERO, ONE = Decimal(0), Decimal(1)
MAX_SHARES = Decimal(10) ** 12
TRADE = Spelling(wallet="proxy_wallet", token_id="token_id", condition_id="condition_id", side="side", price="price",
                 size="size", ts_s="timestamp", tx_hash="transaction_hash")


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple  # parsed rows, in the order listed
    bad: tuple  # Malformed, one per row that did not parse
    next_cursor: str | None  # None: this was the last page


@dataclass(frozen=True, slots=True)
class Position:
    token_id: str
    condition_id: str
    size: Decimal  # shares held now (`current_size`)
    cur_price: Decimal
    avg_price: Decimal
    slug: str = ""
    outcome: str = ""
    redeemable: bool = False  # the market has resolved


@dataclass(frozen=True, slots=True)
class Activity:
    type: str  # TRADE | SPLIT | MERGE | REDEEM | CONVERSION | ...
    condition_id: str
    size: Decimal  # shares (SPLIT/MERGE: of each outcome)
    timestamp: int  # unix s (block time)
    tx_hash: str = ""
    token_id: str = ""  # "" for SPLIT/MERGE/REDEEM (market-wide)
    side: str = ""
    price: Decimal = ZERO
    slug: str = ""
    usdc: Decimal = ZERO  # pUSD the row moved (`usdc_size`): a REDEEM's payout, a MERGE's proceeds


@dataclass(frozen=True, slots=True)
class Resolution:
    condition_id: str
    status: str  # initialized ... resolved
    payouts: tuple | None  # pUSD per share for outcomes 0 and 1, once known
    resolved_ts: int = 0  # unix s (`resolved_at`), 0 when not given


@dataclass(frozen=True, slots=True)
class ApiError:
    status: int
    error: str = ""
    code: str = ""
    retryable: bool | None = None  # the server's word on retrying; None: it did not say
    trace_id: str = ""


def parse_page(text, parse_row: Callable, *, paged: bool = True) -> Page:
    """The envelope and each row through `parse_row(row)`. Raises Malformed for the envelope."""
    body, rows = loads_rows(text, "data", max_bytes=MAX_PAGE_BYTES, max_depth=MAX_DEPTH)
    if not isinstance(body, dict) or "data" not in body:
        raise Malformed("envelope", "no data", excerpt(text))
    if body["data"] is None:
        rows = []  # a miss is data: null
    if rows is None or len(rows) > MAX_ROWS:
        raise Malformed("envelope", "data is not a list of rows", excerpt(text))
    cursor = None
    if paged:
        page = body.get("pagination")
        if not isinstance(page, dict) or not isinstance(page.get("has_more"), bool):
            raise Malformed("envelope", "no pagination", excerpt(text))
        cursor = page.get("next_cursor") if page["has_more"] else None
        if cursor is not None and (not isinstance(cursor, str) or not 0 < len(cursor) <= 4096):
            raise Malformed("envelope", "bad next_cursor", excerpt(text))
    items, bad = each_row(rows, parse_row)
    return Page(items=tuple(items), bad=tuple(bad), next_cursor=cursor)


def trade_row(now_s: float, past_s: float = f.PAST_S) -> Callable:
    """A `/v2/trades` row parser: timestamps in [now - past_s, now + 5 min]."""
    return lambda row: parse_trade(row, TRADE, now_s, past_s)


def parse_position(row) -> Position:
    """A `/v2/positions` row."""
    row = f.obj(row, "row")
    status = f.opt_text(row.get("status"), "status", 40)
    return Position(
        token_id=f.token_id(row.get("token_id")), condition_id=f.condition_id(row.get("condition_id")),
        size=f.decimal(row.get("current_size"), "current_size", ZERO, MAX_SHARES),
        cur_price=f.opt_decimal(row.get("current_price"), "current_price"),
        avg_price=f.opt_decimal(row.get("avg_price"), "avg_price"),
        slug=f.opt_text(row.get("slug"), "slug", 300), outcome=f.opt_text(row.get("outcome"), "outcome", 200),
        redeemable=f.boolean(row.get("redeemable"), "redeemable", False) or status in ("REDEEMABLE", "CLOSED"),
    )


def activity_row(now_s: float) -> Callable:
    """A `/v2/activity` row parser (history: any time since 2020, not after now + 5 min).

    SPLIT and MERGE rows may carry only `usdc_size` (the SDK's models read no `size` for them):
    a full set costs exactly 1 pUSD, so shares = pUSD there; REDEEM and CONVERSION likewise."""

    def parse(row) -> Activity:
        row = f.obj(row, "row")
        kind = f.text(row.get("type"), "type", 40).upper()
        raw_size = row.get("size")
        if kind == "TRADE" or raw_size not in (None, ""):
            size = f.decimal(raw_size, "size", ZERO, MAX_SHARES)
        else:
            size = f.decimal(row.get("usdc_size"), "usdc_size", ZERO, MAX_SHARES)
        token = row.get("token_id")
        return Activity(
            type=kind, condition_id=f.condition_id(row.get("condition_id")), size=size,
            timestamp=f.timestamp_s(row.get("timestamp"), "timestamp", now_s, now_s - f.EARLIEST_S),
            tx_hash=f.tx_hash(row["transaction_hash"]) if row.get("transaction_hash") else "",
            token_id=f.token_id(token) if token not in (None, "") else "",
            side=f.side(row["side"]) if row.get("side") else "",
            price=f.opt_decimal(row.get("price"), "price"), slug=f.opt_text(row.get("slug"), "slug", 300),
            usdc=f.decimal(row["usdc_size"], "usdc_size", ZERO, MAX_SHARES) if row.get("usdc_size") not in (None, "")
            else ZERO,
        )

    return parse


def parse_resolution(row) -> Resolution:
    """A `/v2/resolutions` row; `payouts` arrive in micro-pUSD per share (VENUE §1)."""
    row = f.obj(row, "row")
    raw = row.get("payouts")
    payouts = None
    if raw is not None:
        if not isinstance(raw, list) or len(raw) != 2:
            raise Malformed("payouts", "not a pair")
        payouts = tuple(f.decimal(x, "payouts", ZERO, Decimal(1_000_000)) / 1_000_000 for x in raw)
    at, now = row.get("resolved_at"), time.time()
    return Resolution(condition_id=f.condition_id(row.get("condition_id")),
                      status=f.text(row.get("status"), "status", 40), payouts=payouts,
                      resolved_ts=f.timestamp_s(at, "resolved_at", now, now - f.EARLIEST_S) if at not in (None, "", 0)
                      else 0)


def parse_error(status: int, text) -> ApiError:
    """An error answer's body, as far as it reads; never raises."""
    try:
        body = loads(text, max_bytes=64 * 1024, max_depth=4)
    except Malformed:
        return ApiError(status=status)
    if not isinstance(body, dict):
        return ApiError(status=status)

    def s(key: str) -> str:
        v = body.get(key)
        return v[:200] if isinstance(v, str) else ""

    retryable = body.get("retryable")
    return ApiError(status=status, error=s("error"), code=s("code"),
                    retryable=retryable if isinstance(retryable, bool) else None, trace_id=s("trace_id"))
