"""The Coalescer alone, then Coalescer + Risk wired by hand (time from a fake clock + wakeups)."""
from dataclasses import replace
from decimal import Decimal as D

import pytest
from thespian.actors import ActorAddress, ActorExitRequest

from polycopy.actors.coalescer import TIMER, Coalescer
from polycopy.actors.risk import Risk
from polycopy.config.models import Config
from polycopy.messages import (
    ApprovedIntent, CopyIntent, FillBatch, Init, Market, OrderOutcome, ReloadConfig, RiskDecision, SourceFill,
)
from polycopy.policy.coalesce import intent_id_for
from tests.actors.harness import Harness

MS = 1_000_000
NOW = 1_800_000_000  # wall clock, a multiple of 900
END = NOW + 600
SLUG = f"btc-updown-15m-{END - 900}"
TOL = D("1")  # sizing.size_tolerance_shares
MARKET = Market(condition_id="0xc", token_ids=("tok", "tok2"), outcomes=("Up", "Down"), end_ts=END, tick_size=D("0.001"),
                min_order_size=D("5"), neg_risk=False, slug=SLUG)


class Clock:
    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t


def fill(i, size, side="BUY", price="0.50", slug=SLUG, token="tok"):
    return SourceFill(
        key=f"tx{i}|{token}|{side}|{price}|{size}|0", source_wallet="0xabc", condition_id="0xc", token_id=token,
        outcome="Up", side=side, price=D(price), size=D(str(size)), tx_hash=f"tx{i}", source_ts_ms=1_000 + i,
        feed="rtds", recv_mono_ns=1_000 + i, slug=slug,
    )


def config(tmp_path, **sections):
    sections.setdefault("sizing", {"mode": "proportional"})
    return Config.model_validate({"store": {"path": str(tmp_path / "state.sqlite")}, **sections})


def init(cls, cfg, clock, peers, key=""):
    h = Harness(cls, init=False)
    h.actor.clock = clock
    h.deliver(Init(config=cfg, peers={k: ActorAddress(v) for k, v in peers.items()}, key=key), h.parent)
    return h


def run_until(h, clock, t_ms):
    """Advance the monotonic clock to t_ms, firing each coalescer timer at its own due time."""
    end = t_ms * MS
    while True:
        dues = [p[1] for _, p in h.ref.wakeups if isinstance(p, tuple) and p[0] == TIMER and p[1] <= end]
        if not dues:
            break
        clock.t = max(clock.t, min(dues))
        h.fire_wakeups(lambda p, d=min(dues): isinstance(p, tuple) and p[1] == d)
    clock.t = end


@pytest.fixture
def mono():
    return Clock(0)


@pytest.fixture
def coal(tmp_path, mono):
    return init(Coalescer, config(tmp_path), mono, {"risk": "risk", "telemetry": "telemetry"}, key="tok")


def deliver_at(h, clock, t_ms, fills):
    run_until(h, clock, t_ms)
    h.deliver(FillBatch(market=MARKET, fills=tuple(fills)))


# ------------------------------------------------------------------ the Coalescer alone


def test_leading_intent_is_sent_at_once_with_its_fills_and_market(coal, mono):
    coal.deliver(FillBatch(market=MARKET, fills=(fill(1, 10), fill(2, 4))))
    (it,) = coal.sent_to("risk", CopyIntent)
    assert (it.reason, it.side, it.size, it.source_size, it.opening) == ("leading", "BUY", D("14"), D("14"), True)
    assert it.fill_keys == (fill(1, 10).key, fill(2, 4).key) and it.intent_id == intent_id_for(it.fill_keys)
    assert (it.first_recv_mono_ns, it.source_ts_ms, it.market, it.condition_id) == (1001, 1001, MARKET, "0xc")


