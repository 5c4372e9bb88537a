"""Data API `/positions` rows, computed from a wallet's fills and split/merge/redeem activity.

When the venue knows the wallet (our own account), its share balances are the sizes; fills
only give the average price.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from polycopy.sim.markets import Catalog

Q = Decimal("0.0001")
ZERO = Decimal(0)


def _agg(fills, activity, catalog: Catalog) -> dict[str, dict]:
    agg: dict[str, dict] = {}

    def entry(token):
        return agg.setdefault(token, {"size": ZERO, "bought": ZERO, "cost": ZERO,
                                      "realized": ZERO})

    for f in sorted(fills, key=lambda f: f.sched_mono_ns):
        e = entry(f.token)
        if f.side == "BUY":
            e["size"] += f.size
            e["bought"] += f.size
            e["cost"] += f.size * f.price
        else:
            avg = e["cost"] / e["bought"] if e["bought"] else ZERO
            e["realized"] += (f.price - avg) * f.size
            e["size"] -= f.size
    for row in sorted(activity, key=lambda r: r["timestamp"]):
        info = catalog.by_cid.get(row["conditionId"])
        if info is None:
            continue
        for token in info.market.tokens:
            e = entry(token)
            if row["type"] == "SPLIT":
                e["size"] += row["size"]
                e["bought"] += row["size"]
                e["cost"] += row["size"] / len(info.market.tokens)
            elif row["type"] == "MERGE":
                e["size"] -= row["size"]
            elif row["type"] == "REDEEM":
                e["size"] = ZERO
    return agg


def position_rows(wallet: str, fills, activity, catalog: Catalog, clock,
                  venue_sizes: dict | None = None) -> list[dict]:
    agg = _agg(fills, activity, catalog)
    sizes = {t: Decimal(str(s)) for t, s in (venue_sizes or {}).items()} or {
        t: e["size"] for t, e in agg.items()}
    rows = []
    for token, size in sizes.items():
        info = catalog.by_token.get(token)
        if info is None or size <= 0:
            continue
        m = info.market
        e = agg.get(token, {"bought": ZERO, "cost": ZERO, "realized": ZERO})
        i = m.tokens.index(token)
        avg = e["cost"] / e["bought"] if e["bought"] else ZERO
        cur = info.mids[i]
        initial, current = size * avg, size * cur
        pnl = current - initial
        other = (1 - i) if len(m.tokens) == 2 else i
        rows.append({
            "proxyWallet": wallet, "asset": token, "conditionId": m.condition_id,
            "size": size, "avgPrice": avg.quantize(Q), "initialValue": initial.quantize(Q),
            "currentValue": current.quantize(Q), "cashPnl": pnl.quantize(Q),
            "percentPnl": (pnl / initial * 100).quantize(Q) if initial else ZERO,
            "totalBought": e["bought"], "realizedPnl": e["realized"].quantize(Q),
            "percentRealizedPnl": (e["realized"] / e["cost"] * 100).quantize(Q)
            if e["cost"] else ZERO,
            "curPrice": cur, "redeemable": m.resolved,
            "mergeable": len(m.tokens) == 2 and sizes.get(m.tokens[other], ZERO) > 0,
            "title": m.question, "slug": m.slug, "icon": info.icon,
            "eventSlug": m.event_slug, "outcome": m.outcomes[i], "outcomeIndex": i,
            "oppositeOutcome": m.outcomes[other], "oppositeAsset": m.tokens[other],
            "endDate": datetime.fromtimestamp(m.end_ts, timezone.utc).strftime("%Y-%m-%d"),
            "negativeRisk": m.neg_risk})
    rows.sort(key=lambda r: -r["size"])
    return rows
