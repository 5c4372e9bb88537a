"""After placement: events, settlement (MATCHED -> MINED -> CONFIRMED | FAILED),
cancels, and the heartbeat dead-man switch (CLOB-V2.md §4.6, §5)."""
from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from polycopy.sim.venue.wire import OrderRecord, dec, ws_order_event, ws_trade_event

if TYPE_CHECKING:
    from polycopy.sim.venue.state import Venue

NOT_FOUND = "order can't be found - already canceled or matched"
HEARTBEAT_MISMATCH = "Invalid Heartbeat ID"


@dataclass(slots=True)
class Heartbeat:
    expected_id: str
    deadline: float  # time.monotonic()


def _loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def publish_book_diff(v: Venue, token: str, before: dict[str, list]) -> None:
    """price_change for every level whose total size changed (size "0" = level gone)."""
    book, m = v.books[token], v.market_for_token(token)
    snapshot = v.book(token)
    best_bid, best_ask = book.best("BUY"), book.best("SELL")
    changes = []
    for side in ("BUY", "SELL"):
        old, new = dict(before[side]), dict(book.levels(side))
        for price in sorted(set(old) | set(new)):
            if old.get(price) != new.get(price):
                changes.append({
                    "asset_id": token, "price": dec(price),
                    "size": dec(new.get(price, Decimal(0))), "side": side,
                    "hash": snapshot["hash"],
                    "best_bid": dec(best_bid) if best_bid is not None else "0",
                    "best_ask": dec(best_ask) if best_ask is not None else "1"})
    if changes:
        v.publish_market(token, {"event_type": "price_change", "market": m.condition_id,
                                 "price_changes": changes, "timestamp": str(v.now_ms())})


def after_match(v: Venue, rec: OrderRecord, trades: list[dict], before: dict) -> None:
    now_s, cid = int(v.clock()), rec.market.condition_id
    v.publish_user(rec.key, cid, ws_order_event(rec, "PLACEMENT", now_s))
    publish_book_diff(v, rec.asset_id, before)
    for t in trades:
        v.last_trade[rec.asset_id] = (Decimal(t["price"]), rec.side)
        v.publish_market(rec.asset_id, {
            "event_type": "last_trade_price", "asset_id": rec.asset_id, "market": cid,
            "price": t["price"], "size": t["size"], "fee_rate_bps": t["fee_rate_bps"],
            "side": rec.side, "timestamp": str(v.now_ms()),
            "transaction_hash": t["transaction_hash"]})
        _notify_trade(v, t)
        loop = _loop()
        if loop is None:
            continue
        first, second = v.settle_delays_s
        if v.faults.settlement_fails:
            loop.call_later(first, _advance, v, t, "FAILED")
        else:
            loop.call_later(first, _advance, v, t, "MINED")
            loop.call_later(first + second, _advance, v, t, "CONFIRMED")


def _notify_trade(v: Venue, trade: dict) -> None:
    now_s = int(v.clock())
    keys = [trade["owner"]] + [m["owner"] for m in trade["maker_orders"] if m["owner"]]
    for key in dict.fromkeys(keys):
        v.publish_user(key, trade["market"], ws_trade_event(trade, key, now_s))


def _advance(v: Venue, trade: dict, status: str) -> None:
    if trade["status"] in ("CONFIRMED", "FAILED"):
        return
    trade["status"] = status
    trade["last_update"] = str(int(v.clock()))
    if status == "FAILED":  # the fill never settled: undo its balance moves
        for addr, asset, amount in v._trade_deltas.pop(trade["id"], []):
            v.move(addr, asset, -amount)
    _notify_trade(v, trade)


def cancel(v: Venue, key: str, order_ids: list[str]) -> dict:
    canceled: list[str] = []
    not_canceled: dict[str, str] = {}
    for oid in dict.fromkeys(order_ids):
        rec = v.orders.get(oid)
        if rec is None or rec.key != key or rec.status != "LIVE":
            not_canceled[oid] = NOT_FOUND
            continue
        book = v.books[rec.asset_id]
        before = {s: book.levels(s) for s in ("BUY", "SELL")}
        book.remove(oid)
        rec.status = "CANCELED"
        canceled.append(oid)
        v.publish_user(key, rec.market.condition_id,
                       ws_order_event(rec, "CANCELLATION", int(v.clock())))
        publish_book_diff(v, rec.asset_id, before)
    return {"canceled": canceled, "not_canceled": not_canceled}


def expire_at(v: Venue, rec: OrderRecord, unix_s: float) -> None:
    """Cancel a resting GTD order once the venue clock reaches `unix_s`."""
    loop = _loop()
    if loop is not None:
        loop.call_later(max(0.0, unix_s - v.clock()), cancel, v, rec.key, [rec.id])


def live_orders(v: Venue, key: str, market: str | None = None,
                asset_id: str | None = None) -> list[str]:
    return [o.id for o in v.orders.values()
            if o.key == key and o.status == "LIVE"
            and market in (None, o.market.condition_id) and asset_id in (None, o.asset_id)]


def heartbeat(v: Venue, key: str, heartbeat_id: object) -> tuple[int, dict]:
    """POST /v1/heartbeats: the first accepted beat arms the dead-man switch."""
    hb = v.heartbeats.get(key)
    if not isinstance(heartbeat_id, str):
        return 400, {"error": "Invalid payload"}
    if hb is not None and heartbeat_id != hb.expected_id:
        return 400, {"error_msg": HEARTBEAT_MISMATCH, "heartbeat_id": hb.expected_id}
    hb = Heartbeat(expected_id=str(uuid.uuid4()),
                   deadline=time.monotonic() + v.heartbeat_timeout_s)
    v.heartbeats[key] = hb
    loop = _loop()
    if loop is not None:
        loop.call_later(v.heartbeat_timeout_s, _expire, v, key, hb)
    return 200, {"heartbeat_id": hb.expected_id}


def _expire(v: Venue, key: str, hb: Heartbeat) -> None:
    if v.heartbeats.get(key) is not hb or time.monotonic() < hb.deadline:
        return  # a later beat re-armed it
    del v.heartbeats[key]
    cancel(v, key, live_orders(v, key))
