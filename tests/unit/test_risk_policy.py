from decimal import ROUND_DOWN
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from polycopy.config.models import Config
from polycopy.messages import CopyIntent, Market, SourceFill
from polycopy.policy.coalesce import BurstCoalescer, CoalesceParams, Emit, intent_id_for
from polycopy.policy.markets import window_start
from polycopy.policy.risk import SETTLED, ExposureBook, Limits, decide, entry_for, utc_day
from polycopy.policy.sizing import SizingParams

NOW = 1_800_000_000  # a multiple of 900
END = NOW + 600


def limits(**kw) -> Limits:
    base = dict(
        max_order_usd=D("25"), max_market_usd=D("150"), max_window_usd=D("400"), max_daily_usd=D("2000"),
        max_portfolio_usd=D("1000"), near_expiry_s=25, clip_to_room=True, blacklist_markets=frozenset(),
        blacklist_outcomes=frozenset(),
        sizing=SizingParams("capped_proportional", D(1), D(5), D(1), D(25), 120, D(5)),
    )
    base.update(kw)
    return Limits(**base)


def facts(end=END, min_size="5", accepting=True, slug="btc-updown-15m-x", cid="0xc", tick="0.001"):
    """A market on a 0.001 tick: 120 bps of slippage at 0.50 is 0.506, a whole number of ticks."""
    return Market(condition_id=cid, token_ids=("tok", "tok2"), outcomes=("Up", "Down"), end_ts=end,
                  tick_size=D(tick), min_order_size=D(min_size), neg_risk=False, slug=slug, accepting_orders=accepting)


def intent(iid="i1", size="10", price="0.50", side="BUY", cid="0xc", token="tok", end=END, opening=None, slug="",
           market="default"):
    return CopyIntent(
        intent_id=iid, token_id=token, condition_id=cid, side=side, size=D(size), source_price=D(price),
        source_size=D(size), fill_keys=(iid,), first_recv_mono_ns=0, opening=(side == "BUY") if opening is None else opening,
        market=facts(end=end, slug=slug, cid=cid) if market == "default" else market,
    )


def approve(book, it, lim=None, now=NOW, **kw):
    d = decide(it, now, lim or limits(), book, **kw)
    if d.approved:
        book.add(entry_for(it, d))
    return d


def test_limits_from_config():
    lim = Limits.from_config(Config())
    assert (lim.max_order_usd, lim.max_window_usd, lim.near_expiry_s, lim.clip_to_room) == (D(25), D(400), 25, True)


def test_plain_approval_reserves_at_the_worst_price():
    d = decide(intent(size="10"), NOW, limits(), ExposureBook())
    assert (d.decision, d.reason, d.size, d.notional_usd) == ("approved", "ok", D("10.00"), D("5.06"))
    assert d.window == window_start(END) and d.day == utc_day(NOW)


def test_kill_switch_rejects_everything():
    assert decide(intent(), NOW, limits(), ExposureBook(), kill=True).reason == "kill_switch"


def test_duplicate_intent_is_rejected():
    book = ExposureBook()
    approve(book, intent())
    assert decide(intent(), NOW, limits(), book).reason == "duplicate_intent"


def test_blacklists_by_market_slug_token_and_outcome_name():
    b = ExposureBook()
    assert decide(intent(), NOW, limits(blacklist_markets=frozenset({"0xc"})), b).reason == "blacklisted_market"
    assert decide(intent(slug="eth-x"), NOW, limits(blacklist_markets=frozenset({"eth-x"})), b).reason == "blacklisted_market"
    assert decide(intent(), NOW, limits(blacklist_outcomes=frozenset({"tok"})), b).reason == "blacklisted_outcome"
    assert decide(intent(), NOW, limits(blacklist_outcomes=frozenset({"Up"})), b).reason == "blacklisted_outcome"
    assert decide(intent(), NOW, limits(blacklist_outcomes=frozenset({"Down"})), b).approved


