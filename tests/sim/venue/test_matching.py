"""Order validation and matching, driven in-process through Venue.place."""
from decimal import Decimal as D

import pytest

from polycopy.sim.venue.engine import BALANCE_MSG, FAK_MSG, FOK_MSG
from polycopy.sim.venue.wire import trade_view
from tests.sim.venue.helpers import (
    HARDHAT_ADDR, HARDHAT_KEY, OTHER_ADDR, OTHER_KEY, T1, sign_order)

U = 1_000_000


def limit(venue, api, side, price, size, key=HARDHAT_KEY, **kw):
    shares, pusd = int(D(size) * U), int(D(size) * D(price) * U)
    maker, taker = (pusd, shares) if side == "BUY" else (shares, pusd)
    kw.setdefault("salt", abs(hash((side, price, size, kw.get("order_type")))) % 2**50)
    return sign_order(venue, private_key=key, token=kw.pop("token", T1), side=side,
                      maker_amount=maker, taker_amount=taker, owner=api.key, **kw)


def market_buy(venue, api, pusd, cap, key=HARDHAT_KEY, order_type="FAK", **kw):
    maker = int(D(pusd) * U)
    taker = int((D(pusd) / D(cap)).quantize(D("0.0001"), rounding="ROUND_DOWN") * U)
    return sign_order(venue, private_key=key, token=T1, side="BUY", maker_amount=maker,
                      taker_amount=taker, owner=api.key, order_type=order_type,
                      salt=kw.pop("salt", 7), **kw)


def test_fak_buy_walks_the_asks_and_moves_funds(venue, api):
    status, out = venue.place(api, market_buy(venue, api, "20", "0.53"))
    assert status == 200 and out["status"] == "matched"
    assert len(out["tradeIDs"]) == 2 and "transactionsHashes" not in out  # trade ids only
    assert D(out["takingAmount"]) == D("20") + D("18.113207")  # 20 @0.52, 9.60 pUSD @0.53
    assert D(out["makingAmount"]) == D("20")
    assert venue.balance(HARDHAT_ADDR) == D("980")
    assert venue.positions(HARDHAT_ADDR)[T1] == D("100") + D(out["takingAmount"])
    asks = venue.book(T1)["asks"]
    assert asks[-1]["price"] == "0.53"  # the 0.52 level is gone, best ask last
    assert D(asks[-1]["size"]) == D(100) - (D(out["takingAmount"]) - 20)
    assert [t["price"] for t in venue.trades] == ["0.52", "0.53"]
    assert venue.orders[out["orderID"]].status == "MATCHED"


def test_fok_is_all_or_nothing(venue, api):
    before = venue.book(T1)
    assert venue.place(api, market_buy(venue, api, "200", "0.53", order_type="FOK")) == (
        400, {"error": FOK_MSG})
    assert venue.book(T1)["asks"] == before["asks"]
    assert venue.balance(HARDHAT_ADDR) == D("1000") and venue.orders == {}
    status, out = venue.place(api, market_buy(venue, api, "5", "0.52", order_type="FOK"))
    assert status == 200 and out["status"] == "matched"


def test_fak_without_a_match_is_killed_with_the_real_message(venue, api):
    assert venue.place(api, market_buy(venue, api, "5", "0.51")) == (400, {"error": FAK_MSG})
    assert venue.orders == {}


def test_resting_gtc_is_hit_by_another_user_and_taker_pays_the_fee(venue, api):
    venue.markets[venue.market_for_token(T1).condition_id].fee_rate = D("0.07")
    status, out = venue.place(api, limit(venue, api, "SELL", "0.51", "10"))
    assert (status, out["status"]) == (200, "live")
    maker_id = out["orderID"]
    assert venue.book(T1)["asks"][-1] == {"price": "0.51", "size": "10"}

    other = venue.keys.derive(OTHER_ADDR, 0)
    venue.fund(OTHER_ADDR, D("100"))
    status, taken = venue.place(other, market_buy(venue, other, "5.1", "0.51", key=OTHER_KEY))
    assert status == 200 and D(taken["takingAmount"]) == D("10")
    fee = (D(10) * D("0.07") * D("0.51") * D("0.49")).quantize(D("0.00001"))
    assert venue.balance(OTHER_ADDR) == D("100") - D("5.1") - fee
    assert venue.positions(OTHER_ADDR)[T1] == D("10")
    assert venue.balance(HARDHAT_ADDR) == D("1000") + D("5.1")  # makers pay no fee
    assert venue.positions(HARDHAT_ADDR)[T1] == D("90")
    maker = venue.orders[maker_id]
    assert (maker.status, maker.size_matched) == ("MATCHED", D("10"))
    assert maker.associate_trades == taken["tradeIDs"]
    trade = venue.trades[-1]
    assert trade["maker_orders"][0]["owner"] == api.key and trade["owner"] == other.key
    assert trade["fee"] == str(fee) and isinstance(trade["match_mono_ns"], int)
    assert "fee" not in trade_view(trade, other.key)
    assert trade_view(trade, api.key)["trader_side"] == "MAKER"


