"""Our own account's fills, read from the venue's `/data/trades`-shaped records.

The venue keeps one TAKER record per match: the account's taker fill is the record itself
(`maker_address` is the taker's funder), its maker fills are entries of `maker_orders`.
`match_time` has whole seconds only, so a fill may show up to 1 s early on the Data API.
"""
from __future__ import annotations

from decimal import Decimal

from polycopy.sim.markets import Catalog
from polycopy.sim.wire import Fill, Profile


def _mono_ns(trade: dict, clock) -> int:
    if "match_mono_ns" in trade:
        return int(trade["match_mono_ns"])
    unix = float(trade.get("match_time") or clock.unix(clock.t()))
    return clock.mono_ns(unix - clock.start_unix)


def _unix(trade: dict, clock) -> int:
    return int(float(trade.get("match_time") or clock.unix(clock.t())))


def venue_fills(venue, wallet: str, catalog: Catalog, clock) -> list[Fill]:
    if venue is None:
        return []
    wallet = wallet.lower()
    profile = Profile(wallet)
    fills = []
    for t in list(venue.trades):
        status = str(t.get("status", "")).upper()
        if status.endswith("FAILED"):
            continue
        if str(t.get("trader_side", "TAKER")).upper() != "TAKER":
            continue
        parts = []
        if str(t.get("maker_address", "")).lower() == wallet:
            parts.append(("taker", t["asset_id"], t["side"], t["price"], t["size"]))
        parts += [("maker", mo["asset_id"], mo["side"], mo["price"], mo["matched_amount"])
                  for mo in t.get("maker_orders", [])
                  if str(mo.get("maker_address", "")).lower() == wallet]
        for role_name, token, side, price, size in parts:
            info = catalog.by_token.get(str(token))
            if info is None:
                continue
            fills.append(Fill(profile, info, str(token), side, Decimal(str(price)),
                              Decimal(str(size)), role_name, t.get("transaction_hash", ""),
                              _unix(t, clock), _mono_ns(t, clock)))
    return fills
