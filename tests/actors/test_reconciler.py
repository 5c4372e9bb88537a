"""Reconciler driven through the Harness with its real I/O thread, a fake Data API client and a
fake executor (the test answers PositionsSnapshot)."""
from __future__ import annotations

import select
import threading
import time
from decimal import Decimal as D

import pytest
from thespian.actors import WatchMessage

from polycopy.actors.reconciler import FACTS_WAIT, ROUND, Reconciler
from polycopy.errors import TemporaryError
from polycopy.messages import CopyIntent, Market, NeedMarketFacts, PositionsReply, PositionsSnapshot
from polycopy.wire.data_api import Activity, Position
from tests.actors.harness import Harness
from tests.conftest import make_config

T0 = 1_800_000_000
CID = "0xc1"
UP, DOWN = "111", "222"
SOURCE = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"
OURS = "0x00000000000000000000000000000000000000aa"
FACTS = Market(condition_id=CID, token_ids=(UP, DOWN), outcomes=("Up", "Down"), end_ts=T0 + 800,
                    tick_size=D("0.01"), min_order_size=D("5"), neg_risk=False, slug="btc-updown-15m-1799999900")


def pos(token, size, price="0.5", **kw):
    return Position(token_id=token, condition_id=CID, size=D(size), cur_price=D(price), avg_price=D("0.45"), **kw)


class FakeClient:
    def __init__(self):
        self.source: list = []
        self.acts: list = []
        self.ours: list = []
        self.mids: dict = {}
        self.calls: list = []
        self.fail = None
        self.lock = threading.Lock()

    def positions(self, user):
        with self.lock:
            self.calls.append(("positions", user))
            if self.fail:
                raise self.fail
        return list(self.source if user == SOURCE else self.ours)

    def activity(self, user, since):
        self.calls.append(("activity", user))
        return list(self.acts)

    def midpoints(self, clob_url, tokens):
        self.calls.append(("midpoints", tuple(tokens)))
        return {t: self.mids[t] for t in tokens if t in self.mids}

    def close(self):
        pass


class Clock:
    now = T0


def start(tmp_path, made, client, mode="paper", **reconcile):
    class TestReconciler(Reconciler):
        clock = staticmethod(lambda: Clock.now)

        def make_client(self):
            return client

        def _live_wallet(self):
            return OURS

    Clock.now = T0
    cfg = make_config(tmp_path, execution={"mode": mode},
                      reconcile={"settle_s": 20, "reconcile_interval_s": 30, **reconcile})
    h = Harness(TestReconciler, config=cfg, peers={"risk": "risk", "executor": "exec", "catalog": "cat"})
    made.append(h)
    h.deliver(FACTS)
    return h


def run_round(h, ours=None, at=None, timeout=5.0):
    """Fire the round timer, answer the executor's snapshot with `ours`, wait for the round to finish."""
    if at is not None:
        Clock.now = at
    h.clear()
    h.fire_wakeups(lambda p: p == ROUND)
    asks = h.sent_to("exec", PositionsSnapshot)
    if ours is not None:
        assert len(asks) == 1
        h.deliver(PositionsReply(request_id=asks[0].request_id,
                                 positions=tuple((t, D(s)) for t, s in ours.items()), mode="paper"))
    deadline = time.monotonic() + timeout
    while h.actor.round is not None and time.monotonic() < deadline:
        ready, _, _ = select.select([h.actor.jobs.fd], [], [], 0.05)
        if ready:
            h.deliver(WatchMessage(ready))
    assert h.actor.round is None, "round did not finish"
    return h.sent_to("risk", CopyIntent)


def test_a_fill_hidden_from_both_feeds_is_corrected_in_the_next_round(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c)
    assert run_round(h, ours={}) == []  # baseline: the source holds nothing
    c.source = [pos(UP, "40")]
    c.acts = [Activity(type="TRADE", condition_id=CID, size=D("40"), timestamp=T0 + 5, token_id=UP, side="BUY",
                       price=D("0.5"))]
    [intent] = run_round(h, ours={}, at=T0 + 30)  # the trade is 25 s old: past settle_s, nobody copied it
    assert (intent.side, intent.token_id, intent.reason, intent.opening) == ("BUY", UP, "reconcile", True)
    assert intent.size == D("40.00") and intent.source_price == D("0.5") and intent.market == FACTS
    assert intent.size * intent.source_price <= D("25")  # within the correction cap
    assert h.actor.counts["correction:missed_fill"] == 1
    # Next round, before the correction shows in our positions: not sent again.
    assert run_round(h, ours={}, at=T0 + 40) == []
    assert h.actor.counts["skip:correction_pending"] == 1


def test_a_correction_is_bounded_by_the_correction_cap(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c, max_correction_notional_usd=10)
    run_round(h, ours={})
    c.source = [pos(UP, "400")]
    [intent] = run_round(h, ours={}, at=T0 + 30)
    assert intent.size * D("0.5") <= D("10") and intent.size > D("19")  # 120 bps of 0.5 is under a 0.01 tick


