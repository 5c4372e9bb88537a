"""How many shares to copy, and whether an order that small can trade at all. Pure Decimal math.

Sizes are shares rounded *down* to 0.01 (the venue's size step for every tick, PROTOCOL §6.2), so
rounding never makes an order bigger than the policy allows.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

SHARE_STEP = Decimal("0.01")
MARKETABLE_MIN_USD = Decimal("1")  # the venue refuses marketable orders under $1 (PROTOCOL §6.3)
ONE = Decimal(1)
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class SizingParams:
    mode: str  # "fixed" | "proportional" | "capped_proportional"
    size_multiplier: Decimal
    fixed_notional_usd: Decimal
    min_order_notional_usd: Decimal
    max_notional_per_order_usd: Decimal
    max_slippage_bps: int
    min_order_size_shares: Decimal  # the market's orderMinSize, or the configured assumption

    @classmethod
    def from_config(cls, config, min_order_size: Decimal | None = None) -> "SizingParams":
        s = config.sizing
        return cls(
            mode=s.mode,
            size_multiplier=s.size_multiplier,
            fixed_notional_usd=s.fixed_notional_usd,
            min_order_notional_usd=s.min_order_notional_usd,
            max_notional_per_order_usd=s.max_notional_per_order_usd,
            max_slippage_bps=config.execution.max_slippage_bps,
            min_order_size_shares=s.assumed_min_order_size_shares if min_order_size is None else min_order_size,
        )


def round_shares(x: Decimal) -> Decimal:
    """Floor to the 0.01-share step; never negative."""
    if x <= 0:
        return Decimal("0.00")
    return x.quantize(SHARE_STEP, rounding=ROUND_DOWN)


def worst_price(price: Decimal, max_slippage_bps: int) -> Decimal:
    """The most the executor may pay per share: price × (1 + bps/10⁴), capped at 1.

    Used as the notional bound for both sides: a BUY never pays more; a SELL's proceeds are
    bounded by it unless the book improves on the source price by more than the slippage.
    """
    return min(ONE, price * (ONE + Decimal(max_slippage_bps) / BPS))


def size_order(source_size: Decimal, price: Decimal, p: SizingParams) -> Decimal:
    """Shares to order for `source_size` source shares traded at `price` (0 if nothing)."""
    if source_size <= 0 or price <= 0:
        return Decimal("0.00")
    if p.mode == "fixed":
        return round_shares(p.fixed_notional_usd / price)
    shares = p.size_multiplier * source_size
    if p.mode == "capped_proportional":
        shares = min(shares, p.max_notional_per_order_usd / worst_price(price, p.max_slippage_bps))
    elif p.mode != "proportional":
        raise ValueError(f"unknown sizing mode {p.mode!r}")
    return round_shares(shares)


def min_notional_usd(p: SizingParams) -> Decimal:
    return max(MARKETABLE_MIN_USD, p.min_order_notional_usd)


def untradable_reason(size: Decimal, price: Decimal, p: SizingParams) -> str | None:
    """Why an order of `size` shares at `price` cannot be sent alone, or None if it can.

    The notional is judged at the source price (the executor's BUY limit is higher, so a BUY
    that passes here passes there too).
    """
    if size <= 0:
        return "zero_size"
    if size < p.min_order_size_shares:
        return "below_min_size"
    if size * price < min_notional_usd(p):
        return "below_min_notional"
    return None
