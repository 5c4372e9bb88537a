"""Geoblock enforcement on order placement (VENUE-2026-12.md §5).

`VenueFaults.region` is "open", "close_only" or "blocked" (set by the scenario's `geoblock.api`
or `POST /geoblock {"api": ...}` on the control app). Close-only refuses BUYs and any order that
is not a SELL of a token the maker holds; blocked refuses every order. The refusal is
`403 {"error": "Trading restricted in your region"}`, the answer observed from the US.
"""
from __future__ import annotations

from decimal import Decimal

from eth_utils import to_checksum_address

REGION_MSG = "Trading restricted in your region"


def allowed(venue, body: object) -> bool:
    """May this POST /order body go on under the venue's region mode?"""
    mode = venue.faults.region
    if mode == "open":
        return True
    if mode != "close_only":
        return False
    order = body.get("order") if isinstance(body, dict) else None
    if not isinstance(order, dict) or order.get("side") != "SELL":
        return False
    try:
        maker = to_checksum_address(str(order.get("maker")))
    except ValueError:
        return False
    held = venue.holdings.get(maker, {}).get(str(order.get("tokenId")), Decimal(0))
    return held > 0  # reduces a position the account holds
