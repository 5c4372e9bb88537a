"""The one price limit (policy/limits.py): bps or ticks, whichever is larger, on the tick grid,
never past a configured cap, never crossing 0 or 1."""
from decimal import Decimal as D

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from polycopy.config.models import Config
from polycopy.policy.limits import (Slippage, allowed_move, notional_per_share, parse_refusal, price_limit,
                                    refusal_text)

SHIPPED = Slippage(120, 1)

# (price, tick) -> (BUY limit, SELL limit) under 120 bps or 1 tick
TABLE = {
    (D("0.05"), D("0.01")): (D("0.06"), D("0.04")),  # a tick is 2000 bps here: the tick decides
    (D("0.48"), D("0.01")): (D("0.49"), D("0.47")),  # 120 bps = 0.0058 < a tick
    (D("0.83"), D("0.01")): (D("0.84"), D("0.82")),  # 120 bps = 0.00996 < a tick, just
    (D("0.97"), D("0.01")): (D("0.98"), D("0.96")),  # 120 bps = 0.01164 > a tick: bps decide, snapped inwards
    (D("0.05"), D("0.001")): (D("0.051"), D("0.049")),
    (D("0.48"), D("0.001")): (D("0.485"), D("0.475")),
    (D("0.83"), D("0.001")): (D("0.839"), D("0.821")),
    (D("0.97"), D("0.001")): (D("0.981"), D("0.959")),
}


def within(side, price, tick, slip, limit) -> bool:
    """The limit is a valid order price and gives away no more than the bps or ticks allowed."""
    move = max(price * slip.bps / D(10_000), tick * slip.ticks)
    on_grid = limit % tick == 0 and tick <= limit <= 1 - tick
    return on_grid and (limit <= price + move if side == "BUY" else limit >= price - move)


@pytest.mark.parametrize("price,tick", list(TABLE))
def test_limit_at_the_issue_prices_both_sides_and_ticks(price, tick):
    buy, sell = TABLE[(price, tick)]
    assert price_limit("BUY", price, tick, SHIPPED) == buy
    assert price_limit("SELL", price, tick, SHIPPED) == sell
    for side, limit in (("BUY", buy), ("SELL", sell)):
        assert within(side, price, tick, SHIPPED, limit)
        assert within(side, price, tick, Slippage(120, 0), price_limit(side, price, tick, Slippage(120, 0)))


def test_bps_alone_snap_back_to_the_source_price_below_a_tick():
    assert price_limit("BUY", D("0.48"), D("0.01"), Slippage(120)) == D("0.48")  # the issue's arithmetic
    assert price_limit("SELL", D("0.48"), D("0.01"), Slippage(120)) == D("0.48")
    assert price_limit("BUY", D("0.48"), D("0.01"), Slippage(120, 2)) == D("0.50")


def test_never_crosses_0_or_1():
    assert price_limit("BUY", D("0.97"), D("0.01"), Slippage(120, 5)) == D("0.99")
    assert price_limit("SELL", D("0.05"), D("0.01"), Slippage(120, 10)) == D("0.01")
    assert price_limit("BUY", D("0.9995"), D("0.001"), Slippage(0, 3)) == D("0.999")


def test_price_caps_bound_the_limit_and_snap_inwards():
    slip = Slippage(120, 2, max_buy_price=D("0.555"), min_sell_price=D("0.445"))
    assert price_limit("BUY", D("0.54"), D("0.01"), slip) == D("0.55")  # 0.56 by ticks, 0.555 by cap -> 0.55
    assert price_limit("SELL", D("0.46"), D("0.01"), slip) == D("0.45")  # 0.44 by ticks, 0.445 by cap -> 0.45
    assert price_limit("BUY", D("0.20"), D("0.01"), slip) == D("0.22")  # the cap is above: ticks decide


def test_no_valid_price_within_the_limit_is_none():
    assert price_limit("BUY", D("0.02"), D("0.01"), Slippage(0, 0, max_buy_price=D("0.005"))) is None
    assert price_limit("SELL", D("0.98"), D("0.01"), Slippage(0, 0, min_sell_price=D("0.995"))) is None
    assert price_limit("BUY", D("0.004"), D("0.01"), Slippage(120)) is None  # off the grid, under its first tick


