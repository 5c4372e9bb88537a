from decimal import Decimal as D

import pytest
from thespian.actors import ActorAddress, ActorExitRequest

from polycopy.actors.risk import Risk
from polycopy.config.models import Config
from polycopy.messages import (
    ApprovedIntent, CopyIntent, Init, KillSwitchChanged, Market, OrderOutcome, ReloadConfig, RiskDecision,
)
from polycopy.store import exposure
from polycopy.store.db import open_db
from tests.actors.harness import Harness

NOW = 1_800_000_000
END = NOW + 600
PEERS = {"executor": "executor", "telemetry": "telemetry"}


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def config(tmp_path, **sections):
    return Config.model_validate({"store": {"path": str(tmp_path / "state.sqlite")}, **sections})


def make_risk(cfg, clock, peers=PEERS, kill=False):
    h = Harness(Risk, init=False)
    h.actor.clock = clock
    h.deliver(Init(config=cfg, peers={k: ActorAddress(v) for k, v in peers.items()}, kill_switch_tripped=kill), h.parent)
    return h


def market(cid="0xc", end=END):
    """On a 0.001 tick: 120 bps of slippage at 0.50 is 0.506, a whole number of ticks."""
    return Market(condition_id=cid, token_ids=("tok", "tok2"), outcomes=("Up", "Down"), end_ts=end,
                  tick_size=D("0.001"), min_order_size=D("5"), neg_risk=False)


def intent(iid="i1", size="10", price="0.50", side="BUY", cid="0xc", end=END):
    return CopyIntent(intent_id=iid, token_id="tok", condition_id=cid, side=side, size=D(size), source_price=D(price),
                      source_size=D(size), fill_keys=(f"{iid}-fill",), first_recv_mono_ns=1, reason="leading",
                      opening=side == "BUY", market=market(cid, end))


@pytest.fixture
def clock():
    return Clock(NOW)


def test_approval_reaches_executor_and_telemetry_and_is_persisted_first(tmp_path, clock):
    cfg = config(tmp_path)
    h = make_risk(cfg, clock)
    h.deliver(intent(size="10"))
    (ok,) = h.sent_to("executor", ApprovedIntent)
    assert (ok.intent_id, ok.size, ok.max_notional_usd, ok.decision) == ("i1", D("10.00"), D("5.06"), "approved")
    (rd,) = h.sent_to("telemetry", RiskDecision)
    assert (rd.decision, rd.reason) == ("approved", "ok")
    row = open_db(cfg.store.path)["exposure"].get("i1")  # another connection sees the committed row
    assert D(row["reserved_usd"]) == D("5.06") and row["state"] == "open"


def test_rejection_carries_its_reason_and_sends_nothing_to_the_executor(tmp_path, clock):
    h = make_risk(config(tmp_path), clock)
    h.deliver(intent(end=NOW + 10))
    assert h.sent_to("executor") == []
    (rd,) = h.sent_to("telemetry", RiskDecision)
    assert (rd.decision, rd.reason) == ("rejected", "near_expiry")


def test_kill_switch_rejects(tmp_path, clock):
    h = make_risk(config(tmp_path), clock)
    h.deliver(KillSwitchChanged(tripped=True, reason="test"))
    h.deliver(intent())
    assert h.sent_to("executor") == [] and h.sent_to("telemetry", RiskDecision)[0].reason == "kill_switch"
    h.clear()
    h.deliver(KillSwitchChanged(tripped=False))
    h.deliver(intent("i2"))
    assert len(h.sent_to("executor", ApprovedIntent)) == 1


def test_no_executor_means_no_reservation(tmp_path, clock):
    h = make_risk(config(tmp_path), clock, peers={"telemetry": "telemetry"})
    h.deliver(intent())
    assert h.sent_to("telemetry", RiskDecision)[0].reason == "executor_unavailable"
    assert h.actor.book.entries == {}


def test_paused_entries_refuse_opening_intents_until_resumed(tmp_path, clock):
    from polycopy.messages import EntriesChanged

    h = make_risk(config(tmp_path), clock)
    h.deliver(EntriesChanged(reason="region_close_only"))
    h.deliver(intent("a"))
    h.deliver(intent("b", side="SELL"))
    assert [(d.intent_id, d.reason) for d in h.sent_to("telemetry", RiskDecision)] == [
        ("a", "region_close_only"), ("b", "ok")]
    h.deliver(EntriesChanged(reason=""))
    h.deliver(intent("c"))
    assert h.sent_to("telemetry", RiskDecision)[-1].reason == "ok"


def test_outcomes_settle_the_reservation(tmp_path, clock):
    cfg = config(tmp_path, sizing={"max_notional_per_market_usd": 12})
    h = make_risk(cfg, clock)
    h.deliver(intent("a", size="20"))  # 10.12 reserved
    h.deliver(intent("b", size="20"))  # room 1.88: below 5 shares -> rejected
    assert [m.decision for m in h.sent_to("telemetry", RiskDecision)] == ["approved", "rejected"]
    h.deliver(OrderOutcome(intent_id="a", order_id="0x1", status="unknown", filled_size=D(0), filled_notional_usd=D(0)))
    h.deliver(intent("c", size="20"))
    assert h.sent_to("telemetry", RiskDecision)[-1].reason == "cap_market"  # unknown keeps the reservation
    h.deliver(OrderOutcome(intent_id="a", order_id="0x1", status="partial", filled_size=D(2), filled_notional_usd=D("1")))
    h.deliver(intent("d", size="20"))
    d = h.sent_to("telemetry", RiskDecision)[-1]
    assert (d.decision, d.reason, d.size) == ("approved", "ok", D("20.00"))  # 1 + 10.12 <= 12
    assert D(open_db(cfg.store.path)["exposure"].get("a")["filled_usd"]) == D("1")


