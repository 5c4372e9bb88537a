"""Gamma market objects (PROTOCOL.md §4.2, VENUE-2026-12.md §1). Pure: no I/O.

`/markets/keyset` answers `{"markets": [...], "next_cursor"?}`; `/markets/slug/{slug}` answers
one market object. A market's ids depend on its `version` (the SDK's
`models/gamma/market.py` `_normalize_market`): "v1" lists `clobTokenIds` (a JSON-encoded
string), "v2" lists `positionIds` (an array; `clobTokenIds` may be null) and has a 31-byte
condition id (padded to 32 bytes here, like every condition id we read).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from polycopy.errors import Malformed
from polycopy.wire import fields as f
from polycopy.wire.jsontext import each_row, excerpt, loads, loads_rows

MAX_BYTES = 32 * 1024 * 1024  # 100 markets with long descriptions
MAX_DEPTH = 16
MAX_MARKETS = 1000
VERSIONS = ("v1", "v2")


@dataclass(frozen=True, slots=True)
class GammaMarket:
    condition_id: str
    token_ids: tuple  # index-aligned with outcomes
    outcomes: tuple
    end_ts: int  # 0 when Gamma gives no end date
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool
    version: str  # v1 | v2
    slug: str
    accepting_orders: bool  # accepting orders and not closed
    title: str = ""  # the question


@dataclass(frozen=True, slots=True)
class KeysetPage:
    markets: tuple  # GammaMarket
    bad: tuple  # Malformed, one per market object that did not parse
    next_cursor: str | None


def _string_list(value, field: str) -> tuple:
    """Gamma string-encodes arrays ('["Up", "Down"]'); v2 `positionIds` is a real array."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = loads(value, max_bytes=16 * 1024, max_depth=2)
    if not isinstance(value, list) or len(value) > 64:
        raise Malformed(field, "not a list")
    return tuple(value)


def _iso_ts(value, field: str) -> int:
    if value in (None, ""):
        return 0
    if not isinstance(value, str) or len(value) > 40:
        raise Malformed(field, "not a date")
    try:
        ts = int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except (ValueError, OverflowError, OSError):
        raise Malformed(field, "not a date") from None
    if not 0 <= ts <= 4_102_444_800:  # up to 2100
        raise Malformed(field, "out of range")
    return ts


def parse_market(m) -> GammaMarket:
    """One Gamma market object. Raises Malformed naming the key at fault."""
    m = f.obj(m, "market")
    version = m.get("version") or "v1"
    if version not in VERSIONS:
        raise Malformed("version", f"unknown market version {str(version)[:10]}")
    key = "positionIds" if version == "v2" else "clobTokenIds"
    ids = tuple(f.token_id(t, key) for t in _string_list(m.get(key), key))
    if not ids:
        raise Malformed(key, "market has no token ids")
    outcomes = tuple(f.text(o, "outcomes", 100) for o in _string_list(m.get("outcomes"), "outcomes"))
    tick = m.get("orderPriceMinTickSize")
    size = m.get("orderMinSize")
    return GammaMarket(
        condition_id=f.condition_id(m.get("conditionId"), "conditionId"), token_ids=ids, outcomes=outcomes,
        end_ts=_iso_ts(m.get("endDate"), "endDate"),
        tick_size=f.decimal(tick, "orderPriceMinTickSize", Decimal("0.0001"), Decimal("0.1")) if tick else Decimal("0.01"),
        min_order_size=f.decimal(size, "orderMinSize", Decimal(0), Decimal(10**6)) if size else Decimal(5),
        neg_risk=f.boolean(m.get("negRisk"), "negRisk", False), version=version,
        slug=f.opt_text(m.get("slug"), "slug", 300), title=f.opt_text(m.get("question"), "question", 1000),
        accepting_orders=f.boolean(m.get("acceptingOrders"), "acceptingOrders", True)
        and not f.boolean(m.get("closed"), "closed", False),
    )


def parse_keyset(text) -> KeysetPage:
    """A `/markets/keyset` answer. Raises Malformed for the envelope; a bad market is counted."""
    body, rows = loads_rows(text, "markets", max_bytes=MAX_BYTES, max_depth=MAX_DEPTH)
    if rows is None or len(rows) > MAX_MARKETS:
        raise Malformed("envelope", "no markets list", excerpt(text))
    cursor = body.get("next_cursor")
    if cursor is not None and (not isinstance(cursor, str) or len(cursor) > 4096):
        raise Malformed("envelope", "bad next_cursor", excerpt(text))
    markets, bad = each_row(rows, parse_market)
    return KeysetPage(markets=tuple(markets), bad=tuple(bad), next_cursor=cursor or None)


def parse_single(text) -> GammaMarket:
    """A `/markets/slug/{slug}` (or `/markets/{id}`) answer: one market object."""
    return parse_market(loads(text, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH))
