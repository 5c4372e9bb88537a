"""JSON shapes the venue serves (samples in ../shared/polymarket/)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from polycopy.sim.model import SimMarket
from polycopy.sim.venue.book import Book
from polycopy.sim.venue.orders import SignedOrder


def dec(x: Decimal) -> str:
    """Decimal as the venue writes it: plain notation, no trailing zeros."""
    s = format(x.normalize(), "f")
    return "0" if s in ("-0", "") else s


@dataclass(slots=True)
class OrderRecord:
    """An order the venue accepted (any status)."""

    id: str
    key: str  # API key (owner)
    signed: SignedOrder
    market: SimMarket
    order_type: str
    price: Decimal
    original_size: Decimal
    created_at: int
    size_matched: Decimal = Decimal(0)
    status: str = "LIVE"  # LIVE | MATCHED | CANCELED
    associate_trades: list[str] = field(default_factory=list)

    @property
    def asset_id(self) -> str:
        return self.signed.token_id

    @property
    def side(self) -> str:
        return self.signed.side


def level_list(levels: list[tuple[Decimal, Decimal]]) -> list[dict]:
    return [{"price": dec(p), "size": dec(s)} for p, s in levels]


def book_json(market: SimMarket, book: Book, timestamp_ms: int,
              last_trade: Decimal | None) -> dict:
    """GET /book: bids ascending, asks descending, SHA-1 hash over the compact JSON."""
    out = {
        "market": market.condition_id,
        "asset_id": book.token_id,
        "timestamp": str(timestamp_ms),
        "hash": "",
        "bids": level_list(book.levels("BUY")),
        "asks": level_list(book.levels("SELL")),
        "min_order_size": dec(market.min_order_size),
        "tick_size": dec(market.tick_size),
        "neg_risk": market.neg_risk,
        "last_trade_price": dec(last_trade) if last_trade is not None else "",
    }
    compact = json.dumps(out, separators=(",", ":"))
    out["hash"] = hashlib.sha1(compact.encode()).hexdigest()
    return out


WS_BOOK_KEYS = ("asset_id", "market", "bids", "asks", "timestamp", "hash", "min_order_size",
                "tick_size", "neg_risk", "last_trade_price")


def ws_book_event(book: dict) -> dict:
    """Market-channel `book` event from a /book body (key order as on the wire)."""
    return {"event_type": "book", **{k: book[k] for k in WS_BOOK_KEYS}}


def clob_market_json(m: SimMarket) -> dict:
    """GET /clob-markets/{condition_id} (compact keys, CLOB-V2.md §1.4)."""
    return {
        "c": m.condition_id,
        "t": [{"t": t, "o": o} for t, o in zip(m.tokens, m.outcomes)],
        "mts": float(m.tick_size),
        "mos": float(m.min_order_size),
        "nr": m.neg_risk,
        "fd": {"r": float(m.fee_rate), "e": m.fee_exponent, "to": True},
        "mbf": 0,
        "tbf": int(m.fee_rate * 10000),
    }


def order_json(o: OrderRecord) -> dict:
    """GET /data/order/{id} and /data/orders items."""
    return {
        "id": o.id,
        "status": o.status,
        "owner": o.key,
        "maker_address": o.signed.maker,
        "market": o.market.condition_id,
        "asset_id": o.asset_id,
        "side": o.side,
        "original_size": dec(o.original_size),
        "size_matched": dec(o.size_matched),
        "price": dec(o.price),
        "outcome": o.market.outcome_of(o.asset_id),
        "expiration": str(o.signed.expiration),
        "order_type": o.order_type,
        "associate_trades": list(o.associate_trades),
        "created_at": o.created_at,
    }


def ws_order_event(o: OrderRecord, kind: str, now_s: int) -> dict:
    """User-channel `order` event (ws_user_order.json); kind PLACEMENT|UPDATE|CANCELLATION."""
    return {
        "event_type": "order",
        "id": o.id,
        "owner": o.key,
        "market": o.market.condition_id,
        "asset_id": o.asset_id,
        "side": o.side,
        "order_owner": o.key,
        "original_size": dec(o.original_size),
        "size_matched": dec(o.size_matched),
        "price": dec(o.price),
        "associate_trades": list(o.associate_trades) or None,
        "outcome": o.market.outcome_of(o.asset_id),
        "type": kind,
        "created_at": str(o.created_at),
        "expiration": str(o.signed.expiration),
        "order_type": o.order_type,
        "status": o.status,
        "maker_address": o.signed.maker,
        "timestamp": str(now_s),
    }


INTERNAL_KEYS = frozenset({"fee", "match_mono_ns"})  # in venue.trades, not on the wire


def trade_view(trade: dict, key: str) -> dict:
    """A canonical (taker-side) trade as seen by API key `key` (REST /data/trades)."""
    out = {k: v for k, v in trade.items() if k not in INTERNAL_KEYS}
    if trade["status"] == "MATCHED":  # the hash shows once mined: poll by id (VENUE §0.7)
        out["transaction_hash"] = ""
    if trade["owner"] != key:
        mine = next(m for m in trade["maker_orders"] if m["owner"] == key)
        out.update(owner=key, maker_address=mine["maker_address"], trader_side="MAKER")
    return out


def ws_trade_event(trade: dict, key: str, now_s: int) -> dict:
    """User-channel `trade` event (ws_user_trade.json) for recipient `key`."""
    view = trade_view(trade, key)
    return {
        "event_type": "trade",
        "type": "TRADE",
        "id": view["id"],
        "taker_order_id": view["taker_order_id"],
        "market": view["market"],
        "asset_id": view["asset_id"],
        "side": view["side"],
        "size": view["size"],
        "price": view["price"],
        "fee_rate_bps": view["fee_rate_bps"],
        "status": view["status"],
        "match_time": view["match_time"],
        "last_update": view["last_update"],
        "outcome": view["outcome"],
        "owner": key,
        "trade_owner": key,
        "maker_address": view["maker_address"],
        "transaction_hash": "" if view["status"] == "MATCHED" else view["transaction_hash"],
        "bucket_index": view["bucket_index"],
        "trader_side": view["trader_side"],
        "maker_orders": view["maker_orders"],
        "timestamp": str(now_s),
    }
