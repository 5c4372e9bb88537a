from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from polycopy.messages import SourceFill
from polycopy.policy.coalesce import BurstCoalescer, CoalesceParams, Drop, Emit, net_fills
from polycopy.policy.sizing import SizingParams

MS = 1_000_000
TOL = D("1")  # sizing.size_tolerance_shares


def fill(i, size, side="BUY", price="0.50"):
    return SourceFill(
        key=f"tx{i}|tok|{side}|{price}|{size}|0", source_wallet="0xabc", condition_id="0xc", token_id="tok",
        outcome="Up", side=side, price=D(price), size=D(str(size)), tx_hash=f"tx{i}", source_ts_ms=1_000 + i,
        feed="rtds", recv_mono_ns=i,
    )


def sizing(**kw):
    base = dict(mode="proportional", size_multiplier=D("1"), fixed_notional_usd=D("5"), min_order_notional_usd=D("1"),
                max_notional_per_order_usd=D("25"), max_slippage_bps=120, min_order_size_shares=D("5"))
    base.update(kw)
    return SizingParams(**base)


def coalescer(mode="intent_net", horizon_ms=2000, quiet_ms=300, net=True, after=False, **kw):
    return BurstCoalescer(CoalesceParams(mode, horizon_ms * MS, quiet_ms * MS, net, after), sizing(**kw))


