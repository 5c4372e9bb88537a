"""What one run copied and at what cost, from its database: the figures of one row of the policy
sweep (ops/sweep.py). Read-only, like ops/report.py, whose counts it reuses.

- source fills / shares: every source fill intake stored (gross: a buy and a sell both count);
- fills copied: fills covered by an intent whose order filled (partly or fully; in dry_run:
  whose order was planned); copied shares: what filled (dry_run: planned), and its share of the
  source's shares;
- orders sent: orders that left (posts > 0);
- price gap: our average price against the intent's source price, positive = worse for us,
  mean over the copied shares, in cents and bps;
- slippage refusals: intents the executor did not send because the book was past the price
  limit, and the mean price gap they would have needed (the journaled needed price, see
  policy/limits.refusal_text);
- copy delay per copied fill: order signed (wall) - the fill's receipt (wall), p50/p95; and the
  same for the first fill of each burst only (a fill of a token with no burst open: the burst
  horizon, `copy.burst_horizon_ms`, re-traced from the receipt times), which is what
  `copy.leading_order` changes: immediate copies it at once, after_window after coalesce_ms;
- PnL and tracking error, only when every traded token's payout is given (`resolutions`:
  token id -> payout per share, 1 or 0): PnL = payout x net shares - what was paid + what was
  received; tracking error = our return on cost - the source's, in percentage points.
"""
from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from decimal import Decimal

from polycopy.ops import report
from polycopy.policy.limits import BEYOND_SLIPPAGE, parse_refusal

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def _d(v) -> Decimal:
    return Decimal(str(v)) if v not in (None, "") else ZERO


def _worse(side: str, price: Decimal, source: Decimal) -> Decimal:
    return price - source if side == "BUY" else source - price


def _r(v: Decimal | None, places: int = 2) -> float | None:
    return None if v is None else round(float(v), places)


def figures(conn: sqlite3.Connection, resolutions: dict | None = None, horizon_ms: int = 2000) -> dict:
    base = report.build(conn)
    fills = {f["key"]: f for f in report._rows(conn, "SELECT key, token_id, side, price, size, seen_ts_ms FROM fills")}
    decided = [d for d in report._rows(conn, "SELECT intent_id, decision, fill_keys FROM decisions")
               if d["decision"] in ("approved", "clipped")]
    intents = {i["intent_id"]: i for i in report._rows(conn, "SELECT * FROM exec_intents")}
    orders = {o["intent_id"]: o for o in report._rows(conn, "SELECT * FROM exec_orders")}

    copied_keys, delays, signed_at = set(), [], {}
    copied_shares = notional = gap_cents = gap_bps = ZERO
    for d in decided:
        o, it = orders.get(d["intent_id"]), intents.get(d["intent_id"])
        size, usd = _copied(o)
        if not size:
            continue
        price = usd / size
        notional += usd
        keys = json.loads(d["fill_keys"] or "[]")
        copied_keys.update(keys)
        signed_at.update((k, o["signed_ts"] * 1000) for k in keys)
        delays += [o["signed_ts"] * 1000 - fills[k]["seen_ts_ms"] for k in keys if k in fills]
        copied_shares += size
        source = _d(it["source_price"]) if it else ZERO
        if source > 0:
            gap = _worse(o["side"], price, source)
            gap_cents += gap * HUNDRED * size
            gap_bps += gap / source * 10_000 * size

    refused = [(i, parse_refusal(i["reason"])[1]) for i in intents.values()
               if i["state"] == "not_sent" and parse_refusal(i["reason"])[0] == BEYOND_SLIPPAGE]
    needed = [_worse(i["side"], p, _d(i["source_price"])) * HUNDRED for i, p in refused if p is not None]
    source_shares = sum((_d(f["size"]) for f in fills.values()), ZERO)
    pnl = _pnl(fills.values(), orders.values(), resolutions) if resolutions else None
    return {
        "source_fills": len(fills),
        "source_shares": str(source_shares),
        "fills_copied": len(copied_keys),
        "copied_shares": str(copied_shares),
        "size_copied_pct": _r(copied_shares / source_shares * HUNDRED, 1) if source_shares else None,
        "orders_sent": sum(1 for o in orders.values() if (o["posts"] or 0) > 0),
        "price_gap_cents": _r(gap_cents / copied_shares, 3) if copied_shares else None,
        "price_gap_bps": _r(gap_bps / copied_shares, 1) if copied_shares else None,
        "notional_usd": str(notional),
        "slippage_refused": len(refused),
        "slippage_needed_cents": _r(sum(needed, ZERO) / len(needed), 2) if needed else None,
        "pnl_usd": None if pnl is None else _r(pnl[0], 2),
        "tracking_error_pp": None if pnl is None else _r(pnl[1], 2),
        "copy_delay_ms": report._stats(delays),
        "first_fill_delay_ms": report._stats([signed_at[k] - fills[k]["seen_ts_ms"]
                                              for k in _burst_openers(fills.values(), horizon_ms) if k in signed_at]),
        "decisions": base["decisions"],
        "not_copied": base["skipped_by_reason"],
    }


def _burst_openers(fills, horizon_ms: int) -> list[str]:
    """Keys of the fills that opened a burst on their token (policy/coalesce.py's horizon)."""
    ends, out = {}, []
    for f in sorted(fills, key=lambda f: (f["seen_ts_ms"], f["key"])):
        if f["seen_ts_ms"] >= ends.get(f["token_id"], 0):
            ends[f["token_id"]] = f["seen_ts_ms"] + horizon_ms
            out.append(f["key"])
    return out


def _copied(o: dict | None) -> tuple[Decimal, Decimal]:
    """(shares, pUSD) an order copied: what filled (paper, live), or what was planned (dry_run)."""
    if o is None:
        return ZERO, ZERO
    if o["state"] == "accepted" and _d(o["filled_size"]) > 0:
        return _d(o["filled_size"]), _d(o["filled_notional"])
    if o["state"] == "not_sent" and o["reason"] == "dry_run":
        return _d(o["size"]), _d(o["notional"])
    return ZERO, ZERO


def _pnl(fills, orders, payout: dict) -> tuple[Decimal, Decimal] | None:
    """(our PnL, our return on cost - the source's, in pp), or None if a traded token is unresolved."""
    ours, theirs = defaultdict(lambda: [ZERO, ZERO, ZERO]), defaultdict(lambda: [ZERO, ZERO, ZERO])
    for o in orders:
        size, usd = _copied(o)
        if size:
            _book(ours[o["token_id"]], o["side"], size, usd)
    for f in fills:
        _book(theirs[f["token_id"]], f["side"], _d(f["size"]), _d(f["size"]) * _d(f["price"]))
    if any(t not in payout for t in [*ours, *theirs]):
        return None

    def total(book):
        pnl = sum((Decimal(str(payout[t])) * shares + cash for t, (shares, cash, _) in book.items()), ZERO)
        cost = sum((c for _, _, c in book.values()), ZERO)
        return pnl, (pnl / cost * HUNDRED if cost else ZERO)

    (our_pnl, our_roi), (_, their_roi) = total(ours), total(theirs)
    return our_pnl, our_roi - their_roi


def _book(pos: list, side: str, size: Decimal, usd: Decimal) -> None:
    """[net shares, cash, cost] of one token."""
    if side == "BUY":
        pos[0] += size
        pos[1] -= usd
        pos[2] += usd
    else:
        pos[0] -= size
        pos[1] += usd