def test_burst_with_irregular_gaps_gives_two_intents(coal, mono):
    for t, fs in [(0, [fill(1, 6)]), (430, [fill(2, 6), fill(3, 5)]), (910, [fill(4, 7)]), (1390, [fill(5, 6)]),
                  (1850, [fill(6, 9)])]:
        deliver_at(coal, mono, t, fs)
    run_until(coal, mono, 5000)
    got = coal.sent_to("risk", CopyIntent)
    assert [(i.reason, i.size) for i in got] == [("leading", D("6")), ("trailing", D("33"))]


def test_dropped_burst_is_reported_to_telemetry(coal, mono):
    coal.deliver(FillBatch(market=MARKET, fills=(fill(1, 2),)))
    run_until(coal, mono, 3000)
    assert coal.sent_to("risk", CopyIntent) == []
    (rd,) = coal.sent_to("telemetry", RiskDecision)
    assert (rd.decision, rd.reason, rd.intent_id) == ("dropped", "below_min_size", intent_id_for((fill(1, 2).key,)))
    assert coal.sent_to("risk", RiskDecision) == [rd]  # risk records every verdict, drops included


def test_exit_flushes_what_is_pending_and_a_late_timer_finds_nothing(coal, mono):
    coal.deliver(FillBatch(market=MARKET, fills=(fill(1, 10),)))
    deliver_at(coal, mono, 200, [fill(2, 8)])
    coal.deliver(ActorExitRequest())
    assert [i.reason for i in coal.sent_to("risk", CopyIntent)] == ["leading", "trailing"]
    run_until(coal, mono, 5000)
    assert len(coal.sent_to("risk")) == 2


def test_fills_before_init_are_kept(tmp_path, mono):
    h = Harness(Coalescer, init=False)
    h.actor.clock = mono
    h.deliver(FillBatch(market=MARKET, fills=(fill(1, 10),)))
    h.deliver(Init(config=config(tmp_path), peers={"risk": ActorAddress("risk")}, key="tok"), h.parent)
    assert len(h.sent_to("risk", CopyIntent)) == 1


def test_fills_for_another_token_are_ignored(coal):
    coal.deliver(FillBatch(market=MARKET, fills=(fill(1, 10, token="other"),)))
    assert coal.sent_to("risk") == []


def test_a_resent_fill_is_not_copied_twice(coal, mono):
    coal.deliver(FillBatch(market=MARKET, fills=(fill(1, 10),)))
    deliver_at(coal, mono, 100, [fill(1, 10), fill(2, 9)])
    run_until(coal, mono, 3000)
    assert [(i.reason, i.size) for i in coal.sent_to("risk", CopyIntent)] == [("leading", D("10")), ("trailing", D("9"))]


def test_the_market_of_the_batch_sets_the_min_size(coal, mono):
    small = replace(MARKET, min_order_size=D("2"))
    coal.deliver(FillBatch(market=small, fills=(fill(1, 2),)))  # $1, 2 shares: tradable in this market
    assert [i.size for i in coal.sent_to("risk", CopyIntent)] == [D("2")]


def test_reload_switches_to_fill_by_fill(tmp_path, coal, mono):
    coal.deliver(ReloadConfig(config=config(tmp_path, copy={"copy_mode": "fill_by_fill"})))
    coal.deliver(FillBatch(market=MARKET, fills=(fill(1, 10), fill(2, 6))))
    assert [i.reason for i in coal.sent_to("risk", CopyIntent)] == ["fill", "fill"]


# ------------------------------------------------------------------ Coalescer + Risk


