"""The redeemer's table: one row per redemption, merge or lost close-out, keyed by
(kind, condition, amount), so the same position is never redeemed twice, across restarts too.

A row is written and committed (the redeemer's connection is FULL, store/db.py) before the
submit it describes, with what a restart needs to tell "sent" from "never sent": the nonce read
just before it, and the shares and pUSD held then.

States: waiting (seen, its delay running) -> submitting (committed; the submit may or may not
have left) -> submitted (the venue answered: tx id / hash) -> done | failed (retry later) |
given_up (left to the operator, alerted). `lost` rows go straight to done: nothing to submit.
"""
from __future__ import annotations

import json
import time
from decimal import Decimal

import sqlite_utils

TABLE = "redemptions"
ACTIVE = ("waiting", "submitting", "submitted", "failed")
TERMINAL = ("done", "given_up")
UNIT = Decimal(1_000_000)


def ensure(db: sqlite_utils.Database) -> None:
    db[TABLE].create({
        "key": str, "kind": str, "condition_id": str, "amount_units": int, "expected_usd": str, "state": str,
        "attempts": int, "nonce": int, "tx_id": str, "tx_hash": str, "pusd_before": str, "shares_before": str,
        "pusd_after": str, "credited_usd": str, "payouts": str, "detail": str, "slug": str, "seen_ts": float,
        "resolved_ts": float,
        "submitted_ts": float, "retry_at_ts": float, "done_ts": float, "updated_ts": float,
    }, pk="key", if_not_exists=True)
    db[TABLE].create_index(["condition_id"], if_not_exists=True)
    db[TABLE].create_index(["state"], if_not_exists=True)


def key_of(kind: str, condition_id: str, amount_units: int) -> str:
    return f"{kind}:{condition_id}:{amount_units}"


def units(shares: Decimal) -> int:
    return int(shares * UNIT)


def add(db, *, kind: str, condition_id: str, amount_units: int, expected_usd: Decimal, state: str = "waiting",
        slug: str = "", resolved_ts: float = 0.0, detail: str = "", payouts: dict | None = None,
        now: float | None = None) -> dict | None:
    """A new row, unless this (kind, condition, amount) is known already: then None."""
    now = time.time() if now is None else now
    row = {"key": key_of(kind, condition_id, amount_units), "kind": kind, "condition_id": condition_id,
           "amount_units": amount_units, "expected_usd": str(expected_usd), "state": state, "attempts": 0,
           "nonce": -1, "tx_id": "", "tx_hash": "", "pusd_before": "", "shares_before": "[]", "pusd_after": "",
           "credited_usd": "0", "payouts": json.dumps({t: str(p) for t, p in (payouts or {}).items()}),
           "detail": detail, "slug": slug, "seen_ts": now, "resolved_ts": resolved_ts,
           "submitted_ts": 0.0, "retry_at_ts": 0.0, "done_ts": now if state == "done" else 0.0, "updated_ts": now}
    with db.conn:
        cur = db.execute(f"INSERT OR IGNORE INTO {TABLE} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))
    return row if cur.rowcount == 1 else None


def payouts_of(row: dict) -> dict:
    return {t: Decimal(p) for t, p in json.loads(row.get("payouts") or "{}").items()}


def shares_of(row: dict) -> dict:
    """`shares_before` as token -> shares."""
    return {t: Decimal(s) for t, _, s in (x.partition("=") for x in json.loads(row["shares_before"] or "[]"))}


def update(db, key: str, **fields) -> dict:
    if isinstance(fields.get("shares_before"), dict):
        fields["shares_before"] = json.dumps([f"{t}={s}" for t, s in fields["shares_before"].items()])
    fields = {k: str(v) if isinstance(v, Decimal) else v for k, v in fields.items()}
    fields["updated_ts"] = time.time()
    with db.conn:
        db[TABLE].update(key, fields)
    return get(db, key)


def get(db, key: str) -> dict | None:
    rows = list(db.query(f"SELECT * FROM {TABLE} WHERE key=?", [key]))
    return rows[0] if rows else None


def for_condition(db, condition_id: str) -> list[dict]:
    return list(db.query(f"SELECT * FROM {TABLE} WHERE condition_id=? ORDER BY seen_ts", [condition_id]))


def active(db) -> list[dict]:
    marks = ",".join("?" * len(ACTIVE))
    return list(db.query(f"SELECT * FROM {TABLE} WHERE state IN ({marks}) ORDER BY seen_ts", list(ACTIVE)))


def all_rows(db) -> list[dict]:
    ensure(db)
    return list(db.query(f"SELECT * FROM {TABLE} ORDER BY seen_ts"))


def credited_by_condition(db) -> dict[str, tuple[Decimal, Decimal]]:
    """condition -> (pUSD from redemptions, pUSD from merges) of the rows done."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for r in db.query(f"SELECT condition_id, kind, credited_usd FROM {TABLE} WHERE state='done'"):
        red, mer = out.get(r["condition_id"], (Decimal(0), Decimal(0)))
        usd = Decimal(r["credited_usd"] or "0")
        out[r["condition_id"]] = (red + usd, mer) if r["kind"] != "merge" else (red, mer + usd)
    return out


def summary(db) -> dict:
    """Counts by state, pUSD credited, and resolution-to-credit times (s) of the redemptions done."""
    rows = all_rows(db)
    done = [r for r in rows if r["state"] == "done" and r["kind"] == "redeem" and Decimal(r["credited_usd"]) > 0]
    waits = sorted(r["done_ts"] - r["resolved_ts"] for r in done if r["resolved_ts"])
    by_state: dict[str, int] = {}
    for r in rows:
        by_state[f"{r['kind']}:{r['state']}"] = by_state.get(f"{r['kind']}:{r['state']}", 0) + 1
    pending = [r for r in rows if r["state"] in ("submitting", "submitted")]
    return {"by_state": by_state, "redeemed": len(done),
            "redeemed_usd": str(sum((Decimal(r["credited_usd"]) for r in done), Decimal(0))),
            "pending": len(pending), "given_up": sum(1 for r in rows if r["state"] == "given_up"),
            "resolution_to_credit_s": {"p50": _rank(waits, 0.5), "max": waits[-1] if waits else None, "n": len(waits)}}


def _rank(values: list, p: float):
    return round(values[min(len(values) - 1, int(p * len(values)))], 1) if values else None
