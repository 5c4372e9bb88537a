from decimal import Decimal as D

from polycopy.venue.paper import PaperPoster, book_of, walk
from polycopy.venue.clob import SignedOrder
from polycopy.venue.orders import plan_order

BOOK = book_of(asks=[("0.55", "20"), ("0.52", "4"), ("0.53", "6"), ("0.54", "5")],
               bids=[("0.50", "3"), ("0.49", "10"), ("0.40", "50")])


def _signed(oid):
    return SignedOrder(order_id=oid, order_json="{}", order_type="FAK", maker="", domain_version="2")


def test_walk_by_hand():
    # BUY 12 up to 0.54: 4 @ .52, 6 @ .53, 2 @ .54
    assert walk(side="BUY", levels=BOOK.asks, limit=D("0.54"), size=D("12")) == [
        (D("0.52"), D("4")), (D("0.53"), D("6")), (D("0.54"), D("2"))]
    # SELL 20 down to 0.49: 3 @ .50, 10 @ .49 (0.40 is below the limit)
    assert walk(side="SELL", levels=BOOK.bids, limit=D("0.49"), size=D("20")) == [(D("0.50"), D("3")), (D("0.49"), D("10"))]


def test_paper_fak_partial_and_portfolio():
    poster = PaperPoster()
    plan = plan_order(token_id="tok", side="BUY", size=D("20"), price=D("0.53"), tick=D("0.01"), min_size=D("5"))
    r = poster.post(_signed("0x1"), plan, BOOK)
    # hand walk: 4 @ .52 + 6 @ .53 = 10 shares, 2.08 + 3.18 = 5.26 pUSD
    assert (r.kind, r.status, r.taking, r.making) == ("accepted", "matched", D("10"), D("5.26"))
    assert poster.portfolio.shares["tok"] == D("10") and poster.portfolio.cash == D("-5.26")
    sell = plan_order(token_id="tok", side="SELL", size=D("5"), price=D("0.49"), tick=D("0.01"), min_size=D("5"))
    r = poster.post(_signed("0x2"), sell, BOOK)
    # 3 @ .50 + 2 @ .49 = 1.50 + 0.98 = 2.48
    assert (r.making, r.taking) == (D("5"), D("2.48"))
    assert poster.portfolio.shares["tok"] == D("5") and poster.portfolio.cash == D("-2.78")
    assert poster.lookup("0x1", {}).size_matched == D("10")
    assert poster.post(_signed("0x1"), plan, BOOK).kind == "duplicate"


def test_paper_fok_all_or_nothing_and_no_match():
    poster = PaperPoster()
    fok = plan_order(token_id="tok", side="BUY", size=D("20"), price=D("0.53"), tick=D("0.01"), min_size=D("5"),
                     order_type="FOK")
    assert poster.post(_signed("0x3"), fok, BOOK).reason == "fok_not_filled"
    cheap = plan_order(token_id="tok", side="BUY", size=D("20"), price=D("0.51"), tick=D("0.01"), min_size=D("5"))
    assert poster.post(_signed("0x4"), cheap, BOOK).reason == "fak_no_match"
    assert poster.portfolio.shares == {}