def drive(co, events, end_ms=60_000):
    """Feed (t_ms, fills) events in order, firing every timer that falls due before each one."""
    out = []
    for t_ms, fills in list(events) + [(end_ms, [])]:
        t = t_ms * MS
        for _ in range(1000):
            due = co.next_due_ns()
            if due is None or due > t:
                break
            out += [(due // MS, a) for a in co.tick(due)]
        out += [(t_ms, a) for a in co.add(fills, t)]
    return out


def emits(out):
    return [(t, a) for t, a in out if isinstance(a, Emit)]


def signed(a):
    return a.size if a.piece.side == "BUY" else -a.size


# ------------------------------------------------------------------ netting


def test_net_fills_nets_opposite_sides_at_the_net_side_price():
    (pc,) = net_fills([fill(1, 10, "BUY", "0.50"), fill(2, 4, "SELL", "0.60")], True)
    assert (pc.side, pc.source_size, pc.source_price) == ("BUY", D("6"), D("0.50"))
    assert pc.fill_keys == (fill(1, 10).key, fill(2, 4, "SELL", "0.60").key)


def test_net_fills_weights_the_price_by_size():
    (pc,) = net_fills([fill(1, 10, price="0.50"), fill(2, 30, price="0.60")], True)
    assert pc.source_price == D("0.575") and pc.source_size == 40


def test_net_fills_without_netting_gives_one_piece_per_side():
    pieces = net_fills([fill(1, 10), fill(2, 4, "SELL")], False)
    assert [(p.side, p.source_size) for p in pieces] == [("BUY", 10), ("SELL", 4)]


# ------------------------------------------------------------------ intent_net bursts


def test_leading_intent_goes_at_once():
    co = coalescer()
    out = co.add([fill(1, 10)], 0)
    assert len(out) == 1 and out[0].reason == "leading" and out[0].size == D("10")


def test_clusters_with_gaps_wider_than_coalesce_ms_make_two_orders():
    # clusters 450, 420, 480, 450 ms apart: a plain "flush after 300 ms of quiet" would send 5 orders
    events = [(0, [fill(1, 6), fill(2, 6)]), (450, [fill(3, 6)]), (870, [fill(4, 6), fill(5, 7)]),
              (1350, [fill(6, 6)]), (1800, [fill(7, 8)])]
    got = emits(drive(coalescer(), events))
    assert [(t, a.reason) for t, a in got] == [(0, "leading"), (2000, "trailing")]
    assert sum(a.size for _, a in got) == D("45")
    assert got[1][1].piece.fill_keys == tuple(f.key for f in [fill(3, 6), fill(4, 6), fill(5, 7), fill(6, 6), fill(7, 8)])


def test_a_fill_after_the_horizon_opens_a_new_burst_with_its_own_leading_order():
    got = emits(drive(coalescer(), [(0, [fill(1, 10)]), (500, [fill(2, 10)]), (2100, [fill(3, 10)])]))
    assert [(t, a.reason) for t, a in got] == [(0, "leading"), (2000, "trailing"), (2100, "leading")]


def test_a_fill_arriving_before_a_late_timer_still_closes_the_old_horizon_first():
    co = coalescer()
    co.add([fill(1, 10)], 0)
    co.add([fill(2, 10)], 100 * MS)
    out = co.add([fill(3, 10)], 2050 * MS)  # the horizon timer has not been handled yet
    assert [(a.reason, a.piece.fill_keys) for a in out] == [("trailing", (fill(2, 10).key,)), ("leading", (fill(3, 10).key,))]


def test_small_leading_fill_rides_with_the_trailing_order_and_may_flush_early():
    events = [(0, [fill(1, 2)]), (100, [fill(2, 10)]), (900, [fill(3, 6)])]
    got = emits(drive(coalescer(), events))
    # nothing at 0 (2 shares < min size 5); quiet since 100 ms -> early flush at 400; the rest at 2000
    assert [(t, a.size) for t, a in got] == [(400, D("12")), (2000, D("6"))]
    assert got[0][1].piece.fill_keys == (fill(1, 2).key, fill(2, 10).key)


def test_no_early_flush_after_the_leading_order_went():
    got = emits(drive(coalescer(), [(0, [fill(1, 10)]), (100, [fill(2, 10)])]))
    assert [t for t, _ in got] == [0, 2000]


def test_a_whole_burst_below_the_minimum_is_dropped_with_its_reason():
    out = drive(coalescer(), [(0, [fill(1, 2)]), (300, [fill(2, 1)])])
    assert not emits(out)
    ((t, drop),) = out
    assert isinstance(drop, Drop) and drop.reason == "below_min_size" and t == 2000
    assert drop.piece.fill_keys == (fill(1, 2).key, fill(2, 1).key)


def test_below_min_notional_is_named():
    (_, drop), = drive(coalescer(), [(0, [fill(1, 8, price="0.10")])])  # $0.80
    assert drop.reason == "below_min_notional"


def test_opposite_fills_net_out_before_anything_is_sent():
    out = drive(coalescer(), [(0, [fill(1, 3), fill(2, 3, "SELL")]), (200, [fill(3, 4), fill(4, 4, "SELL")])])
    assert not emits(out)
    assert [a.reason for _, a in out] == ["netted_out"]


def test_opposite_fills_inside_the_horizon_net_in_the_trailing_order():
    got = emits(drive(coalescer(), [(0, [fill(1, 10)]), (300, [fill(2, 20, "SELL")]), (700, [fill(3, 8)])]))
    assert [(a.reason, a.piece.side, a.size) for _, a in got] == [("leading", "BUY", D("10")), ("trailing", "SELL", D("12"))]


def test_without_netting_each_side_trades():
    got = emits(drive(coalescer(net=False), [(0, [fill(1, 10)]), (300, [fill(2, 20, "SELL")]), (700, [fill(3, 8)])]))
    assert sorted((a.piece.side, a.size) for _, a in got) == [("BUY", D("8")), ("BUY", D("10")), ("SELL", D("20"))]


def test_flush_all_sends_what_is_pending_and_later_ticks_do_nothing():
    co = coalescer()
    co.add([fill(1, 10)], 0)
    co.add([fill(2, 7)], 100 * MS)
    (a,) = co.flush_all()
    assert a.reason == "trailing" and a.size == D("7")
    assert co.tick(5000 * MS) == [] and co.next_due_ns() is None


# ------------------------------------------------------------------ leading_order: after_window


def test_after_window_sends_nothing_for_a_pair_that_nets_to_zero_in_the_window():
    out = drive(coalescer(after=True), [(0, [fill(1, 10)]), (250, [fill(2, 10, "SELL")])])
    assert not emits(out)
    assert [(t, a.reason) for t, a in out] == [(2000, "netted_out")]  # reported once, at the horizon end


def test_after_window_sends_one_net_order_at_the_window_end():
    events = [(0, [fill(1, 10)]), (100, [fill(2, 6, "SELL")]), (200, [fill(3, 5)])]
    got = emits(drive(coalescer(after=True), events))
    assert [(t, a.reason, a.piece.side, a.size) for t, a in got] == [(300, "leading", "BUY", D("9"))]
    assert got[0][1].piece.fill_keys == tuple(f.key for _, fs in events for f in fs)


def test_after_window_a_six_fill_burst_in_the_window_is_one_order():
    events = [(t, [fill(i, 6)]) for i, t in enumerate([0, 20, 60, 130, 210, 290])]
    got = emits(drive(coalescer(after=True), events))
    assert [(t, a.size) for t, a in got] == [(300, D("36"))]


def test_after_window_keeps_gathering_for_one_trailing_order():
    events = [(0, [fill(1, 6)]), (450, [fill(2, 6)]), (900, [fill(3, 6)]), (1350, [fill(4, 6)]), (1800, [fill(5, 6)])]
    got = emits(drive(coalescer(after=True), events))
    assert [(t, a.reason, a.size) for t, a in got] == [(300, "leading", D("6")), (2000, "trailing", D("24"))]


def test_after_window_a_small_window_rides_on_and_may_flush_early():
    got = emits(drive(coalescer(after=True), [(0, [fill(1, 2)]), (500, [fill(2, 10)]), (1500, [fill(3, 6)])]))
    assert [(t, a.size) for t, a in got] == [(800, D("12")), (2000, D("6"))]  # quiet 300 ms after the fill at 500


def test_after_window_of_zero_ms_is_immediate():
    got = emits(drive(coalescer(after=True, quiet_ms=0), [(0, [fill(1, 10)]), (100, [fill(2, 10)])]))
    assert [(t, a.reason) for t, a in got] == [(0, "leading"), (2000, "trailing")]


def test_immediate_is_unchanged_for_the_same_pair():
    got = emits(drive(coalescer(), [(0, [fill(1, 10)]), (250, [fill(2, 10, "SELL")])]))
    assert [(t, a.reason, a.piece.side) for t, a in got] == [(0, "leading", "BUY"), (2000, "trailing", "SELL")]


# ------------------------------------------------------------------ fill_by_fill


def test_fill_by_fill_forwards_each_fill_and_drops_dust():
    out = drive(coalescer(mode="fill_by_fill"), [(0, [fill(1, 10), fill(2, 1)]), (100, [fill(3, 6)])])
    assert [(type(a).__name__, a.reason) for _, a in out] == [("Emit", "fill"), ("Drop", "below_min_size"), ("Emit", "fill")]


# ------------------------------------------------------------------ properties

gaps = st.lists(st.integers(min_value=1, max_value=700), min_size=4, max_size=20)


@settings(max_examples=150, deadline=None)
@given(gaps=gaps, data=st.data(), after=st.booleans())
def test_a_burst_of_five_or_more_fills_in_two_seconds_is_at_most_two_orders(gaps, data, after):
    # irregular gaps, every fill inside the horizon of the first one
    times = [0]
    for g in gaps:
        if times[-1] + g >= 2000:
            break
        times.append(times[-1] + g)
    if len(times) < 5:
        times = [0, 3, 450, 900, 1400]
    sizes = [data.draw(st.integers(min_value=5, max_value=60)) for _ in times]
    events = [(t, [fill(i, s)]) for i, (t, s) in enumerate(zip(times, sizes))]
    got = emits(drive(coalescer(after=after), events))
    assert 1 <= len(got) <= 2
    assert got[0][0] == (300 if after else 0)  # immediate: the first fill did not wait; after_window: one window
    assert abs(sum(a.size for _, a in got) - sum(sizes)) <= TOL


fills_st = st.lists(
    st.tuples(st.integers(min_value=0, max_value=3000), st.sampled_from(["BUY", "SELL"]),
              st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=3)),
    min_size=1, max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(stream=fills_st, net=st.booleans(), mode=st.sampled_from(["intent_net", "fill_by_fill"]), after=st.booleans())
def test_every_fill_is_covered_exactly_once_and_nothing_is_oversized(stream, net, mode, after):
    t, events, n = 0, [], 0
    for gap, side, size, batch in stream:
        t += gap
        events.append((t, [fill(n + k, size, side) for k in range(batch)]))
        n += batch
    out = drive(coalescer(mode=mode, net=net, after=after), events)
    keys = [k for _, a in out for k in a.piece.fill_keys]
    assert sorted(keys) == sorted(f.key for _, fs in events for f in fs)  # none lost, none twice
    net_src = sum((f.size if f.side == "BUY" else -f.size for _, fs in events for f in fs), D(0))
    dropped = sum((abs(a.piece.source_size) for _, a in out if isinstance(a, Drop)), D(0))
    emitted = sum((signed(a) for _, a in emits(out)), D(0))
    assert abs(emitted - net_src) <= dropped  # proportional x1: only what was dropped is missing
    for _, a in emits(out):
        assert a.size <= a.piece.source_size  # never more than the source traded (x1)


@settings(max_examples=150, deadline=None)
@given(gaps=gaps, data=st.data(), after=st.booleans())
def test_one_horizon_never_holds_more_than_two_orders_whatever_the_fills(gaps, data, after):
    t, events = 0, []
    for i, g in enumerate(gaps):
        side = data.draw(st.sampled_from(["BUY", "SELL"]))
        events.append((t, [fill(i, data.draw(st.integers(min_value=1, max_value=30)), side)]))
        t += g
        if t >= 2000:
            break
    assert len(emits(drive(coalescer(after=after), events))) <= 2
