"""Settlement of our orders, from the user websocket's trade events (clients/user_stream.py),
written to the executor's journal (store/journal.py) by the executor, which owns it.

A trade goes MATCHED -> MINED (RETRYING) -> CONFIRMED | FAILED; events may arrive out of
order, so an order's settlement never steps back.
"""
from __future__ import annotations

from polycopy.store import journal
from polycopy.wire.clob_ws import UserTrade

RANK = {"": 0, "MATCHED": 1, "RETRYING": 2, "MINED": 3, "CONFIRMED": 4, "FAILED": 4}


def apply_trade(db, event: UserTrade, now: float) -> tuple[dict, str] | None:
    """Update our order from a trade event; (order row, new status) if it changed one of ours."""
    for oid in event.order_ids:
        row = journal.get_order(db, oid) if oid else None
        if row is None:
            continue
        trades = tuple(dict.fromkeys(row["trade_ids"] + (event.trade_id,)))
        fields = {"trade_ids": trades}
        if RANK.get(event.status, 0) >= RANK.get(row["settlement"], 0):
            fields["settlement"] = event.status
        if event.status == "MATCHED" and not row["matched_ts"]:
            fields["matched_ts"] = now
        journal.update_order(db, oid, **fields)
        return journal.get_order(db, oid), event.status
    return None


def unconfirmed(db, now: float, after_s: float) -> list[dict]:
    """Orders matched more than `after_s` ago whose trades are not CONFIRMED (or FAILED) yet."""
    return [r for r in journal.unsettled_orders(db) if r["matched_ts"] and now - r["matched_ts"] > after_s]
