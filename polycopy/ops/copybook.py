"""Source vs ours, read from the run's database: what the live view, `--status` and the report show.

- `positions`: per token, the source's net shares and net cost (every fill intake stored, the
  mempool's provisional rows left out: their settled rows are there too) beside ours (accepted
  orders' fills, settlement not FAILED; in dry_run the orders that would have been sent).
  Net cost = bought - sold, in USD: what the book has spent.
- `waterfall`: the last decisions, each as source trade -> our order: sizes, prices, copy delay
  (order signed - source fill time), price gap (ours - source, positive = worse for us), outcome.

Figures for people, not for the books: summed as floats by SQLite and rounded for display (the
journal's Decimal text stays the record). Read-only queries, each bounded, on an open connection.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime

from polycopy.ops.names import market_name

MAX_POSITIONS = 40
NOT_FAKE = "COALESCE(settlement, '') != 'FAILED'"


def query(conn, sql: str, args=()) -> list[dict]:
    """Rows as dicts; a table not created yet (a fresh state folder) reads as empty."""
    try:
        cur = conn.execute(sql, args)
    except sqlite3.OperationalError as e:
        if "no such table" in str(e) or "no such column" in str(e):
            return []
        raise
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def fill_names(conn) -> dict[str, str]:
    """token id -> name, from the slug and outcome of the source's fills (where no Market is at hand)."""
    return {r["token_id"]: market_name(None, r["token_id"], slug=r["slug"] or "", outcome=r["outcome"] or "")
            for r in query(conn, "SELECT token_id, MAX(slug) AS slug, MAX(outcome) AS outcome FROM fills "
                                 "GROUP BY token_id")}


def namer(known: dict[str, str], markets=None):
    """name(token): from the markets an actor was told about (a MarketBook), else `known`, else the id."""
    def name(token: str) -> str:
        if markets is not None and markets.get(token) is not None:
            return markets.name(token)
        return known.get(token) or market_name(None, token)
    return name


def positions(conn, name, mode: str) -> list[dict]:
    """Source vs ours per token, the most recently traded first (at most MAX_POSITIONS)."""
    rows: dict[str, dict] = {}

    def row(token: str) -> dict:
        return rows.setdefault(token, {"token_id": token, "market": name(token),
                                       "source_shares": 0.0, "source_cost_usd": 0.0, "shares": 0.0, "cost_usd": 0.0,
                                       "last_ts": 0.0})

    for r in query(conn, "SELECT token_id, side, SUM(CAST(size AS REAL)) AS n, "
                         "SUM(CAST(size AS REAL) * CAST(price AS REAL)) AS usd, MAX(seen_ts_ms) / 1000.0 AS ts "
                         "FROM fills WHERE key NOT LIKE 'pending|%' GROUP BY token_id, side"):
        sign, p = (1 if r["side"] == "BUY" else -1), row(r["token_id"])
        p["source_shares"] += sign * (r["n"] or 0)
        p["source_cost_usd"] += sign * (r["usd"] or 0)
        p["last_ts"] = max(p["last_ts"], r["ts"] or 0)
    size, usd = ("size", "notional") if mode == "dry_run" else ("filled_size", "filled_notional")
    where = "mode='dry_run' AND reason='dry_run'" if mode == "dry_run" else f"state='accepted' AND {NOT_FAKE}"
    for r in query(conn, f"SELECT token_id, side, SUM(CAST({size} AS REAL)) AS n, SUM(CAST({usd} AS REAL)) AS usd, "
                         f"MAX(signed_ts) AS ts FROM exec_orders WHERE {where} GROUP BY token_id, side"):
        sign, p = (1 if r["side"] == "BUY" else -1), row(r["token_id"])
        p["shares"] += sign * (r["n"] or 0)
        p["cost_usd"] += sign * (r["usd"] or 0)
        p["last_ts"] = max(p["last_ts"], r["ts"] or 0)
    out = [p for p in rows.values() if round(p["source_shares"], 6) or round(p["shares"], 6)]
    out.sort(key=lambda p: p["last_ts"], reverse=True)
    for p in out:
        for k in ("source_shares", "source_cost_usd", "shares", "cost_usd"):
            p[k] = round(p[k], 4) + 0.0  # no "-0.0"
    return out[:MAX_POSITIONS]


def waterfall(conn, name, limit: int = 12) -> list[dict]:
    """The last `limit` decisions, newest first: source trade -> our order."""
    decisions = query(conn, "SELECT * FROM decisions ORDER BY id DESC LIMIT ?", (int(limit),))
    ids = [d["intent_id"] for d in decisions]
    marks = ",".join("?" * len(ids))
    orders = {o["intent_id"]: o for o in query(conn, f"SELECT * FROM exec_orders WHERE intent_id IN ({marks})", ids)}
    intents = {i["intent_id"]: i for i in query(conn, f"SELECT * FROM exec_intents WHERE intent_id IN ({marks})", ids)}
    return [copy_row(d, intents.get(d["intent_id"]), orders.get(d["intent_id"]), name) for d in decisions]


def copy_row(d: dict, intent: dict | None, order: dict | None, name) -> dict:
    """One decision as the operator reads it (the report's table uses it too)."""
    side, src_price = d.get("side") or "", _f(d.get("source_price"))
    out = {"t": d.get("decided_ts") or 0, "intent_id": d["intent_id"], "token_id": d.get("token_id") or "",
           "market": name(d.get("token_id") or ""),
           "side": side, "source_size": _f(d.get("source_size")), "source_price": round(src_price, 4),
           "size": None, "price": None, "delay_ms": None, "gap_cents": None, "outcome": d["decision"],
           "reason": d.get("reason") or ""}
    if d["decision"] in ("rejected", "dropped"):
        return out
    if intent is not None and intent.get("state") == "not_sent":
        out.update(outcome="not_sent", reason=intent.get("reason") or "")
    if order is None:
        return out
    got, usd = _f(order.get("filled_size")), _f(order.get("filled_notional"))
    if order.get("reason") == "dry_run":
        out.update(size=_f(order.get("size")), price=_f(order.get("price")), outcome="dry_run", reason="")
    elif got:
        out.update(size=got, price=round(usd / got, 4), reason="",
                   outcome="filled" if got >= _f(order.get("size")) else "partial")
    else:
        out.update(outcome=order.get("state") or "", reason=order.get("reason") or "")
        if out["outcome"] == "accepted":
            out["outcome"] = "unfilled"
    if out["price"] and src_price:
        gap = out["price"] - src_price if side == "BUY" else src_price - out["price"]
        out["gap_cents"] = round(gap * 100, 2)
    if order.get("signed_ts") and d.get("source_ts_ms"):
        out["delay_ms"] = round(order["signed_ts"] * 1000 - d["source_ts_ms"], 1)
    return out


def mode_of(conn) -> str:
    """The mode of the newest order in the journal ("paper" when there is none)."""
    rows = query(conn, "SELECT mode FROM exec_orders ORDER BY rowid DESC LIMIT 1")
    return rows[0]["mode"] if rows else "paper"


def clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S") if ts else "-"


def _f(v) -> float:
    try:
        return float(v) if v not in (None, "") else 0.0
    except (TypeError, ValueError):
        return 0.0
