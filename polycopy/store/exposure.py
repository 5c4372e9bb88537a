"""The exposure ledger, owned by Risk: one row per approved intent, written (and committed)
before the ApprovedIntent leaves, so a restart neither forgets spending nor resets a cap.

Money is stored as TEXT holding the Decimal, never as a float.
"""
from __future__ import annotations

import json
import time
from decimal import Decimal

import sqlite_utils

from polycopy.policy.risk import SETTLED, Entry, ExposureBook

TABLE = "exposure"
DECISIONS = "decisions"  # every verdict, for reports and comparing runs (never read on the hot path)
KEEP_DAYS = 7  # settled rows of ended markets older than this are pruned at start
DECISIONS_KEEP_DAYS = 30  # verdicts older than this are pruned at start


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
    db[DECISIONS].create(
        {
            "id": int, "intent_id": str, "decision": str, "reason": str, "token_id": str, "condition_id": str,
            "side": str, "intent_size": str, "size": str, "notional_usd": str, "source_price": str,
            "source_size": str, "fill_keys": str, "source_ts_ms": int, "recv_to_risk_ms": float, "decided_ts": float,
        },
        pk="id",
        if_not_exists=True,
    )
    db[DECISIONS].create_index(["intent_id"], if_not_exists=True)


def save_decision(db: sqlite_utils.Database, intent, decision: str, reason: str, size: Decimal,
                  notional_usd: Decimal, recv_to_risk_ms: float) -> None:
    """One row per verdict on a CopyIntent (a redelivered intent gets a second row: `duplicate_intent`)."""
    save_decisions(db, [(intent, decision, reason, size, notional_usd, recv_to_risk_ms)])


def save_decisions(db: sqlite_utils.Database, verdicts: list[tuple]) -> None:
    """Several verdicts (intent, decision, reason, size, notional_usd, recv_to_risk_ms) in one commit."""
    now = time.time()
    rows = [[it.intent_id, decision, reason, it.token_id, it.condition_id, it.side, str(it.size), str(size),
             str(notional), str(it.source_price), str(it.source_size), json.dumps(list(it.fill_keys)),
             int(it.source_ts_ms), round(recv_ms, 3), now]
            for it, decision, reason, size, notional, recv_ms in verdicts]
    with db.conn:
        db.conn.executemany(
            f"INSERT INTO {DECISIONS} (intent_id, decision, reason, token_id, condition_id, side, intent_size, size, "
            "notional_usd, source_price, source_size, fill_keys, source_ts_ms, recv_to_risk_ms, decided_ts) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)


def save_dropped(db: sqlite_utils.Database, intent_id: str, reason: str, size: Decimal) -> None:
    """A burst piece the coalescer dropped (too small, netted to zero): no intent, no fill keys here."""
    with db.conn:
        db.execute(f"INSERT INTO {DECISIONS} (intent_id, decision, reason, size, notional_usd, fill_keys, "
                   "source_ts_ms, recv_to_risk_ms, decided_ts) VALUES (?,?,?,?,?,?,?,?,?)",
                   [intent_id, "dropped", reason, str(size), "0", "[]", 0, -1.0, time.time()])


def load_decisions(db: sqlite_utils.Database) -> list[dict]:
    ensure(db)
    return list(db.query(f"SELECT * FROM {DECISIONS} ORDER BY id"))


def save_entry(db: sqlite_utils.Database, e: Entry) -> None:
    """Insert or replace the whole row (plain SQL: sqlite-utils' upsert costs ~0.4 ms on the hot path)."""
    save_entries(db, [e])


def save_entries(db: sqlite_utils.Database, entries: list[Entry]) -> None:
    """Several rows in one commit (a burst's reservations: one commit, then one message)."""
    now = time.time()
    rows = [(e.intent_id, e.token_id, e.condition_id, e.side, int(e.opening), e.end_ts, e.window, e.day,
             str(e.reserved_usd), str(e.filled_usd), e.state, now) for e in entries]
    if not rows:
        return
    with db.conn:
        db.conn.executemany(f"INSERT OR REPLACE INTO {TABLE} (intent_id, token_id, condition_id, side, opening, end_ts, "
                            "window, day, reserved_usd, filled_usd, state, updated_ts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                            rows)


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
        db.execute(f"delete from {DECISIONS} where decided_ts < ?", [now_s - DECISIONS_KEEP_DAYS * 86_400])
    return cur.rowcount