def test_notional_per_share_counts_a_buy_at_its_limit_and_a_sell_without_the_buy_cap():
    slip = Slippage(120, 1, max_buy_price=D("0.60"))
    assert notional_per_share(D("0.48"), D("0.01"), slip) == D("0.49")
    assert notional_per_share(D("0.80"), D("0.01"), slip, "BUY") == D("0.60")
    assert notional_per_share(D("0.80"), D("0.01"), slip, "SELL") == D("0.81")
    assert notional_per_share(D("0.02"), D("0.01"), Slippage(0, 0, max_buy_price=D("0.005"))) == D("0.99")


def test_refusal_text_round_trips_and_other_reasons_are_their_code():
    text = refusal_text(D("0.51"), D("0.48"))
    assert text == "beyond_slippage: needed 0.51, limit 0.48"
    assert parse_refusal(text) == ("beyond_slippage", D("0.51"))
    assert parse_refusal(refusal_text(D("0.01"), None)) == ("beyond_slippage", D("0.01"))
    assert parse_refusal("beyond_slippage") == ("beyond_slippage", None)
    assert parse_refusal("no_liquidity") == ("no_liquidity", None)
    assert parse_refusal("") == ("", None)


def test_slippage_from_config():
    cfg = Config.model_validate({"execution": {"max_slippage_bps": 50, "max_slippage_ticks": 3,
                                               "max_buy_price": "0.9", "min_sell_price": "0.1"}})
    assert Slippage.from_config(cfg.execution) == Slippage(50, 3, D("0.9"), D("0.1"))


TICKS = st.sampled_from([D("0.1"), D("0.01"), D("0.005"), D("0.0025"), D("0.001"), D("0.0001")])
PRICES = st.decimals(min_value=D("0.0001"), max_value=D("0.9999"), places=4)
CAPS = st.one_of(st.none(), st.decimals(min_value=D("0.001"), max_value=D("0.999"), places=3))


@settings(max_examples=2000, deadline=None)
@given(side=st.sampled_from(["BUY", "SELL"]), price=PRICES, tick=TICKS, bps=st.integers(0, 5000),
       ticks=st.integers(0, 100), max_buy=CAPS, min_sell=CAPS)
def test_limit_is_the_best_valid_price_within_every_bound(side, price, tick, bps, ticks, max_buy, min_sell):
    slip = Slippage(bps, ticks, max_buy, min_sell)
    limit = price_limit(side, price, tick, slip)
    move = allowed_move(price, tick, slip)
    if side == "BUY":
        bound = min(price + move, max_buy if max_buy is not None else D(1), 1 - tick)
        if limit is None:
            assert bound < tick  # only when no valid order price is good enough
            return
        assert limit <= bound and limit + tick > bound  # never beyond; and not needlessly tighter
    else:
        bound = max(price - move, min_sell if min_sell is not None else D(0), tick)
        if limit is None:
            assert bound > 1 - tick
            return
        assert limit >= bound and limit - tick < bound
    assert tick <= limit <= 1 - tick and limit % tick == 0
    assert within(side, price, tick, slip, limit)


@settings(max_examples=500, deadline=None)
@given(side=st.sampled_from(["BUY", "SELL"]), price=PRICES, tick=TICKS, bps=st.integers(0, 5000),
       ticks=st.integers(0, 99))
def test_more_slippage_never_tightens_the_limit(side, price, tick, bps, ticks):
    a, b = price_limit(side, price, tick, Slippage(bps, ticks)), price_limit(side, price, tick, Slippage(bps, ticks + 1))
    assume(a is not None)
    assert b is not None and (b >= a if side == "BUY" else b <= a)


@settings(max_examples=500, deadline=None)
@given(price=PRICES, tick=TICKS, bps=st.integers(0, 5000), ticks=st.integers(0, 100), max_buy=CAPS)
def test_a_buy_reservation_covers_its_order(price, tick, bps, ticks, max_buy):
    """Risk reserves at notional_per_share; the executor never prices a BUY above price_limit."""
    slip = Slippage(bps, ticks, max_buy)
    limit = price_limit("BUY", price, tick, slip)
    assume(limit is not None)
    assert limit <= notional_per_share(price, tick, slip, "BUY")
