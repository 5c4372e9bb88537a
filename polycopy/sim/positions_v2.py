"""Data API `/v2/positions` rows (VENUE-2026-12.md §1; fields as `models/data/portfolio.py`
Position parses them).

`current_size` is what the wallet holds now (the venue's balance for an account it knows, else
the fills' net); `total_size` is everything it ever bought, **not** the position. A row's
`status` is OPEN (market not resolved), REDEEMABLE (resolved and still held: a lost position
too, at price 0) or CLOSED (held nothing any more). Filters: `status` OPEN, REDEEMABLE (won and
lost), REDEEMABLE_LOST (resolved to 0), MERGEABLE (live market, both outcomes held), CLOSED;
no status = OPEN + REDEEMABLE. Holdings under `filter_amount` (default 0.1 share, TOKENS) are
left out, as the venue does.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from polycopy.sim.positions import Q, ZERO, _agg

STATUSES = ("OPEN", "REDEEMABLE", "REDEEMABLE_LOST", "MERGEABLE", "CLOSED")
SORTS = {"CURRENT_VALUE": "current_value", "PRICE": "current_price", "TOKENS": "current_size",
         "UNREALIZED_PNL": "unrealized_pnl", "REALIZED_PNL": "realized_pnl",
         "TOTAL_PNL": "total_pnl", "TIMESTAMP": "last_event_at"}
DEFAULT_THRESHOLD = Decimal("0.1")


def _held(api, user: str, agg) -> dict[str, Decimal]:
    venue = api.venue_positions(user)
    if venue:
        return {t: Decimal(str(s)) for t, s in venue.items()}
    return {t: e["size"] for t, e in agg.items()}


def _row(user: str, info, token: str, size: Decimal, sizes: dict, e: dict, times) -> dict:
    m = info.market
    i = m.tokens.index(token)
    other = (1 - i) if len(m.tokens) == 2 else i
    price = m.payouts[i] if m.resolved else info.mids[i]
    avg = e["cost"] / e["bought"] if e["bought"] else ZERO
    entry, value = size * avg, size * price
    unrealized, realized = value - entry, e["realized"]
    status = "CLOSED" if size <= 0 else "REDEEMABLE" if m.resolved else "OPEN"
    q = lambda d: str(d.quantize(Q))  # noqa: E731
    return {
        "proxy_wallet": user, "token_id": token, "condition_id": m.condition_id,
        "current_size": str(size), "avg_price": q(avg), "entry_cost_usdc": q(entry),
        "entry_fees_usdc": "0", "total_cost_usdc": q(entry), "current_price": str(price),
        "current_value": q(value), "total_size": str(e["bought"]), "realized_pnl": q(realized),
        "unrealized_pnl": q(unrealized), "total_pnl": q(realized + unrealized),
        "percent_pnl": q(unrealized / entry * 100) if entry else "0",
        "percent_realized_pnl": q(realized / e["cost"] * 100) if e["cost"] else "0",
        "status": status, "redeemable": status == "REDEEMABLE",
        "mergeable": status == "OPEN" and other != i and sizes.get(m.tokens[other], ZERO) > 0,
        "negative_risk": m.neg_risk, "archived": False, "verified": True,
        "title": m.question, "slug": m.slug, "icon": info.icon, "event_slug": m.event_slug,
        "outcome": m.outcomes[i], "opposite_outcome": m.outcomes[other], "name": "",
        "profile_image": "", "event_id": info.event_id, "outcome_index": i,
        "opposite_token_id": m.tokens[other],
        "end_date": datetime.fromtimestamp(m.end_ts, timezone.utc).strftime("%Y-%m-%d"),
        "last_event_at": times.get(token, (0, 0))[1], "first_entry_at": times.get(token, (0, 0))[0],
    }


def _keep(row: dict, status: str | None, p, info) -> bool:
    if status is None:
        ok = row["status"] in ("OPEN", "REDEEMABLE")
    elif status == "REDEEMABLE_LOST":
        ok = row["status"] == "REDEEMABLE" and Decimal(row["current_price"]) == 0
    elif status == "MERGEABLE":
        ok = row["mergeable"]
    else:
        ok = row["status"] == status
    title = (p.one("title") or "").lower()
    events = set(p.many("event_id"))
    return ok and (not title or title in row["title"].lower()) and (
        not events or info.event_id in events)


def v2_position_rows(api, user: str, p, status: str | None, conditions: set[str]) -> list[dict]:
    """`user`'s positions (or, with no user, every wallet's on the one condition)."""
    users = [user] if user else sorted({f.profile.wallet for f in api.feed.rows
                                        if f.info.market.condition_id in conditions})
    kind = p.choice("filter_type", ("CASH", "TOKENS"), "TOKENS")
    threshold = p.amount("filter_amount")
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    rows = []
    for wallet in users:
        fills = api.feed.visible(api.feed.by_wallet.get(wallet, [])) + api.venue_fills(wallet)
        agg = _agg(fills, api.feed.visible_activity(wallet), api.catalog)
        sizes = _held(api, wallet, agg)
        times: dict[str, tuple[int, int]] = {}
        for f in fills:
            first, last = times.get(f.token, (f.unix_ts, f.unix_ts))
            times[f.token] = (min(first, f.unix_ts), max(last, f.unix_ts))
        for token in dict.fromkeys([*sizes, *agg]):
            info = api.catalog.by_token.get(token)
            if info is None or (conditions and info.market.condition_id not in conditions):
                continue
            e = agg.get(token, {"bought": ZERO, "cost": ZERO, "realized": ZERO})
            size = sizes.get(token, ZERO)
            if size <= 0 and e["bought"] <= 0:
                continue
            row = _row(wallet, info, token, size, sizes, e, times)
            measure = Decimal(row["current_value"] if kind == "CASH" else row["current_size"])
            if row["status"] != "CLOSED" and measure < threshold:
                continue
            if _keep(row, status, p, info):
                rows.append(row)
    key = SORTS[p.choice("sort_by", SORTS, "TOKENS")]
    ascending = p.choice("sort_direction", ("ASC", "DESC"), "DESC") == "ASC"
    rows.sort(key=lambda r: Decimal(str(r[key])), reverse=not ascending)
    return rows


def value_of(rows: list[dict]) -> Decimal:
    return sum((Decimal(r["current_value"]) for r in rows), ZERO)
