from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polycopy.config.models import Config
from polycopy.messages import Market
from polycopy.policy.sizing import SizingParams, round_shares, size_order, untradable_reason


def params(**kw) -> SizingParams:
    base = dict(
        mode="capped_proportional",
        size_multiplier=D("1"),
        fixed_notional_usd=D("5"),
        min_order_notional_usd=D("1"),
        max_notional_per_order_usd=D("25"),
        max_slippage_bps=120,
        min_order_size_shares=D("5"),
    )
    base.update(kw)
    return SizingParams(**base)


def test_from_config_reads_sizing_and_slippage():
    p = SizingParams.from_config(Config())
    assert p.mode == "capped_proportional" and p.max_slippage_bps == 120 and p.min_order_size_shares == D("5")
    market = Market(condition_id="0xc", token_ids=("1", "2"), outcomes=("Up", "Down"), end_ts=0, tick_size=D("0.001"),
                    min_order_size=D("1"), neg_risk=False)
    from_market = SizingParams.from_config(Config(), market)
    assert (from_market.min_order_size_shares, from_market.tick_size) == (D("1"), D("0.001"))


def test_round_shares_floors_to_cents_and_never_negative():
    assert round_shares(D("3.339")) == D("3.33")
    assert round_shares(D("-2")) == D("0")


def test_notional_per_share_is_the_buy_limit_on_the_tick_grid():
    assert params().notional_per_share(D("0.50")) == D("0.50")  # +0.006 is less than a tick
    assert params(tick_size=D("0.001")).notional_per_share(D("0.50")) == D("0.506")
    assert params(max_slippage_bps=300).notional_per_share(D("0.985")) == D("0.99")  # never past 1 - tick


def test_notional_per_share_takes_ticks_and_the_buy_cap_from_config():
    cfg = Config.model_validate({"execution": {"max_slippage_ticks": 1, "max_buy_price": "0.60"}})
    p = SizingParams.from_config(cfg)
    assert p.notional_per_share(D("0.48")) == D("0.49")  # one tick beats 120 bps below ~0.83
    assert p.notional_per_share(D("0.80")) == D("0.60")  # a BUY never pays more than the cap
    assert p.notional_per_share(D("0.80"), "SELL") == D("0.81")  # a SELL's proceeds are not capped by it
    assert size_order(D("1000"), D("0.48"), p) == D("51.02")  # 25 / 0.49


def test_fixed_mode_buys_a_fixed_notional():
    assert size_order(D("100"), D("0.50"), params(mode="fixed")) == D("10.00")


def test_proportional_mode_multiplies_the_source_size():
    assert size_order(D("40"), D("0.50"), params(mode="proportional", size_multiplier=D("0.5"))) == D("20.00")
    assert size_order(D("1000"), D("0.50"), params(mode="proportional")) == D("1000.00")  # no cap here; risk clips


def test_capped_proportional_caps_at_the_worst_price():
    size = size_order(D("1000"), D("0.50"), params())
    assert size == D("50.00")  # 25 / 0.50: 120 bps of 0.50 is under one 0.01 tick
    assert size * params().notional_per_share(D("0.50")) <= D("25")
    size = size_order(D("1000"), D("0.50"), params(tick_size=D("0.001")))
    assert size == D("49.40")  # 25 / 0.506 = 49.407...


def test_zero_or_negative_source_gives_zero():
    assert size_order(D("0"), D("0.5"), params()) == 0
    assert size_order(D("5"), D("0"), params()) == 0


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError):
        size_order(D("5"), D("0.5"), params(mode="martingale"))


def test_untradable_reasons():
    p = params()
    assert untradable_reason(D("0"), D("0.5"), p) == "zero_size"
    assert untradable_reason(D("4.99"), D("0.5"), p) == "below_min_size"
    assert untradable_reason(D("5"), D("0.10"), p) == "below_min_notional"  # $0.50 < $1
    assert untradable_reason(D("5"), D("0.20"), p) is None  # exactly $1
    assert untradable_reason(D("5"), D("0.50"), params(min_order_notional_usd=D("3"))) == "below_min_notional"


@settings(max_examples=200, deadline=None)
@given(
    src=st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2),
    price=st.decimals(min_value=D("0.001"), max_value=D("0.999"), places=3),
    mult=st.decimals(min_value=D("0.01"), max_value=D("10"), places=2),
    tick=st.sampled_from([D("0.01"), D("0.001")]),
)
def test_capped_size_never_exceeds_cap_or_proportional_size(src, price, mult, tick):
    p = params(size_multiplier=mult, tick_size=tick)
    size = size_order(src, price, p)
    assert size * p.notional_per_share(price) <= p.max_notional_per_order_usd
    assert size <= mult * src
    assert size == round_shares(size)
