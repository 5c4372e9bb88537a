"""PnL (policy/pnl.py) against hand computations."""
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from polycopy.policy.pnl import Dealings, MarketPnl, Pnl, Trade, pnl, taker_fee, totals

U, N = "up", "down"
OURS = Dealings(trades=(
    Trade(U, "BUY", D("10"), D("5.00"), fee=D("0.10")),  # 10 @ 0.50
    Trade(U, "BUY", D("10"), D("6.00")),  # 10 @ 0.60 -> average 0.55
    Trade(U, "SELL", D("5"), D("3.50")),  # 5 @ 0.70
    Trade(N, "BUY", D("4"), D("1.60")),  # 4 @ 0.40
))


def test_an_open_market_by_hand():
    # held: 15 up (avg 0.55), 4 down (avg 0.40); marks 0.65 / 0.35
    p = pnl(OURS, {U: D("0.65"), N: D("0.35")}, resolved=False)
    assert (p.cost, p.proceeds, p.fees) == (D("12.60"), D("3.50"), D("0.10"))
    assert p.value == D("11.15")  # 15 x 0.65 + 4 x 0.35
    assert p.realised == D("0.65")  # 3.50 - 5 x 0.55 - 0.10
    assert p.unrealised == D("1.30")  # 15 x (0.65 - 0.55) + 4 x (0.35 - 0.40)
    assert p.total == D("1.95")  # 3.50 + 11.15 - 12.60 - 0.10


def test_a_resolved_market_is_realised_whole_redeemed_or_not():
    marks = {U: D(1), N: D(0)}
    owed = pnl(OURS, marks, resolved=True)  # not redeemed yet: 15 up shares owed 15 pUSD
    assert (owed.total, owed.realised, owed.unrealised, owed.unredeemed) == (D("5.80"), D("5.80"), 0, D("15"))
    paid = pnl(Dealings(OURS.trades, redeemed_usd=D("15"), held={}), marks, resolved=True)
    assert (paid.total, paid.realised, paid.redeemed, paid.unredeemed) == (D("5.80"), D("5.80"), D("15"), 0)


def test_tracking_error_is_ours_minus_the_source_times_the_ratio():
    source = Dealings(trades=(Trade(U, "BUY", D("100"), D("50")), Trade(U, "SELL", D("20"), D("14"))),
                      redeemed_usd=D("80"), held={})
    marks = {U: D(1), N: D(0)}
    theirs = pnl(source, marks, resolved=True)
    assert theirs.total == D("44")  # 14 + 80 - 50
    row = MarketPnl("0xc", pnl(Dealings(OURS.trades, redeemed_usd=D("15"), held={}), marks, True), theirs, D("0.1"))
    assert row.tracking_error == D("1.40")  # 5.80 - 44 x 0.1
    t = totals([row, row])
    assert (t.ours.total, t.source.total, t.tracking_error, t.markets) == (D("11.60"), D("88"), D("2.80"), 2)


def test_merges_and_splits_count_one_pusd_a_pair():
    # split 10 pUSD -> 10 up + 10 down; sell 10 down for 3; merge nothing; hold 10 up at 0.8
    d = Dealings(trades=(Trade(N, "SELL", D("10"), D("3")),), split_usd=D("10"))
    p = pnl(d, {U: D("0.8"), N: D("0.3")}, resolved=False, tokens=(U, N))
    assert p.total == D("1.0")  # 3 + 8 - 10
    assert p.realised == D("-2.0")  # 3 - 10 x 0.50
    m = pnl(Dealings(trades=(Trade(U, "BUY", D("5"), D("3")), Trade(N, "BUY", D("5"), D("1.5"))), merged_usd=D("5")),
            {}, resolved=False, tokens=(U, N))
    assert (m.total, m.realised, m.value) == (D("0.5"), D("0.5"), 0)  # 5 - 4.5


def test_the_venue_holdings_win_over_the_trades():
    d = Dealings(trades=(Trade(U, "BUY", D("10"), D("5")),), held={U: D("4")})  # 6 went elsewhere (say a transfer)
    assert pnl(d, {U: D("0.5")}, resolved=False).value == D("2.0")


def test_taker_fee_formula():
    assert taker_fee(D("100"), D("0.5"), 700) == D("1.75")  # 100 x 0.07 x 0.25
    assert taker_fee(D("100"), D("0.5"), 0) == 0


money = st.decimals(min_value=D("0.01"), max_value=D("1000"), places=2)
price = st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2)


@given(st.lists(st.tuples(st.sampled_from((U, N)), st.sampled_from(("BUY", "SELL")), money, price), max_size=12),
       price, price, st.booleans())
def test_realised_plus_unrealised_is_the_cash_and_value_identity(trades, mu, md, resolved):
    bought: dict = {}
    kept = []
    for tok, side, shares, p in trades:  # never sell more than bought
        if side == "SELL" and bought.get(tok, 0) < shares:
            continue
        bought[tok] = bought.get(tok, 0) + (shares if side == "BUY" else -shares)
        kept.append(Trade(tok, side, shares, shares * p))
    r = pnl(Dealings(tuple(kept)), {U: mu, N: md}, resolved)
    cash = sum((t.notional if t.side == "SELL" else -t.notional for t in kept), D(0))
    assert abs(r.realised + r.unrealised - (cash + r.value)) < D("1e-20")  # average costs divide: 28 digits
    assert isinstance(r + Pnl(), Pnl)
