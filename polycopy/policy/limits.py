"""The venue's order rules that every stage must agree on, in one place: the price limit of a
copy, the tick grid, and whether an order of some size can trade at all. Pure Decimal math.

The coalescer sizes with them, risk reserves with them, the executor prices and checks with
them: were any of these computed twice, a reservation could be smaller than the order it covers.
"""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

MIN_MARKETABLE_USD = Decimal(1)  # "invalid amount for a marketable BUY order ($0.5), min size: $1" (PROTOCOL §6.3)
BPS = Decimal(10_000)


def snap(price: Decimal, tick: Decimal, side: str) -> Decimal:
    """Onto the grid, never past the limit: BUY caps round down, SELL floors round up."""
    steps = (price / tick).to_integral_value(ROUND_FLOOR if side == "BUY" else ROUND_CEILING)
    return (steps * tick).normalize() if steps else Decimal(0)


def price_limit(side: str, source_price: Decimal, tick: Decimal, max_slippage_bps: int) -> Decimal:
    """The worst price a copy may trade at: the source's price moved by `max_slippage_bps` against
    us, snapped onto the tick grid towards the source's price, and a valid order price (within
    [tick, 1 - tick]). A BUY never pays more, a SELL never takes less."""
    move = source_price * Decimal(max_slippage_bps) / BPS
    bound = snap(source_price + move if side == "BUY" else source_price - move, tick, side)
    return min(max(bound, tick), 1 - tick)


def notional_per_share(source_price: Decimal, tick: Decimal, max_slippage_bps: int) -> Decimal:
    """The most one share of a copy can cost: what sizing and risk count a copy's notional at (for a
    SELL it bounds the proceeds unless the book pays more than the BUY limit)."""
    return price_limit("BUY", source_price, tick, max_slippage_bps)


def untradable(size: Decimal, notional_usd: Decimal, *, min_size: Decimal, min_notional_usd: Decimal) -> str | None:
    """Why an order of `size` shares worth `notional_usd` cannot be placed, or None if it can."""
    if size <= 0:
        return "zero_size"
    if size < min_size:
        return "below_min_size"
    if notional_usd < min_notional_usd:
        return "below_min_notional"
    return None