def test_post_only(venue, api):
    crossing = limit(venue, api, "BUY", "0.52", "10", post_only=True)
    assert venue.place(api, crossing) == (
        400, {"error": "invalid post-only order: order crosses book"})
    status, out = venue.place(api, limit(venue, api, "BUY", "0.51", "10", post_only=True))
    assert (status, out["status"]) == (200, "live")


def test_same_signed_order_twice_creates_no_second_order(venue, api):
    body = limit(venue, api, "BUY", "0.40", "10")
    status, out = venue.place(api, body)
    assert status == 200
    assert venue.place(api, body) == (
        400, {"error": f"order {out['orderID']} is invalid. Duplicated."})
    assert len(venue.orders) == 1
    assert venue.book(T1)["bids"][0] == {"price": "0.4", "size": "10"}


def test_balance_and_reservations(venue, api):
    venue.fund(HARDHAT_ADDR, D("6"))
    assert venue.place(api, limit(venue, api, "BUY", "0.40", "10"))[0] == 200  # reserves 4
    assert venue.place(api, limit(venue, api, "BUY", "0.30", "10")) == (
        400, {"error": BALANCE_MSG})
    assert venue.place(api, limit(venue, api, "SELL", "0.90", "101")) == (
        400, {"error": BALANCE_MSG})


@pytest.mark.parametrize("side,price,size,message", [
    ("BUY", "0.525", "10", "Price (0.525) breaks minimum tick size rule: 0.01"),
    ("SELL", "0.995", "10", "Price (0.995) breaks minimum tick size rule: 0.01"),
    ("BUY", "0.40", "3", "Size (3) lower than the minimum: 5"),
])
def test_tick_and_size_rules(venue, api, side, price, size, message):
    status, out = venue.place(api, limit(venue, api, side, price, size))
    assert status == 400 and out["error"].startswith("order 0x")
    assert out["error"].endswith("is invalid. " + message)


def test_market_buy_amount_precision_and_minimum(venue, api):
    body = sign_order(venue, private_key=HARDHAT_KEY, token=T1, side="BUY",
                      maker_amount=5_123_000, taker_amount=9_660_000, owner=api.key,
                      order_type="FAK")
    assert venue.place(api, body) == (400, {"error": (
        "invalid amounts, the market buy orders maker amount supports a max accuracy of "
        "2 decimals, taker amount a max of 4 decimals")})
    status, out = venue.place(api, market_buy(venue, api, "0.5", "0.05"))
    assert (status, out) == (400, {
        "error": "invalid amount for a marketable BUY order ($0.5), min size: $1"})


def test_owner_signer_and_expiration_checks(venue, api):
    body = limit(venue, api, "BUY", "0.40", "10")
    body["owner"] = "someone-else"
    assert venue.place(api, body) == (
        400, {"error": "the order owner has to be the owner of the API KEY"})
    foreign = limit(venue, api, "BUY", "0.40", "10", key=OTHER_KEY)
    assert venue.place(api, foreign) == (
        400, {"error": "the order signer address has to be the address of the API KEY"})
    gtd = limit(venue, api, "BUY", "0.40", "10", order_type="GTD",
                expiration=int(venue.clock()) + 30)
    assert venue.place(api, gtd) == (400, {"error": "invalid expiration"})
    assert venue.place(api, {"order": "nope"}) == (400, {"error": "Invalid order payload"})
    assert venue.orders == {}


def test_wallet_rules(venue, api):
    other_maker = limit(venue, api, "BUY", "0.40", "10", maker=OTHER_ADDR)
    assert venue.place(api, other_maker) == (400, {"error": "invalid signature"})
    venue.check_wallets = False  # the knob lets a scenario use any funder
    venue.fund(OTHER_ADDR, D("10"))
    assert venue.place(api, other_maker)[0] == 200
    assert venue.available(OTHER_ADDR, "pUSD") == D("6")
