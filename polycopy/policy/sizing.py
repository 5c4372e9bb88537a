"""How many shares to copy, and whether an order that small can trade at all. Pure Decimal math.

Sizes are shares rounded *down* to 0.01 (the venue's size step for every tick, PROTOCOL §6.2), so
rounding never makes an order bigger than the policy allows.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from polycopy.policy.limits import MIN_MARKETABLE_USD, Slippage, notional_per_share, untradable

SHARE_STEP = Decimal("0.01")
DEFAULT_TICK = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class SizingParams:
    mode: str  # "fixed" | "proportional" | "capped_proportional"
    size_multiplier: Decimal
    fixed_notional_usd: Decimal
    min_order_notional_usd: Decimal
    max_notional_per_order_usd: Decimal
    max_slippage_bps: int
    min_order_size_shares: Decimal  # the market's orderMinSize, or the configured assumption
    tick_size: Decimal = DEFAULT_TICK  # the market's tick
    max_slippage_ticks: int = 0
    max_buy_price: Decimal | None = None

    @classmethod
    def from_config(cls, config, market=None) -> "SizingParams":
        """With the market's facts (a `Market`) when known; the configured assumptions otherwise."""
        s = config.sizing
        return cls(
            mode=s.mode,
            size_multiplier=s.size_multiplier,
            fixed_notional_usd=s.fixed_notional_usd,
            min_order_notional_usd=s.min_order_notional_usd,
            max_notional_per_order_usd=s.max_notional_per_order_usd,
            max_slippage_bps=config.execution.max_slippage_bps,
            min_order_size_shares=market.min_order_size if market is not None else s.assumed_min_order_size_shares,
            tick_size=market.tick_size if market is not None else DEFAULT_TICK,
            max_slippage_ticks=config.execution.max_slippage_ticks,
            max_buy_price=config.execution.max_buy_price,
        )

    @property
    def slippage(self) -> Slippage:
        return Slippage(self.max_slippage_bps, self.max_slippage_ticks, self.max_buy_price)

    def notional_per_share(self, price: Decimal, side: str = "BUY") -> Decimal:
        """The most one share of a copy at `price` may cost (policy/limits.py)."""
        return notional_per_share(price, self.tick_size, self.slippage, side)


def round_shares(x: Decimal) -> Decimal:
    """Floor to the 0.01-share step; never negative."""
    if x <= 0:
        return Decimal("0.00")
    return x.quantize(SHARE_STEP, rounding=ROUND_DOWN)


def size_order(source_size: Decimal, price: Decimal, p: SizingParams, side: str = "BUY") -> Decimal:
    """Shares to order for `source_size` source shares traded at `price` on `side` (0 if nothing)."""
    if source_size <= 0 or price <= 0:
        return Decimal("0.00")
    if p.mode == "fixed":
        return round_shares(p.fixed_notional_usd / price)
    shares = p.size_multiplier * source_size
    if p.mode == "capped_proportional":
        shares = min(shares, p.max_notional_per_order_usd / p.notional_per_share(price, side))
    elif p.mode != "proportional":
        raise ValueError(f"unknown sizing mode {p.mode!r}")
    return round_shares(shares)


def min_notional_usd(p: SizingParams) -> Decimal:
    return max(MIN_MARKETABLE_USD, p.min_order_notional_usd)


def untradable_reason(size: Decimal, price: Decimal, p: SizingParams) -> str | None:
    """Why an order of `size` shares at `price` cannot be sent alone under this policy, or None.

    The notional is judged at the source price (the executor's BUY limit is higher, so a BUY
    that passes here passes there too).
    """
    return untradable(size, size * price, min_size=p.min_order_size_shares, min_notional_usd=min_notional_usd(p))
