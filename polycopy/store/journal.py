"""The executor's tables: approved intents and the order journal.

A signed order (its exact `order` JSON and its hash = the order ID) is written and committed
BEFORE it is posted, and an intent has at most one order (unique index): a restart can only
look the order up or re-post the same bytes, never sign a second one.

Order states: signed -> (posted) -> accepted | rejected | expired, with the non-final
`signed` (may or may not have left), `unknown` (sent, no clear answer) and `retry_wait`
(425/429/503: not placed; parked until the venue's window ends, at most until `park_until_ts`).
The order's plan is kept with it (price, size, notional, tick, and its amounts in the signed
JSON). Fills and settlement are columns updated from the venue.

Intent states: received -> ordered | parked (arrived inside a venue back-off window: waiting in
the executor's memory, not signed yet) -> an outcome (filled, partial, rejected, not_sent, ...).
"""
from __future__ import annotations

import json
import time
from decimal import Decimal

import sqlite_utils

from polycopy.store.db import durable

INTENTS = "exec_intents"
ORDERS = "exec_orders"
OPEN_STATES = ("signed", "unknown", "retry_wait")
FINAL_STATES = ("accepted", "rejected", "expired", "not_sent")


def ensure(db: sqlite_utils.Database) -> None:
    db[INTENTS].create({"intent_id": str, "token_id": str, "condition_id": str, "side": str, "size": str,
                        "source_price": str, "max_notional": str, "state": str, "reason": str, "order_id": str,
                        "created_ts": float, "updated_ts": float}, pk="intent_id", if_not_exists=True)
    db[ORDERS].create({"order_id": str, "intent_id": str, "token_id": str, "condition_id": str, "side": str,
                       "price": str, "size": str, "notional": str, "order_type": str, "order_json": str,
                       "mode": str, "state": str, "reason": str, "venue_status": str, "filled_size": str,
                       "filled_notional": str, "settlement": str, "trade_ids": str, "posts": int,
                       "signed_ts": float, "valid_until_ts": float, "retry_at_ts": float, "matched_ts": float,
                       "updated_ts": float, "tick_size": str, "park_until_ts": float}, pk="order_id",
                      if_not_exists=True)
    for column, kind in (("tick_size", str), ("park_until_ts", float)):  # a journal from before these columns
        if column not in db[ORDERS].columns_dict:
            db[ORDERS].add_column(column, kind)
    db[ORDERS].create_index(["intent_id"], unique=True, if_not_exists=True)
    db[ORDERS].create_index(["state"], if_not_exists=True)


def save_intent(db, *, intent_id: str, token_id: str, condition_id: str, side: str, size: Decimal,
                source_price: Decimal, max_notional: Decimal) -> bool:
    """Record an approved intent once; False if it was already known (a redelivery)."""
    return save_intents(db, [dict(intent_id=intent_id, token_id=token_id, condition_id=condition_id, side=side,
                                  size=size, source_price=source_price, max_notional=max_notional)])[0]


def save_intents(db, intents: list[dict]) -> list[bool]:
    """Record approved intents (save_intent's fields) in one commit; per intent, False if it was
    already known (a redelivery, or its twin earlier in the same list)."""
    now = time.time()
    new = []
    with db.conn:
        for i in intents:
            cur = db.conn.execute(
                f"INSERT OR IGNORE INTO {INTENTS} (intent_id, token_id, condition_id, side, size, source_price, "
                "max_notional, state, reason, order_id, created_ts, updated_ts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [i["intent_id"], i["token_id"], i["condition_id"], i["side"], str(i["size"]), str(i["source_price"]),
                 str(i["max_notional"]), "received", "", "", now, now])
            new.append(cur.rowcount == 1)
    return new


def set_intent(db, intent_id: str, state: str, reason: str = "", order_id: str = "") -> None:
    with db.conn:
        db.execute(f"UPDATE {INTENTS} SET state=?, reason=?, order_id=?, updated_ts=? WHERE intent_id=?",
                   [state, reason, order_id, time.time(), intent_id])


def load_intent(db, intent_id: str) -> dict | None:
    rows = list(db.query(f"SELECT * FROM {INTENTS} WHERE intent_id=?", [intent_id]))
    return rows[0] if rows else None


def intents_without_order(db) -> list[dict]:
    """Intents received or parked but neither ordered nor closed (the process stopped in between)."""
    return list(db.query(f"SELECT * FROM {INTENTS} WHERE state IN ('received', 'parked')"))


def journal_order(db, *, order_id: str, intent_id: str, token_id: str, condition_id: str, side: str,
                  price: Decimal, size: Decimal, notional: Decimal, order_type: str, order_json: str, mode: str,
                  valid_until_ts: float, park_until_ts: float, tick_size: Decimal, signed_ts: float,
                  posts: int = 0) -> dict:
    """Commit the signed order before it is posted and return its row. `posts=1` counts the first
    send in the same commit (see count_post). `signed_ts` is on the placer's clock, like the other
    deadlines of the row. Raises sqlite3.IntegrityError if the intent already has an order."""
    return journal_orders(db, [dict(order_id=order_id, intent_id=intent_id, token_id=token_id,
                                    condition_id=condition_id, side=side, price=price, size=size, notional=notional,
                                    order_type=order_type, order_json=order_json, mode=mode,
                                    valid_until_ts=valid_until_ts, park_until_ts=park_until_ts, tick_size=tick_size,
                                    signed_ts=signed_ts, posts=posts)])[0]