def test_no_opening_trade_near_the_end_but_closing_passes():
    b = ExposureBook()
    assert decide(intent(end=NOW + 10), NOW, limits(), b).reason == "near_expiry"
    assert decide(intent(end=NOW - 5), NOW, limits(), b).reason == "market_ended"
    assert decide(intent(side="SELL", end=NOW + 10), NOW, limits(), b).approved
    assert decide(intent(end=NOW + 25), NOW, limits(), b).approved


def test_unknown_end_rejects_opening_trades_fail_closed():
    b = ExposureBook()
    assert decide(intent(end=0), NOW, limits(), b).reason == "market_end_unknown"
    assert decide(intent(end=0, side="SELL"), NOW, limits(), b).approved
    # risk reads the end the catalog resolved, and guesses nothing from a slug
    assert decide(intent(end=0, slug=f"btc-updown-15m-{NOW - 900 + 600}"), NOW, limits(), b).reason == "market_end_unknown"


def test_without_its_market_no_intent_passes():
    b = ExposureBook()
    assert decide(intent(market=None), NOW, limits(), b).reason == "market_unknown"
    assert decide(intent(market=None, side="SELL"), NOW, limits(), b).reason == "market_unknown"


def test_paused_entries_refuse_opening_trades_only():
    b = ExposureBook()
    assert decide(intent(), NOW, limits(), b, entries_paused="region_close_only").reason == "region_close_only"
    assert decide(intent(side="SELL"), NOW, limits(), b, entries_paused="region_close_only").approved


def test_market_not_accepting_orders_is_rejected():
    assert decide(intent(market=facts(accepting=False)), NOW, limits(), ExposureBook()).reason == "not_accepting_orders"


def test_per_order_cap_clips_or_rejects():
    d = decide(intent(size="100"), NOW, limits(), ExposureBook())
    assert (d.decision, d.reason, d.size) == ("clipped", "cap_order", D("49.40"))
    assert d.notional_usd <= D(25)
    assert decide(intent(size="100"), NOW, limits(clip_to_room=False), ExposureBook()).reason == "cap_order"


def test_market_cap_shared_by_intents_on_the_same_condition():
    book, lim = ExposureBook(), limits(max_order_usd=D("100"))
    assert approve(book, intent("a", size="197"), lim).decision == "approved"  # 99.682
    d = approve(book, intent("b", size="197", token="tok2"), lim)
    assert (d.decision, d.reason, d.size) == ("clipped", "cap_market", D("99.44"))  # 50.318 / 0.506
    assert book.market["0xc"] <= D(150)
    assert approve(book, intent("c", size="20"), lim).reason == "cap_market"  # no room for 5 shares


def test_window_cap_is_shared_by_markets_ending_in_the_same_window():
    book, lim = ExposureBook(), limits(max_window_usd=D("30"))
    approve(book, intent("a", size="40", cid="0x1"), lim)  # 20.24
    d = approve(book, intent("b", size="40", cid="0x2"), lim)
    assert (d.decision, d.reason, d.size) == ("clipped", "cap_window", D("19.28"))  # 9.76 / 0.506
    # a market ending in the next window has its own room
    assert approve(book, intent("c", size="40", cid="0x3", end=END + 900), lim).decision == "approved"


def test_daily_cap_counts_both_sides_and_resets_on_a_new_utc_day():
    book, lim = ExposureBook(), limits(max_daily_usd=D("15"))
    approve(book, intent("a", size="20"), lim)  # 10.12
    assert approve(book, intent("b", size="20", side="SELL"), lim).reason == "cap_daily"
    tomorrow = (utc_day(NOW) + 1) * 86400 + 10
    assert approve(book, intent("c", size="20", end=tomorrow + 600), lim, now=tomorrow).decision == "approved"


def test_portfolio_counts_only_markets_not_yet_ended():
    book, lim = ExposureBook(), limits(max_portfolio_usd=D("12"), max_window_usd=D("1000"))
    approve(book, intent("a", size="20", cid="0x1"), lim)  # 10.12
    assert approve(book, intent("b", size="20", cid="0x2", end=END + 900), lim).reason == "cap_portfolio"
    later = END + 1
    d = approve(book, intent("c", size="20", cid="0x3", end=later + 900), lim, now=later)
    assert d.decision == "approved"