def test_recent_source_trades_are_left_to_the_copy_path(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c)
    run_round(h, ours={})
    c.source = [pos(UP, "40")]
    c.acts = [Activity(type="TRADE", condition_id=CID, size=D("40"), timestamp=T0 + 25, token_id=UP, side="BUY")]
    assert run_round(h, ours={}, at=T0 + 30) == []
    assert h.actor.counts["skip:source_trading"] == 1


def test_source_merge_is_mirrored_by_selling_both_sides(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c)
    c.source = [pos(UP, "20"), pos(DOWN, "20")]
    assert run_round(h, ours={UP: "20", DOWN: "20"}) == []  # in line
    c.source = []
    c.acts = [Activity(type="MERGE", condition_id=CID, size=D("20"), timestamp=T0 + 10, tx_hash="0xm")]
    c.mids = {UP: D("0.55"), DOWN: D("0.45")}
    intents = run_round(h, ours={UP: "20", DOWN: "20"}, at=T0 + 30)
    assert sorted((i.token_id, i.side, i.size, i.opening) for i in intents) == [
        (UP, "SELL", D("20.00"), False), (DOWN, "SELL", D("20.00"), False)]
    assert {i.source_price for i in intents} == {D("0.55"), D("0.45")}  # priced from the CLOB mids
    assert h.actor.counts["correction:merge"] == 2 and h.actor.counts["activity:merge"] == 2
    assert ("midpoints", (UP, DOWN)) in c.calls


def test_positions_the_source_held_before_we_started_are_not_bought(tmp_path, made):
    c = FakeClient()
    c.source = [pos(UP, "40")]
    h = start(tmp_path, made, c)
    assert run_round(h, ours={}) == []
    assert run_round(h, ours={}, at=T0 + 30) == []
    assert h.actor.counts["skip:not_tracked"] == 2
    h2 = start(tmp_path / "b", made, c, adopt_existing_positions=True)
    assert [i.side for i in run_round(h2, ours={})] == ["BUY"]


def test_near_expiry_and_resolved_markets_are_never_traded(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c)
    run_round(h, ours={})
    c.source = [pos(UP, "40")]
    assert run_round(h, ours={}, at=T0 + 790) == []  # 10 s before the end, inside the 25 s cutoff
    assert h.actor.counts["skip:near_expiry"] == 1
    c.source = [pos(UP, "40", redeemable=True)]
    assert run_round(h, ours={}, at=T0 + 100) == []
    assert h.actor.counts["skip:market_closed"] == 1


def test_a_market_new_to_us_waits_for_its_facts_within_the_round(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c)
    run_round(h, ours={})
    c.source = [Position(token_id="999", condition_id="0xother", size=D("30"), cur_price=D("0.4"),
                         avg_price=D("0.4"), slug="will-it-rain")]
    with pytest.raises(AssertionError):
        run_round(h, ours={}, at=T0 + 30, timeout=0.5)  # the round holds until the catalog answers
    assert [(m.key, m.slug) for m in h.sent_to("cat", NeedMarketFacts)] == [("999", "will-it-rain")]
    h.deliver(Market(condition_id="0xother", token_ids=("999", "998"), outcomes=("Yes", "No"), end_ts=T0 + 9000,
                          tick_size=D("0.01"), min_order_size=D("5"), neg_risk=False, slug="will-it-rain"))
    [intent] = h.sent_to("risk", CopyIntent)  # corrected in the same round
    assert (intent.token_id, intent.side, intent.market.end_ts) == ("999", "BUY", T0 + 9000)


def test_facts_that_never_come_do_not_stall_the_round(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c)
    run_round(h, ours={})
    c.source = [Position(token_id="999", condition_id="0xother", size=D("30"), cur_price=D("0.4"),
                         avg_price=D("0.4"), slug="will-it-rain")]
    with pytest.raises(AssertionError):
        run_round(h, ours={}, at=T0 + 30, timeout=0.5)
    h.fire_wakeups(lambda p: isinstance(p, tuple) and p[0] == FACTS_WAIT)
    assert h.actor.round is None and h.sent_to("risk", CopyIntent) == []
    assert h.actor.counts["skip:market_end_unknown"] == 1
    assert run_round(h, ours={}, at=T0 + 60) == []  # asked once only: the next round does not wait
    assert len(h.sent_to("cat", NeedMarketFacts)) == 0


def test_dry_run_only_logs(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c, mode="dry_run")
    run_round(h, ours={})
    c.source = [pos(UP, "40")]
    assert run_round(h, ours={}, at=T0 + 30) == []
    assert h.actor.counts["correction:missed_fill"] == 1


