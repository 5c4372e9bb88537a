"""The ledger's PnL inputs: ours from the database (actor thread), the source's and the venue's
marks from the Data API v2 (I/O thread), put together for policy/pnl.py.

Our books: every fill of our accepted orders of this mode (the executor's journal; a settlement
that FAILED on chain moved nothing), and what our redemptions and merges paid
(store/redemptions.py). The source's books on the same markets: its TRADE, REDEEM, MERGE and
SPLIT rows on `/v2/activity` since a little before our first order there. Holdings now and
marks: `/v2/positions` of both wallets on those markets (`current_price` is the payout once a
market has resolved, where `redeemable` is set); in paper mode our holdings are our fills.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from polycopy.policy.pnl import Dealings, MarketPnl, Trade, pnl
from polycopy.store import redemptions

ZERO = Decimal(0)
LOOKBACK_S = 600  # the source's rows from this long before our first order in a market


@dataclass
class OurBook:
    trades: list = field(default_factory=list)
    redeemed: Decimal = ZERO
    merged: Decimal = ZERO
    first_ts: float = 0.0


@dataclass(frozen=True)
class Venue:
    """What the Data API says about the markets (I/O thread's result)."""

    source: dict  # condition -> Dealings of the source
    ours_held: dict  # condition -> {token: shares} (live) ; empty in paper mode
    marks: dict  # token -> price
    resolved: set
    slugs: dict
    tokens: dict  # condition -> tokens seen


def gather_ours(db, mode: str, final: set) -> dict:
    """condition -> OurBook, for the markets not final yet."""
    books: dict[str, OurBook] = {}
    if "exec_orders" not in db.table_names():
        return books
    for r in db.query("SELECT condition_id, token_id, side, filled_size, filled_notional, signed_ts FROM exec_orders "
                      "WHERE mode=? AND state='accepted' AND COALESCE(settlement, '') != 'FAILED' "
                      "AND CAST(filled_size AS REAL) > 0 ORDER BY signed_ts", [mode]):
        if r["condition_id"] in final:
            continue
        b = books.setdefault(r["condition_id"], OurBook(first_ts=r["signed_ts"]))
        b.trades.append(Trade(r["token_id"], r["side"], Decimal(r["filled_size"]), Decimal(r["filled_notional"])))
    for cid, (red, mer) in redemptions.credited_by_condition(db).items():
        if cid in books:
            books[cid].redeemed, books[cid].merged = red, mer
    return books


def read_source(data, source: str, wallet: str, ours: dict, clob_url: str = "") -> Venue:
    """Blocking: the source's activity and both wallets' positions on our markets."""
    conditions = sorted(ours)
    start = int(min(b.first_ts for b in ours.values())) - LOOKBACK_S
    rows = data.activity(source, start, ("TRADE", "REDEEM", "MERGE", "SPLIT"), conditions=conditions)
    positions = data.positions(source, conditions)
    mine = data.positions(wallet.lower(), conditions) if wallet else []
    marks, resolved, slugs, tokens = {}, set(), {}, {}
    held_src: dict[str, dict] = {c: {} for c in conditions}
    held_ours: dict[str, dict] = {c: {} for c in conditions} if wallet else {}
    for p in [*positions, *mine]:
        marks[p.token_id] = p.cur_price
        slugs[p.condition_id] = p.slug or slugs.get(p.condition_id, "")
        tokens.setdefault(p.condition_id, set()).add(p.token_id)
        if p.redeemable:
            resolved.add(p.condition_id)
    resolved |= {r.condition_id for r in data.resolutions(conditions) if r.status == "resolved"}
    for p in positions:
        held_src.setdefault(p.condition_id, {})[p.token_id] = p.size
    for p in mine:
        held_ours.setdefault(p.condition_id, {})[p.token_id] = p.size
    deal: dict[str, dict] = {c: {"trades": [], "redeemed": ZERO, "merged": ZERO, "split": ZERO} for c in conditions}
    for a in rows:
        d = deal.get(a.condition_id)
        if d is None:
            continue
        slugs[a.condition_id] = slugs.get(a.condition_id) or a.slug
        if a.type == "TRADE":
            d["trades"].append(Trade(a.token_id, a.side, a.size, a.size * a.price))
            tokens.setdefault(a.condition_id, set()).add(a.token_id)
        elif a.type == "REDEEM":
            d["redeemed"] += a.usdc
        elif a.type == "MERGE":
            d["merged"] += a.usdc or a.size
        elif a.type == "SPLIT":
            d["split"] += a.usdc or a.size
    source_books = {c: Dealings(tuple(d["trades"]), d["redeemed"], d["merged"], d["split"], held_src.get(c, {}))
                    for c, d in deal.items()}
    return Venue(source_books, held_ours, marks, resolved, slugs, {c: tuple(sorted(t)) for c, t in tokens.items()})


def pnl_rows(ours: dict, venue: Venue, ratio: Decimal) -> list[MarketPnl]:
    out = []
    for cid, b in ours.items():
        resolved = cid in venue.resolved
        tokens = venue.tokens.get(cid, ())
        held = venue.ours_held.get(cid) if venue.ours_held else None
        mine = pnl(Dealings(tuple(b.trades), b.redeemed, b.merged, ZERO, held), venue.marks, resolved, tokens)
        theirs = pnl(venue.source.get(cid, Dealings()), venue.marks, resolved, tokens)
        out.append(MarketPnl(cid, mine, theirs, ratio, resolved, venue.slugs.get(cid, "")))
    return out
