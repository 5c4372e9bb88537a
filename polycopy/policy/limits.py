"""The venue's order rules that every stage must agree on, in one place: the price limit of a
copy, the tick grid, and whether an order of some size can trade at all. Pure Decimal math.

The coalescer sizes with them, risk reserves with them, the executor prices and checks with
them: were any of these computed twice, a reservation could be smaller than the order it covers.

The slippage allowed is the larger of `max_slippage_bps` (of the source's price) and
`max_slippage_ticks` (of the market's tick). Bps alone do not fit the tick grid: 120 bps of 0.48
is 0.0058, less than one 0.01 tick, so the limit snaps back to the source's own price and any
move of the book refuses the copy. Ticks are the venue's unit; bps still govern high prices on
fine grids (0.97 on a 0.001 tick: 120 bps = 11 ticks).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

MIN_MARKETABLE_USD = Decimal(1)  # "invalid amount for a marketable BUY order ($0.5), min size: $1" (PROTOCOL §6.3)
BPS = Decimal(10_000)
BEYOND_SLIPPAGE = "beyond_slippage"


@dataclass(frozen=True, slots=True)
class Slippage:
    """How far from the source's price a copy may trade (execution.* in config.yaml)."""

    bps: int = 0
    ticks: int = 0
    max_buy_price: Decimal | None = None  # a BUY never pays more, whatever the source paid
    min_sell_price: Decimal | None = None  # a SELL never takes less

    @classmethod
    def from_config(cls, execution) -> "Slippage":
        return cls(execution.max_slippage_bps, execution.max_slippage_ticks, execution.max_buy_price,
                   execution.min_sell_price)


def snap(price: Decimal, tick: Decimal, side: str) -> Decimal:
    """Onto the grid, never past the limit: BUY caps round down, SELL floors round up."""
    steps = (price / tick).to_integral_value(ROUND_FLOOR if side == "BUY" else ROUND_CEILING)
    return (steps * tick).normalize() if steps else Decimal(0)


def allowed_move(source_price: Decimal, tick: Decimal, slip: Slippage) -> Decimal:
    """The price distance a copy may give away: the larger of the bps and the ticks."""
    return max(source_price * Decimal(slip.bps) / BPS, tick * slip.ticks)


def price_limit(side: str, source_price: Decimal, tick: Decimal, slip: Slippage) -> Decimal | None:
    """The worst price a copy may trade at: the source's price moved by `allowed_move` against us,
    bounded by max_buy_price / min_sell_price, snapped onto the tick grid towards the source's
    price. None when no valid order price (within [tick, 1 - tick]) is that good: a BUY never
    pays more, a SELL never takes less, and no order price crosses 0 or 1."""
    move = allowed_move(source_price, tick, slip)
    if side == "BUY":
        bound = source_price + move
        if slip.max_buy_price is not None:
            bound = min(bound, slip.max_buy_price)
        limit = min(snap(bound, tick, side), 1 - tick)  # lower is safer for a BUY
        return limit if limit >= tick else None
    bound = source_price - move
    if slip.min_sell_price is not None:
        bound = max(bound, slip.min_sell_price)
    limit = max(snap(bound, tick, side), tick)  # higher is safer for a SELL
    return limit if limit <= 1 - tick else None


def notional_per_share(source_price: Decimal, tick: Decimal, slip: Slippage, side: str = "BUY") -> Decimal:
    """The most one share of a copy can cost: what sizing and risk count a copy's notional at.

    A BUY: its price limit (the executor never pays more). A SELL: the BUY-side bound of the same
    move without max_buy_price, as a round figure of its proceeds (the book may pay more).
    No valid limit: 1 - tick, above any order price (such an order is refused when priced)."""
    if side != "BUY":
        slip = Slippage(slip.bps, slip.ticks)
    limit = price_limit("BUY", source_price, tick, slip)
    return limit if limit is not None else 1 - tick


def untradable(size: Decimal, notional_usd: Decimal, *, min_size: Decimal, min_notional_usd: Decimal) -> str | None:
    """Why an order of `size` shares worth `notional_usd` cannot be placed, or None if it can."""
    if size <= 0:
        return "zero_size"
    if size < min_size:
        return "below_min_size"
    if notional_usd < min_notional_usd:
        return "below_min_notional"
    return None


# ------------------------------------------------------------ what a slippage refusal cost

_REFUSAL = re.compile(r"^beyond_slippage: needed (?P<needed>[0-9.]+), limit (?P<limit>[0-9.]+|none)$")


def refusal_text(needed: Decimal, limit: Decimal | None) -> str:
    """The recorded reason of a slippage refusal: the price the copy would have needed (the best
    level of the book) and the limit it had. `parse_refusal` reads it back."""
    return f"{BEYOND_SLIPPAGE}: needed {needed}, limit {'none' if limit is None else limit}"


def parse_refusal(text: str) -> tuple[str, Decimal | None]:
    """(reason code, needed price or None) of a recorded reason; any other text is its own code."""
    m = _REFUSAL.match(text or "")
    if m is None:
        return (text or "").split(":", 1)[0], None
    try:
        return BEYOND_SLIPPAGE, Decimal(m["needed"])
    except InvalidOperation:
        return BEYOND_SLIPPAGE, None