def test_live_mode_reads_our_positions_from_the_data_api(tmp_path, made):
    c = FakeClient()
    c.ours = [pos(UP, "15")]
    h = start(tmp_path, made, c, mode="live")
    assert run_round(h) == [] and h.sent_to("exec", PositionsSnapshot) == []
    assert ("positions", OURS) in c.calls
    assert h.actor.counts["skip:no_price"] == 1  # the source lists no row and the CLOB has no mid
    c.mids = {UP: D("0.6")}
    [intent] = run_round(h, at=T0 + 30)  # the source holds nothing: sell ours
    assert (intent.side, intent.size, intent.source_price) == ("SELL", D("15.00"), D("0.6"))


def test_failed_fetch_skips_the_round_and_the_next_one_works(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c)
    c.fail = TemporaryError("data api: HTTP 429", 5)
    assert run_round(h, ours={}) == []
    assert h.actor.counts["round_failed"] == 1
    c.fail = None
    run_round(h, ours={}, at=T0 + 30)
    c.source = [pos(UP, "40")]
    assert len(run_round(h, ours={}, at=T0 + 60)) == 1


def test_executor_still_recovering_skips_the_round(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c)
    h.fire_wakeups(lambda p: p == ROUND)
    [ask] = h.sent_to("exec", PositionsSnapshot)
    h.deliver(PositionsReply(request_id=ask.request_id, positions=(), complete=False))
    assert h.actor.round is None and h.sent_to("risk", CopyIntent) == []


def test_disabled_does_nothing(tmp_path, made):
    h = start(tmp_path, made, FakeClient(), enabled=False)
    assert h.actor.jobs is None and not [p for _, p in h.ref.wakeups if p == ROUND]


def test_futile_corrections_back_off(tmp_path, made):
    """Risk refuses (a cap) or nothing fills: our position does not move, so each retry waits twice as long."""
    c = FakeClient()
    h = start(tmp_path, made, c)
    run_round(h, ours={})
    c.source = [pos(UP, "40")]
    assert len(run_round(h, ours={}, at=T0 + 30)) == 1  # pending for settle_s = 20 s
    assert len(run_round(h, ours={}, at=T0 + 51)) == 1  # unchanged: strike 1, pending 40 s
    assert run_round(h, ours={}, at=T0 + 90) == []
    assert len(run_round(h, ours={}, at=T0 + 92)) == 1  # strike 2, pending 80 s
    assert run_round(h, ours={}, at=T0 + 170) == []
    assert len(run_round(h, ours={}, at=T0 + 173)) == 1
    assert h.actor.memory.strikes[UP] == 3


def test_a_restart_keeps_the_baseline_and_what_is_tracked(tmp_path, made):
    c = FakeClient()
    c.source = [pos(DOWN, "30")]  # held before we started: not ours to buy
    h = start(tmp_path, made, c)
    run_round(h, ours={})
    c.source = [pos(DOWN, "30"), pos(UP, "40")]
    c.acts = [Activity(type="TRADE", condition_id=CID, size=D("40"), timestamp=T0 + 25, token_id=UP, side="BUY")]
    assert run_round(h, ours={}, at=T0 + 30) == []  # too fresh to correct; then the reconciler restarts
    h.actor.on_exit()
    h2 = start(tmp_path, made, c)
    assert h2.actor.memory.baseline[DOWN] == D("30") and h2.actor.memory.baseline.get(UP, 0) == 0 and h2.actor.memory.tracked == {UP}
    [intent] = run_round(h2, ours={}, at=T0 + 60)
    assert (intent.token_id, intent.side) == (UP, "BUY")
    assert h2.actor.counts["skip:not_tracked"] == 1  # DOWN still left alone


def test_reload_switches_reconciliation_on_and_off(tmp_path, made):
    from polycopy.messages import ReloadConfig

    c = FakeClient()
    h = start(tmp_path, made, c, enabled=False)
    on = h.actor.config.model_copy(update={"reconcile": h.actor.config.reconcile.model_copy(update={"enabled": True})})
    h.deliver(ReloadConfig(config=on))
    assert h.actor.jobs is not None
    assert run_round(h, ours={}) == [] and h.actor.n == 1
    off = on.model_copy(update={"reconcile": on.reconcile.model_copy(update={"enabled": False})})
    h.deliver(ReloadConfig(config=off))
    assert h.actor.jobs is None
    h.clear()
    h.fire_wakeups(lambda p: p == ROUND)
    assert h.actor.n == 1 and h.sent_to("exec", PositionsSnapshot) == []
    assert not [p for _, p in h.ref.wakeups if p == ROUND]  # the timer chain stopped
    h.deliver(ReloadConfig(config=on))
    h.deliver(ReloadConfig(config=off))
    h.deliver(ReloadConfig(config=on))
    assert len([p for _, p in h.ref.wakeups if p == ROUND]) == 1  # one timer chain, not three