def test_reload_config_changes_the_limits(tmp_path, clock):
    cfg = config(tmp_path)
    h = make_risk(cfg, clock)
    h.deliver(ReloadConfig(config=config(tmp_path, sizing={"max_notional_per_order_usd": 3})))
    h.deliver(intent(size="10"))
    d = h.sent_to("telemetry", RiskDecision)[-1]
    assert (d.decision, d.reason, d.size) == ("clipped", "cap_order", D("5.92"))  # 3 / 0.506


def test_restart_keeps_window_and_daily_counters(tmp_path, clock):
    cfg = config(tmp_path, sizing={"max_total_notional_per_15m_window_usd": 30, "max_notional_per_market_usd": 100},
                 risk={"max_daily_volume_usd": 45})
    h1 = make_risk(cfg, clock)
    h1.deliver(intent("a", size="40", cid="0x1"))  # 20.24 in the window
    h1.deliver(ActorExitRequest())
    # a new instance on the same file, between two bursts
    clock.t += 60
    h2 = make_risk(cfg, clock)
    h2.deliver(intent("b", size="40", cid="0x2"))
    d = h2.sent_to("telemetry", RiskDecision)[-1]
    assert (d.decision, d.reason, d.size) == ("clipped", "cap_window", D("19.28"))  # 9.76 left in the window
    h2.deliver(intent("a", size="40", cid="0x1"))
    assert h2.sent_to("telemetry", RiskDecision)[-1].reason == "duplicate_intent"
    # daily volume survives too: 20.24 + 9.75568 used, 14.99 left; a SELL (closing) is only under the daily cap
    h3 = make_risk(cfg, clock)
    h3.deliver(intent("c", size="60", side="SELL", end=NOW + 5))
    d = h3.sent_to("telemetry", RiskDecision)[-1]
    assert (d.decision, d.reason) == ("clipped", "cap_daily") and d.size * D("0.506") <= D(45) - D("20.24") - D("9.75568")


def test_old_settled_rows_are_pruned_but_recent_ones_load(tmp_path, clock):
    cfg = config(tmp_path)
    h = make_risk(cfg, clock)
    h.deliver(intent("a"))
    h.deliver(OrderOutcome(intent_id="a", order_id="0x1", status="filled", filled_size=D(10), filled_notional_usd=D(5)))
    db = open_db(cfg.store.path)
    assert len(exposure.load_book(db, NOW // 86400, NOW).entries) == 1
    later = NOW + 30 * 86400
    assert exposure.load_book(db, later // 86400, later).entries == {}


def test_a_buy_the_balance_cannot_cover_is_refused_for_balance_and_alerted_once(tmp_path, clock):
    from polycopy.messages import Alert, BalanceSeen

    h = make_risk(config(tmp_path, capital={"fee_reserve_bps": 0}, risk={"clip_to_room": False}), clock)
    h.deliver(intent("i0", size="10"))  # before any read: the venue judges
    assert len(h.sent_to("executor", ApprovedIntent)) == 1
    h.deliver(BalanceSeen(balance_usd=D("12"), asked_mono_ns=1))
    h.deliver(intent("i1", size="10"))  # 5.06 reserved + 5.06 = 10.12 <= 12
    h.deliver(intent("i2", size="10"))  # 10.12 + 5.06 > 12: the two open BUYs hold the dollars
    h.deliver(intent("i3", size="10"))
    decisions = [(d.intent_id, d.decision, d.reason) for d in h.sent_to("telemetry", RiskDecision)]
    assert decisions[1:] == [("i1", "approved", "ok"), ("i2", "rejected", "insufficient_balance"),
                             ("i3", "rejected", "insufficient_balance")]
    assert [(a.condition, a.resolved) for a in h.sent_to("telemetry", Alert)] == [("balance_blocked", False)]
    h.deliver(OrderOutcome(intent_id="i0", order_id="o", status="rejected", filled_size=D(0),
                           filled_notional_usd=D(0)))  # frees 5.06
    h.deliver(intent("i4", size="10"))
    assert [d.decision for d in h.sent_to("telemetry", RiskDecision)][-1] == "approved"
    assert [(a.condition, a.resolved) for a in h.sent_to("telemetry", Alert)][-1] == ("balance_blocked", True)


def test_a_buy_is_clipped_to_the_balance_and_a_sell_needs_none(tmp_path, clock):
    from polycopy.messages import BalanceSeen

    h = make_risk(config(tmp_path, capital={"fee_reserve_bps": 0}), clock)
    h.deliver(BalanceSeen(balance_usd=D("3.036"), asked_mono_ns=1))
    h.deliver(intent("i1", size="10"))
    (ok,) = h.sent_to("executor", ApprovedIntent)
    assert (ok.decision, ok.reason, ok.size) == ("clipped", "insufficient_balance", D("6.00"))  # 6 x 0.506
    h.deliver(intent("i2", size="10", side="SELL"))
    assert h.sent_to("executor", ApprovedIntent)[-1].decision == "approved"