class Wired:
    """A coalescer whose intents go to a Risk harness; outcomes from a fake executor."""

    def __init__(self, tmp_path, **sections):
        self.mono, self.wall = Clock(0), Clock(NOW)
        self.cfg = cfg = config(tmp_path, **sections)
        self.coal = init(Coalescer, cfg, self.mono, {"risk": "risk"}, key="tok")
        self.risk = init(Risk, cfg, self.wall, {"executor": "executor", "telemetry": "telemetry"})
        self.forwarded = 0

    def restart_risk(self):
        self.risk.deliver(ActorExitRequest())
        self.risk = init(Risk, self.cfg, self.wall, {"executor": "executor", "telemetry": "telemetry"})

    def pump(self):
        for it in self.coal.sent_to("risk", CopyIntent)[self.forwarded:]:
            self.risk.deliver(it)
            self.forwarded += 1

    def at(self, t_ms, fills):
        run_until(self.coal, self.mono, t_ms)
        self.wall.t = NOW + t_ms / 1000
        self.pump()
        if fills:
            self.coal.deliver(FillBatch(market=MARKET, fills=tuple(fills)))
        self.pump()

    def approved(self):
        return self.risk.sent_to("executor", ApprovedIntent)

    def decisions(self):
        return self.risk.sent_to("telemetry", RiskDecision)


@pytest.mark.parametrize("schedule", [
    [0, 380, 760, 1240, 1700],  # gaps of 380-480 ms: wider than coalesce_ms
    [0, 5, 470, 475, 930, 1420, 1425, 1890],  # clusters 450-500 ms apart
    [0, 1, 2, 3, 1999],
    [0, 310, 620, 1950, 1960, 1970],
])
def test_burst_of_five_or_more_fills_is_at_most_two_orders_of_the_right_total(tmp_path, schedule):
    w = Wired(tmp_path, sizing={"mode": "proportional", "size_multiplier": "0.5", "max_notional_per_order_usd": 100})
    sizes = [6 + (i * 7) % 11 for i in range(len(schedule))]
    for i, (t, s) in enumerate(zip(schedule, sizes)):
        w.at(t, [fill(i, s * 2)])
    w.at(6000, [])
    got = w.approved()
    assert 1 <= len(got) <= 2
    assert abs(sum(a.size for a in got) - D("0.5") * sum(2 * s for s in sizes)) <= TOL
    assert sorted(k for a in got for k in a.intent.fill_keys) == sorted(fill(i, s * 2).key for i, s in enumerate(sizes))


def test_first_intent_of_a_burst_is_approved_before_any_timer_fires(tmp_path):
    w = Wired(tmp_path)
    w.at(0, [fill(1, 10)])
    assert [a.intent.reason for a in w.approved()] == ["leading"]
    assert w.mono.t == 0  # no time has passed


def test_opposite_fills_net_out_and_nothing_is_sent(tmp_path):
    w = Wired(tmp_path)
    w.at(0, [fill(1, 10), fill(2, 10, "SELL")])
    w.at(400, [fill(3, 7, "SELL"), fill(4, 7)])
    w.at(5000, [])
    assert w.approved() == [] and w.coal.sent_to("risk", CopyIntent) == []
    assert all(d.decision == "dropped" for d in w.coal.sent_to("risk", RiskDecision))


def test_a_fill_ten_seconds_before_the_end_does_not_open_a_position(tmp_path):
    w = Wired(tmp_path)
    w.wall.t = END - 10
    w.coal.deliver(FillBatch(market=MARKET, fills=(fill(1, 10),)))
    w.risk.deliver(w.coal.sent_to("risk", CopyIntent)[0])
    assert w.approved() == []
    assert w.decisions()[-1].reason == "near_expiry"


def test_caps_hold_across_a_stream_of_bursts_with_outcomes(tmp_path):
    w = Wired(tmp_path, sizing={"mode": "capped_proportional", "max_notional_per_market_usd": 40})
    t = 0
    for burst in range(6):
        for k in range(5):
            w.at(t, [fill(burst * 10 + k, 20)])
            t += 300
        t += 2500
        for a in w.approved():
            w.risk.deliver(OrderOutcome(intent_id=a.intent_id, order_id="0x", status="filled", filled_size=a.size,
                                        filled_notional_usd=a.max_notional_usd))
    w.at(t + 5000, [])
    assert sum(a.max_notional_usd for a in w.approved()) <= D(40)
    assert w.decisions()[-1].reason == "cap_market"