def journal_orders(db, orders: list[dict]) -> list[dict]:
    """Several signed orders (journal_order's fields) in one commit, all or none, before any of them
    is posted; their rows, in order. Raises sqlite3.IntegrityError if an intent already has an order."""
    now = time.time()
    rows = [{"order_id": o["order_id"], "intent_id": o["intent_id"], "token_id": o["token_id"],
             "condition_id": o["condition_id"], "side": o["side"], "price": str(o["price"]), "size": str(o["size"]),
             "notional": str(o["notional"]), "order_type": o["order_type"], "order_json": o["order_json"],
             "mode": o["mode"], "state": "signed", "reason": "", "venue_status": "", "filled_size": "0",
             "filled_notional": "0", "settlement": "", "trade_ids": "[]", "posts": o.get("posts", 0),
             "signed_ts": o["signed_ts"], "valid_until_ts": o["valid_until_ts"], "retry_at_ts": 0.0,
             "matched_ts": 0.0, "updated_ts": now, "tick_size": str(o["tick_size"]),
             "park_until_ts": o["park_until_ts"]} for o in orders]
    if not rows:
        return []
    with durable(db):  # a POST follows: durable whatever the connection's level (store/db.py)
        for row in rows:
            db.conn.execute(f"INSERT INTO {ORDERS} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                            list(row.values()))
            db.conn.execute(f"UPDATE {INTENTS} SET state='ordered', order_id=?, updated_ts=? WHERE intent_id=?",
                            [row["order_id"], now, row["intent_id"]])
    return [_row(row) for row in rows]


def update_order(db, order_id: str, **fields) -> None:
    """Set columns of one order (Decimals stored as text, lists as JSON) and commit."""
    fields = {k: (json.dumps(list(v)) if isinstance(v, (list, tuple)) else str(v) if isinstance(v, Decimal) else v)
              for k, v in fields.items()}
    fields["updated_ts"] = time.time()
    with db.conn:
        db[ORDERS].update(order_id, fields)


def count_post(db, order_id: str) -> None:
    """Counted just before each send, durably: a crash after it means "maybe sent"."""
    with durable(db):
        db.execute(f"UPDATE {ORDERS} SET posts = posts + 1, updated_ts=? WHERE order_id=?", [time.time(), order_id])


def get_order(db, order_id: str) -> dict | None:
    rows = list(db.query(f"SELECT * FROM {ORDERS} WHERE order_id=?", [order_id]))
    return _row(rows[0]) if rows else None


def order_for_intent(db, intent_id: str) -> dict | None:
    rows = list(db.query(f"SELECT * FROM {ORDERS} WHERE intent_id=?", [intent_id]))
    return _row(rows[0]) if rows else None


def open_orders(db) -> list[dict]:
    marks = ",".join("?" * len(OPEN_STATES))
    return [_row(r) for r in db.query(f"SELECT * FROM {ORDERS} WHERE state IN ({marks}) ORDER BY signed_ts",
                                      list(OPEN_STATES))]


def accepted_without_result(db) -> list[dict]:
    """Accepted by the venue but not matched on entry (delayed/unmatched/live), outcome still open."""
    return [_row(r) for r in db.query(
        f"SELECT o.* FROM {ORDERS} o JOIN {INTENTS} i ON i.intent_id = o.intent_id "
        "WHERE o.state='accepted' AND i.state='unknown'")]


def unsettled_orders(db) -> list[dict]:
    """Live orders with fills not yet CONFIRMED or FAILED (paper fills never settle on chain)."""
    return [_row(r) for r in db.query(
        f"SELECT * FROM {ORDERS} WHERE mode='live' AND state='accepted' AND settlement IN ('MATCHED','MINED','RETRYING')")]


def held_positions(db, mode: str) -> dict[str, Decimal]:
    """Shares per token bought minus sold by our accepted orders of one mode (paper portfolio rebuild)."""
    held: dict[str, Decimal] = {}
    for r in db.query(f"SELECT token_id, side, filled_size FROM {ORDERS} WHERE mode=? AND state='accepted' "
                      "AND COALESCE(settlement, '') != 'FAILED'", [mode]):
        qty = Decimal(r["filled_size"] or "0")
        held[r["token_id"]] = held.get(r["token_id"], Decimal(0)) + (qty if r["side"] == "BUY" else -qty)
    return {t: q for t, q in held.items() if q != 0}


def _row(r: dict) -> dict:
    r = dict(r)
    for k in ("price", "size", "notional", "filled_size", "filled_notional", "tick_size"):
        r[k] = Decimal(r[k] or "0")
    r["park_until_ts"] = r["park_until_ts"] or r["valid_until_ts"]  # rows from before parking
    r["trade_ids"] = tuple(json.loads(r["trade_ids"] or "[]"))
    return r
