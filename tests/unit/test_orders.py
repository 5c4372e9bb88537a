from decimal import Decimal as D

import pytest

from polycopy.policy.limits import Slippage, parse_refusal, snap
from polycopy.venue.orders import Level, PlanRejected, amounts, marketable_price, plan_order, price_problem

ASKS = [Level(D("0.52"), D("4")), Level(D("0.53"), D("10")), Level(D("0.56"), D("100"))]
BIDS = [Level(D("0.50"), D("4")), Level(D("0.49"), D("10")), Level(D("0.45"), D("100"))]


def test_vector_market_buy_amounts():
    # CLOB-V2.md §2.6 / order_vectors_all.json buy_market_fak_eoa: $5 at cap 0.53
    maker, taker, shares, usd = amounts(side="BUY", size=D("9.434"), price=D("0.53"), tick=D("0.01"))
    assert (maker, taker) == (5_000_000, 9_433_900)
    assert usd == D("5.00") and shares == D("9.4339")


def test_market_sell_amounts_match_protocol_table():
    # PROTOCOL.md §6.3: market SELL 9.4339 sh at 0.536 (V2 floors the price to 0.53)
    maker, taker, _, _ = amounts(side="SELL", size=D("9.4339"), price=D("0.536"), tick=D("0.01"))
    assert (maker, taker) == (9_430_000, 4_997_900)
    maker, taker, _, _ = amounts(side="SELL", size=D("9.43"), price=D("0.51"), tick=D("0.01"))
    assert (maker, taker) == (9_430_000, 4_809_300)


def test_market_buy_fine_tick():
    maker, taker, _, _ = amounts(side="BUY", size=D("1.002"), price=D("0.999"), tick=D("0.001"))
    assert (maker, taker) == (1_000_000, 1_001_000)


def test_snap_never_passes_the_limit():
    assert snap(D("0.5236"), D("0.01"), "BUY") == D("0.52")
    assert snap(D("0.5236"), D("0.01"), "SELL") == D("0.53")
    assert snap(D("0.5236"), D("0.005"), "BUY") == D("0.52")
    assert snap(D("0.5276"), D("0.0025"), "SELL") == D("0.5300")


def test_buy_price_walks_to_the_level_that_fills():
    p = marketable_price(side="BUY", source_price=D("0.52"), levels=ASKS, size=D("10"), tick=D("0.01"), slippage=Slippage(1000))
    assert p == D("0.53")  # 4 @ .52 + 6 of 10 @ .53


def test_buy_price_capped_by_slippage():
    # cap = 0.52 * 1.012 = 0.52624 -> 0.52; the 0.53 level is beyond it; book within cap too thin -> the cap
    p = marketable_price(side="BUY", source_price=D("0.52"), levels=ASKS, size=D("10"), tick=D("0.01"), slippage=Slippage(120))
    assert p == D("0.52")


def test_sell_price_walks_down_within_floor():
    p = marketable_price(side="SELL", source_price=D("0.50"), levels=BIDS, size=D("10"), tick=D("0.01"), slippage=Slippage(300))
    assert p == D("0.49")
    p = marketable_price(side="SELL", source_price=D("0.50"), levels=BIDS, size=D("1000"), tick=D("0.01"), slippage=Slippage(300))
    assert p == D("0.49")  # floor 0.485 snaps up to 0.49; the 0.45 level is out of bounds


def test_book_beyond_slippage_is_rejected():
    with pytest.raises(PlanRejected) as e:
        marketable_price(side="BUY", source_price=D("0.40"), levels=ASKS, size=D("5"), tick=D("0.01"), slippage=Slippage(120))
    assert e.value.reason == "beyond_slippage"
    assert parse_refusal(e.value.recorded) == ("beyond_slippage", D("0.52"))  # the price it would have needed
    with pytest.raises(PlanRejected) as e:
        marketable_price(side="BUY", source_price=D("0.40"), levels=[], size=D("5"), tick=D("0.01"), slippage=Slippage(120))
    assert e.value.reason == "no_liquidity"


def test_plan_order_checks_the_rules():
    plan = plan_order(token_id="1", side="BUY", size=D("10"), price=D("0.52"), tick=D("0.01"), min_size=D("5"))
    assert (plan.maker_amount, plan.taker_amount) == (5_200_000, 10_000_000)
    assert plan.notional == D("5.20")
    cases = [
        (dict(price=D("0.523")), "off_tick"),
        (dict(price=D("0.995")), "price_out_of_range"),
        (dict(size=D("4")), "below_min_size"),
        (dict(size=D("5"), price=D("0.10")), "below_min_notional"),
        (dict(tick=D("0.02")), "unsupported_tick"),
        (dict(size=D("0.001")), "zero_size"),
    ]
    for change, reason in cases:
        args = dict(token_id="1", side="BUY", size=D("10"), price=D("0.52"), tick=D("0.01"), min_size=D("5"))
        args.update(change)
        with pytest.raises(PlanRejected) as e:
            plan_order(**args)
        assert e.value.reason == reason, change


def test_price_problem():
    assert price_problem(D("0.525"), D("0.005")) is None
    assert price_problem(D("0.5225"), D("0.005")) == "off_tick"
    assert price_problem(D("0.0001"), D("0.001")) == "price_out_of_range"


def test_bound_clamped_to_valid_prices():
    thin = [Level(D("0.98"), D("1"))]
    p = marketable_price(side="BUY", source_price=D("0.985"), levels=thin, size=D("10"), tick=D("0.01"), slippage=Slippage(500))
    assert p == D("0.99")  # not 1.00
    p = marketable_price(side="SELL", source_price=D("0.02"), levels=[Level(D("0.02"), D("1"))], size=D("10"),
                         tick=D("0.01"), slippage=Slippage(9000))
    assert p == D("0.01")


def test_small_sell_allowed_small_buy_not():
    sell = plan_order(token_id="1", side="SELL", size=D("5"), price=D("0.10"), tick=D("0.01"), min_size=D("5"))
    assert (sell.maker_amount, sell.taker_amount) == (5_000_000, 500_000)
    with pytest.raises(PlanRejected):
        plan_order(token_id="1", side="BUY", size=D("5"), price=D("0.10"), tick=D("0.01"), min_size=D("5"))


def test_ticks_let_a_copy_follow_a_book_one_tick_away():
    # 120 bps of 0.48 is less than a tick: alone it refuses an ask of 0.49; one tick allows it
    with pytest.raises(PlanRejected) as e:
        marketable_price(side="BUY", source_price=D("0.48"), levels=[Level(D("0.49"), D("50"))], size=D("10"),
                         tick=D("0.01"), slippage=Slippage(120))
    assert e.value.recorded == "beyond_slippage: needed 0.49, limit 0.48"
    p = marketable_price(side="BUY", source_price=D("0.48"), levels=[Level(D("0.49"), D("50"))], size=D("10"),
                         tick=D("0.01"), slippage=Slippage(120, 1))
    assert p == D("0.49")


def test_no_valid_limit_is_a_slippage_refusal():
    with pytest.raises(PlanRejected) as e:  # a cap under the first tick: no order price is good enough
        marketable_price(side="BUY", source_price=D("0.02"), levels=[Level(D("0.01"), D("50"))], size=D("10"),
                         tick=D("0.01"), slippage=Slippage(0, 0, max_buy_price=D("0.005")))
    assert e.value.reason == "beyond_slippage"
    assert parse_refusal(e.value.recorded) == ("beyond_slippage", D("0.01"))
