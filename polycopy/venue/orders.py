"""Order math in Decimal: the marketable-limit price, tick snapping and the signed amounts.

Pure functions, no I/O. Amounts follow CLOB-V2.md §2.6 (the official SDK's market-order path,
which FAK/FOK orders must use): a BUY offers pUSD rounded down to 2 decimals and asks for
shares = pUSD / price, a SELL offers shares and asks for pUSD = shares x price; the asked-for
amount keeps at most the tick's `amount` decimals and is rounded down.
A plan that breaks a venue rule raises `PlanRejected` with a short reason code, so it is
never signed or sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from polycopy.errors import PlanRejected
from polycopy.policy.limits import BEYOND_SLIPPAGE, MIN_MARKETABLE_USD, Slippage, price_limit, refusal_text, untradable

UNIT = Decimal(10) ** 6  # pUSD and shares have 6 decimals

# tick -> (price decimals, size decimals, amount decimals)
ROUNDING: dict[Decimal, tuple[int, int, int]] = {
    Decimal("0.1"): (1, 2, 3),
    Decimal("0.01"): (2, 2, 4),
    Decimal("0.005"): (3, 2, 5),
    Decimal("0.0025"): (4, 2, 6),
    Decimal("0.001"): (3, 2, 5),
    Decimal("0.0001"): (4, 2, 6),
}


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    size: Decimal  # shares


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPlan:
    """Everything the signer needs, already rounded. Amounts are integer base units."""

    token_id: str
    side: str  # "BUY" | "SELL"
    order_type: str  # "FAK" | "FOK"
    price: Decimal  # limit (BUY: cap, SELL: floor), on the tick grid
    size: Decimal  # shares the amounts stand for
    notional: Decimal  # pUSD the amounts stand for
    maker_amount: int
    taker_amount: int
    tick_size: Decimal


def _q(value: Decimal, decimals: int, rounding: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def _dp(value: Decimal) -> int:
    exp = value.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def rounding_for(tick: Decimal) -> tuple[int, int, int]:
    try:
        return ROUNDING[Decimal(tick).normalize()]
    except KeyError:
        raise PlanRejected("unsupported_tick", f"tick size {tick} is not one the venue uses") from None


def price_problem(price: Decimal, tick: Decimal) -> str | None:
    """None if `price` is a valid order price for `tick`, else the reason code."""
    if price < tick or price > 1 - tick:
        return "price_out_of_range"
    if price % tick != 0:
        return "off_tick"
    return None


def marketable_price(*, side: str, source_price: Decimal, levels: list[Level], size: Decimal,
                     tick: Decimal, slippage: Slippage) -> Decimal:
    """The limit price: deep enough in the book to fill `size`, never worse than the price limit
    (policy/limits.py: the source's price moved by the slippage allowed). `levels` is the side we
    take from, best first (asks for a BUY, bids for a SELL)."""
    if not levels:
        raise PlanRejected("no_liquidity", "the book has no levels on the side we take")
    bound = price_limit(side, source_price, tick, slippage)
    best = levels[0].price
    if bound is None or (side == "BUY" and best > bound) or (side == "SELL" and best < bound):
        raise PlanRejected(BEYOND_SLIPPAGE, f"best {best} is past the limit {bound} (source {source_price})",
                           recorded=refusal_text(best, bound))
    need, price = size, best
    for level in levels:
        if (side == "BUY" and level.price > bound) or (side == "SELL" and level.price < bound):
            break
        price = level.price
        need -= level.size
        if need <= 0:
            break
    if need > 0:  # the book within the bound is thinner than we want: reach to the bound
        price = bound
    return price


def amounts(*, side: str, size: Decimal, price: Decimal, tick: Decimal) -> tuple[int, int, Decimal, Decimal]:
    """(maker_amount, taker_amount, shares, pUSD) for a marketable order (CLOB-V2.md §2.6)."""
    price_dp, size_dp, amount_dp = rounding_for(tick)
    price = _q(price, price_dp, ROUND_FLOOR)
    if side == "BUY":
        usd = _q(size * price, size_dp, ROUND_FLOOR)
        shares = _fix(usd / price, amount_dp)
        return _units(usd), _units(shares), shares, usd
    shares = _q(size, size_dp, ROUND_FLOOR)
    usd = _fix(shares * price, amount_dp)
    return _units(shares), _units(usd), shares, usd


def _fix(value: Decimal, amount_dp: int) -> Decimal:
    if _dp(value) > amount_dp:
        value = _q(value, amount_dp + 4, ROUND_CEILING)
        if _dp(value) > amount_dp:
            value = _q(value, amount_dp, ROUND_FLOOR)
    return value


def _units(value: Decimal) -> int:
    return int((value * UNIT).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def plan_order(*, token_id: str, side: str, size: Decimal, price: Decimal, tick: Decimal,
               min_size: Decimal, order_type: str = "FAK") -> OrderPlan:
    """Check the venue's rules and compute the amounts; raises PlanRejected with the reason."""
    if side not in ("BUY", "SELL"):
        raise PlanRejected("bad_side", side)
    if order_type not in ("FAK", "FOK"):
        raise PlanRejected("bad_order_type", order_type)
    tick = Decimal(tick)
    rounding_for(tick)
    problem = price_problem(price, tick)
    if problem:
        raise PlanRejected(problem, f"price {price} with tick {tick}")
    maker, taker, shares, usd = amounts(side=side, size=size, price=price, tick=tick)
    if maker <= 0 or taker <= 0:
        raise PlanRejected("zero_size", f"{size} shares at {price} rounds to nothing")
    # the venue's $1 rule is documented for marketable BUYs
    if why := untradable(shares, usd, min_size=min_size, min_notional_usd=MIN_MARKETABLE_USD if side == "BUY" else 0):
        raise PlanRejected(why, f"{shares} shares at {price} (minimum {min_size} shares; ${usd})")
    return OrderPlan(token_id=token_id, side=side, order_type=order_type, price=price, size=shares,
                     notional=usd, maker_amount=maker, taker_amount=taker, tick_size=tick)