def test_below_minimum_is_rejected_with_its_reason():
    b = ExposureBook()
    assert decide(intent(size="4"), NOW, limits(), b).reason == "below_min_size"
    assert decide(intent(size="4", market=facts(min_size="1")), NOW, limits(), b).approved
    assert decide(intent(size="8", price="0.10"), NOW, limits(), b).reason == "below_min_notional"


def test_settlement_frees_what_did_not_fill_and_unknown_keeps_the_reservation():
    book = ExposureBook()
    approve(book, intent("a", size="20"))
    approve(book, intent("b", size="20"))
    approve(book, intent("c", size="20"))
    assert book.market["0xc"] == D("30.36")
    book.settle("a", "partial", D("4"))
    book.settle("b", "rejected", D("0"))
    book.settle("c", "unknown", D("0"))
    assert book.market["0xc"] == D("4") + D("10.12")
    book.settle("c", "filled", D("9.90"))
    assert book.market["0xc"] == D("13.90") and book.entries["c"].state == SETTLED
    assert book.settle("nope", "filled", D(1)) is None


# ------------------------------------------------------------------ property: no cap is ever passed

CIDS = [("0x1", END), ("0x2", END), ("0x3", END + 900), ("0x4", END + 1800)]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("intent"), st.integers(0, 3), st.sampled_from(["BUY", "SELL"]),
                  st.decimals(min_value=D("0.01"), max_value=D("120"), places=2),
                  st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2)),
        st.tuples(st.just("outcome"), st.integers(0, 1000), st.sampled_from(["filled", "partial", "rejected", "unknown", "not_sent"]),
                  st.floats(min_value=0, max_value=1)),
        st.tuples(st.just("time"), st.integers(1, 700)),
    ),
    max_size=60,
)


def recount(book, now):
    market, window, daily = {}, {}, {}
    for e in book.entries.values():
        daily[e.day] = daily.get(e.day, 0) + e.counted()
        if e.opening:
            market[e.condition_id] = market.get(e.condition_id, 0) + e.counted()
            window[e.window] = window.get(e.window, 0) + e.counted()
    return market, window, daily


@settings(max_examples=200, deadline=None)
@given(ops=ops, clip=st.booleans())
def test_no_cap_is_ever_exceeded_whatever_the_interleaving(ops, clip):
    lim = limits(max_market_usd=D("60"), max_window_usd=D("100"), max_daily_usd=D("170"), max_portfolio_usd=D("120"),
                 clip_to_room=clip)
    book, now, n = ExposureBook(), NOW, 0
    for op in ops:
        if op[0] == "intent":
            _, m, side, size, price = op
            cid, end = CIDS[m]
            it = intent(f"i{n}", size=str(size), price=str(price), side=side, cid=cid, end=end)
            n += 1
            d = approve(book, it, lim, now=now)
            if d.approved:
                assert d.size <= it.size and d.notional_usd <= lim.max_order_usd
        elif op[0] == "outcome" and (live := [e for e in book.entries.values() if e.state != SETTLED]):
            _, k, status, frac = op
            e = live[k % len(live)]
            # the executor's contract: one final outcome per intent (unknown may come first), never
            # more than the reserved worst price
            book.settle(e.intent_id, status, (e.reserved_usd * D(str(frac))).quantize(D("0.000001"), ROUND_DOWN))
        elif op[0] == "time":
            now += op[1]
        market, window, daily = recount(book, now)
        assert all(v <= lim.max_market_usd for v in market.values())
        assert all(v <= lim.max_window_usd for v in window.values())
        assert all(v <= lim.max_daily_usd for v in daily.values())
        assert book.portfolio(now) <= lim.max_portfolio_usd
        # the incremental counters agree with a full recount
        assert {k: v for k, v in book.market.items() if v} == {k: v for k, v in market.items() if v}
        assert {k: v for k, v in book.daily.items() if v} == {k: v for k, v in daily.items() if v}