def test_risk_restart_between_two_bursts_keeps_the_window_and_daily_counters(tmp_path):
    w = Wired(tmp_path, sizing={"max_total_notional_per_15m_window_usd": 30}, risk={"max_daily_volume_usd": 35})
    for t, size in [(0, 20), (400, 10), (900, 10)]:
        w.at(t, [fill(t, size)])
    w.at(4000, [])
    assert sum(a.max_notional_usd for a in w.approved()) == D("20.24")  # 40 shares at 0.506
    w.restart_risk()
    w.at(5000, [fill(5000, 40)])  # the window has 9.76 left: clipped, not approved in full
    (d,) = w.risk.sent_to("telemetry", RiskDecision)
    assert (d.decision, d.reason, d.size) == ("clipped", "cap_window", D("19.28"))
    w.restart_risk()
    w.at(9000, [fill(9000, 30, side="SELL")])  # closing: only the daily cap (35 - 20.24 - 9.75568) applies
    (d,) = w.risk.sent_to("telemetry", RiskDecision)
    assert (d.decision, d.reason, d.size) == ("clipped", "cap_daily", D("9.88"))  # 5.00432 / 0.506


# ------------------------------------------------------------------ copy.leading_order


AFTER = {"copy": {"leading_order": "after_window"}}


def test_after_window_a_buy_and_sell_that_cancel_in_the_window_send_nothing(tmp_path):
    w = Wired(tmp_path, **AFTER)
    w.at(0, [fill(1, 10)])
    assert w.coal.sent_to("risk", CopyIntent) == []  # nothing goes before the window ends
    w.at(250, [fill(2, 10, "SELL")])
    w.at(5000, [])
    assert w.approved() == [] and w.coal.sent_to("risk", CopyIntent) == []
    (drop,) = w.coal.sent_to("risk", RiskDecision)
    assert (drop.decision, drop.reason) == ("dropped", "netted_out")


def test_after_window_a_six_fill_burst_is_one_net_order(tmp_path):
    w = Wired(tmp_path, **AFTER)
    for i, (t, side, size) in enumerate([(0, "BUY", 8), (40, "BUY", 6), (90, "SELL", 5), (150, "BUY", 9),
                                         (220, "BUY", 7), (280, "BUY", 5)]):
        w.at(t, [fill(i, size, side)])
    w.at(5000, [])
    (a,) = w.approved()
    assert (a.intent.reason, a.intent.side, a.size, a.intent.source_size) == ("leading", "BUY", D("30"), D("30"))
    assert len(a.intent.fill_keys) == 6
    assert a.intent.first_recv_mono_ns == fill(0, 8).recv_mono_ns  # the burst's first fill, for the delay


def test_after_window_the_leading_order_waits_for_the_window_timer(tmp_path):
    w = Wired(tmp_path, **AFTER)
    w.at(0, [fill(1, 10)])
    w.at(299, [])
    assert w.approved() == []
    w.at(300, [])
    assert [a.intent.reason for a in w.approved()] == ["leading"]


def test_immediate_still_sends_the_pair_as_two_orders(tmp_path):
    w = Wired(tmp_path, copy={"leading_order": "immediate"})
    w.at(0, [fill(1, 10)])
    assert [a.intent.side for a in w.approved()] == ["BUY"]  # at once, before any timer
    w.at(250, [fill(2, 10, "SELL")])
    w.at(5000, [])
    assert [(a.intent.reason, a.intent.side) for a in w.approved()] == [("leading", "BUY"), ("trailing", "SELL")]


@pytest.mark.parametrize("leading", ["immediate", "after_window"])
def test_both_modes_keep_a_five_fill_burst_to_two_orders(tmp_path, leading):
    w = Wired(tmp_path, copy={"leading_order": leading})
    for i, t in enumerate([0, 5, 470, 930, 1420, 1890]):
        w.at(t, [fill(i, 6 + i)])
    w.at(6000, [])
    got = w.approved()
    assert 1 <= len(got) <= 2 and sum(a.size for a in got) == sum(D(6 + i) for i in range(6))
