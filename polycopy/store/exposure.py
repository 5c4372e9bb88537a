"""The exposure ledger, owned by Risk: one row per approved intent, written (and committed)
before the ApprovedIntent leaves, so a restart neither forgets spending nor resets a cap.

Money is stored as TEXT holding the Decimal, never as a float.
"""
from __future__ import annotations

import time
from decimal import Decimal

import sqlite_utils

from polycopy.policy.risk import SETTLED, Entry, ExposureBook

TABLE = "exposure"
KEEP_DAYS = 7  # settled rows of ended markets older than this are pruned at start


def ensure(db: sqlite_utils.Database) -> None:
    db[TABLE].create(
        {
            "intent_id": str, "token_id": str, "condition_id": str, "side": str, "opening": int,
            "end_ts": int, "window": int, "day": int, "reserved_usd": str, "filled_usd": str,
            "state": str, "updated_ts": float,
        },
        pk="intent_id",
        if_not_exists=True,
    )
    db[TABLE].create_index(["day"], if_not_exists=True)


def save_entry(db: sqlite_utils.Database, e: Entry) -> None:
    with db.conn:
        db[TABLE].upsert(
            {
                "intent_id": e.intent_id, "token_id": e.token_id, "condition_id": e.condition_id, "side": e.side,
                "opening": int(e.opening), "end_ts": e.end_ts, "window": e.window, "day": e.day,
                "reserved_usd": str(e.reserved_usd), "filled_usd": str(e.filled_usd), "state": e.state,
                "updated_ts": time.time(),
            },
            pk="intent_id",
        )


def _entry(row: dict) -> Entry:
    return Entry(
        row["intent_id"], row["token_id"], row["condition_id"], row["side"], bool(row["opening"]), row["end_ts"],
        row["window"], row["day"], Decimal(row["reserved_usd"]), Decimal(row["filled_usd"]), row["state"],
    )


def load_book(db: sqlite_utils.Database, today: int, now_s: float) -> ExposureBook:
    """Every row that still counts: today and yesterday, unsettled ones, and markets not yet ended."""
    ensure(db)
    prune(db, today, now_s)
    book = ExposureBook()
    rows = db[TABLE].rows_where("day >= ? or state != ? or end_ts > ?", [today - 1, SETTLED, now_s])
    for row in rows:
        book.add(_entry(row))
    return book


def prune(db: sqlite_utils.Database, today: int, now_s: float) -> int:
    with db.conn:
        cur = db.execute(
            f"delete from {TABLE} where state = ? and day < ? and end_ts <= ?", [SETTLED, today - KEEP_DAYS, now_s]
        )
    return cur.rowcount