# ------------------------------------------------------------------ property: coalescer + risk + outcomes
MS = 1_000_000

stream = st.lists(
    st.tuples(st.integers(0, 1500), st.integers(0, 1), st.sampled_from(["BUY", "SELL"]), st.integers(1, 60),
              st.decimals(min_value=D("0.05"), max_value=D("0.95"), places=2),
              st.sampled_from([None, "filled", "partial", "rejected", "unknown"]), st.floats(0, 1)),
    min_size=1, max_size=50,
)


@settings(max_examples=120, deadline=None)
@given(stream=stream, mult=st.sampled_from([D("0.5"), D("1"), D("2.5")]), clip=st.booleans(),
       mode=st.sampled_from(["proportional", "capped_proportional"]))
def test_pipeline_never_passes_a_cap_nor_the_sized_source(stream, mult, clip, mode):
    lim = limits(max_market_usd=D("60"), max_window_usd=D("90"), max_daily_usd=D("150"), max_portfolio_usd=D("100"),
                 clip_to_room=clip, sizing=SizingParams(mode, mult, D(5), D(1), D(25), 120, D(5)))
    tokens = [("tA", "0x1", END), ("tB", "0x2", END + 900)]
    coal = {t: BurstCoalescer(CoalesceParams("intent_net", 2000 * MS, 300 * MS, True), lim.sizing) for t, _, _ in tokens}
    book, t_ms, n = ExposureBook(), 0, 0
    source = {(t, s): D(0) for t, _, _ in tokens for s in ("BUY", "SELL")}
    approved = {(t, s): D(0) for t, _, _ in tokens for s in ("BUY", "SELL")}

    def handle(token, cid, end, actions, now_s):
        for a in actions:
            if not isinstance(a, Emit):
                continue
            pc = a.piece
            it = CopyIntent(intent_id=intent_id_for(pc.fill_keys), token_id=token, condition_id=cid, side=pc.side,
                            size=a.size, source_price=pc.source_price, source_size=pc.source_size, fill_keys=pc.fill_keys,
                            first_recv_mono_ns=0, opening=pc.side == "BUY", market=facts(end=end, cid=cid))
            assert a.size <= mult * pc.source_size
            d = approve(book, it, lim, now=now_s)
            if d.approved:
                approved[(token, pc.side)] += d.size

    for gap, k, side, size, price, outcome, frac in stream:
        t_ms += gap
        token, cid, end = tokens[k]
        now_s = NOW + t_ms / 1000
        for tk, c, e in tokens:  # timers that fell due
            while (due := coal[tk].next_due_ns()) is not None and due <= t_ms * MS:
                handle(tk, c, e, coal[tk].tick(due), NOW + due / MS / 1000)
        f = SourceFill(key=f"f{n}", source_wallet="0xabc", condition_id=cid, token_id=token, outcome="Up", side=side,
                       price=price, size=D(size), tx_hash=f"t{n}", source_ts_ms=0, feed="rtds", recv_mono_ns=0)
        n += 1
        source[(token, side)] += D(size)
        handle(token, cid, end, coal[token].add([f], t_ms * MS), now_s)
        if outcome and (live := [e for e in book.entries.values() if e.state != SETTLED]):
            e = live[n % len(live)]
            book.settle(e.intent_id, outcome, (e.reserved_usd * D(str(frac))).quantize(D("0.000001"), ROUND_DOWN))
        market, window, daily = recount(book, now_s)
        assert all(v <= lim.max_market_usd for v in market.values())
        assert all(v <= lim.max_window_usd for v in window.values())
        assert all(v <= lim.max_daily_usd for v in daily.values())
        assert book.portfolio(now_s) <= lim.max_portfolio_usd
    for tk, c, e in tokens:
        handle(tk, c, e, coal[tk].flush_all(), NOW + t_ms / 1000 + 3)
    for key, total in approved.items():
        assert total <= mult * source[key]  # never more than the sized source on either side
