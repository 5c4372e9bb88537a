"""The telemetry actor, driven with synthetic messages (no actor system)."""
from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from loguru import logger
from thespian.actors import ActorExitRequest

from polycopy.actors.base import REPORT, ChildActor
from polycopy.actors.telemetry import Telemetry
from polycopy.messages import (Alert, FeedHealth, KillSwitchChanged, OrderOutcome, Ping, Reports, RiskDecision,
                               StageTiming, TelemetrySnapshot, TripKillSwitch)
from polycopy.ops.metrics import snapshot_path
from polycopy.store import journal, open_db
from tests.actors.harness import Harness
from tests.conftest import make_config
from tests.unit.test_alerts import Receiver

KEY = "0xfeed|7132|BUY|0.52|10|0"
MS = 1_000_000


@pytest.fixture
def lines():
    got = []
    sink = logger.add(lambda m: got.append(m.record), level="DEBUG", format="{message}")
    yield got
    logger.remove(sink)


def start(tmp_path, monkeypatch, urls="", **sections):
    monkeypatch.setenv("POLYCOPY_ALERT_URLS", urls)
    monkeypatch.chdir(tmp_path)  # no stray .env
    h = Harness(Telemetry, config=make_config(tmp_path, **sections))
    return h


def stop(h):
    h.deliver(ActorExitRequest())


def metric(h, name) -> float:
    for line in h.actor.metrics.text().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def copy(h, key=KEY, internal_ms=3.0, src_age_ms=2500, hold_ms=0.4, sent="sent"):
    """One copy's stage pieces as intake, risk and executor send them (the executor's stage names)."""
    recv = time.monotonic_ns() - int(internal_ms * MS)
    src = int(time.time() * 1000) - src_age_ms
    h.deliver(StageTiming(key=key, stages=(("recv", recv), ("intake", recv + MS // 10)), source_ts_ms=src))
    h.deliver(StageTiming(key=key, stages=(("recv", recv), ("risk", recv + MS // 10 + int(hold_ms * MS))),
                          source_ts_ms=src))
    h.deliver(StageTiming(key=key, stages=(("exec_in", recv + MS), ("exec_book", recv + 2 * MS),
                                           (sent, recv + int(internal_ms * MS)), ("acked", recv + int(internal_ms * MS) + 1)),
                          source_ts_ms=src))


def outcome(i, status="filled", reason="matched", size="10", usd="5.2"):
    return OrderOutcome(intent_id=f"i{i}", order_id=f"0x{i:02x}", status=status, filled_size=Decimal(size),
                        filled_notional_usd=Decimal(usd), reason=reason, token_id="7132", condition_id="0xc",
                        side="BUY")


def test_stage_pieces_join_by_correlation_id_into_metrics_and_log_lines(tmp_path, monkeypatch, lines):
    h = start(tmp_path, monkeypatch)
    copy(h, internal_ms=3.0, src_age_ms=2500, sent="exec_posted")
    stop(h)
    corr = [r for r in lines if r["extra"].get("corr") == KEY]
    assert len(corr) == 3  # one line per stage piece, joinable by the fill's key
    assert corr[-1]["extra"]["stages_ms"]["exec_posted"] == pytest.approx(3.0, abs=0.01)
    assert metric(h, "polycopy_copy_delay_seconds_count") == 1
    assert metric(h, "polycopy_internal_latency_seconds_count") == 1
    assert metric(h, "polycopy_detection_lag_seconds_count") == 1
    assert metric(h, 'polycopy_stage_seconds_count{stage="exec_posted"}') == 1
    snap = h.actor.snapshot()
    assert snap["internal_ms"]["n"] == 1 and snap["internal_ms"]["p50"] == pytest.approx(3.0, abs=0.01)
    assert snap["copy_delay_ms"]["p50"] > 2000  # the source's fill was 2.5 s before the copy


def test_executor_piece_arriving_first_is_joined_later(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch)
    recv = time.monotonic_ns() - 5 * MS
    h.deliver(StageTiming(key=KEY, stages=(("exec_in", recv + MS), ("exec_posted", recv + 5 * MS)), source_ts_ms=1))
    assert metric(h, "polycopy_internal_latency_seconds_count") == 0
    h.deliver(StageTiming(key=KEY, stages=(("recv", recv), ("intake", recv + MS // 10))))
    h.deliver(StageTiming(key=KEY, stages=(("recv", recv), ("risk", recv + MS // 2))))  # counted once only
    assert metric(h, "polycopy_internal_latency_seconds_count") == 1
    assert h.actor.snapshot()["internal_ms"]["p50"] == pytest.approx(5.0, abs=0.01)
    stop(h)


def test_reports_wait_for_one_flush_and_leave_as_one_message(tmp_path):
    h = Harness(ChildActor, config=make_config(tmp_path), peers={"telemetry": "tel"})
    first, second = RiskDecision(intent_id="i1", decision="approved", reason=""), StageTiming(key=KEY, stages=(("recv", 1),))
    h.actor.report(first)
    h.actor.report(second)
    assert [m for _, m in h.ref.sent if isinstance(m, Reports)] == []  # nothing leaves during the hot path
    assert [p for _, p in h.ref.wakeups].count(REPORT) == 1  # one flush armed for the batch
    h.fire_wakeups(lambda p: p == REPORT)
    [batch] = [m for _, m in h.ref.sent if isinstance(m, Reports)]
    assert batch.items == (first, second)
    h.fire_wakeups(lambda p: p == REPORT)
    assert len([m for _, m in h.ref.sent if isinstance(m, Reports)]) == 1  # an empty queue sends nothing


def test_a_batch_counts_every_item_and_survives_a_bad_one(tmp_path, monkeypatch, lines):
    h = start(tmp_path, monkeypatch)
    bad = OrderOutcome(intent_id="ix", order_id="0x1", status="filled", filled_size=None, filled_notional_usd=None,
                       reason="", token_id="7132", condition_id="0xc", side="BUY")
    h.deliver(Reports(items=(RiskDecision(intent_id="i1", decision="approved", reason=""), bad, Ping(nonce=1), outcome(2))))
    assert metric(h, 'polycopy_risk_decisions_total{decision="approved",reason="-"}') == 1
    assert metric(h, 'polycopy_orders_total{outcome="filled"}') >= 1  # outcome(2) after the bad one still counts
    assert any("unexpected report Ping" in r["message"] for r in lines)
    assert any("report OrderOutcome failed" in r["message"] for r in lines)  # the bad one did raise
    stop(h)


def test_outcomes_and_decisions_are_counted_by_label(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch)
    h.deliver(RiskDecision(intent_id="i1", decision="rejected", reason="per_market_cap"))
    h.deliver(outcome(1, status="rejected", reason="balance", size="0", usd="0"))
    h.deliver(outcome(2))
    assert metric(h, 'polycopy_risk_decisions_total{decision="rejected",reason="per_market_cap"}') == 1
    assert metric(h, 'polycopy_orders_total{outcome="rejected"}') == 1
    assert metric(h, 'polycopy_order_rejects_total{reason="balance"}') == 1
    stop(h)


def test_error_rate_trips_the_kill_switch_once_and_rearms_after_reset(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch, risk={"kill_min_orders": 4, "kill_error_rate": 0.5})
    h.deliver(outcome(1))
    h.deliver(outcome(2, status="rejected", reason="balance", size="0", usd="0"))
    h.deliver(outcome(3, status="unknown", reason="timeout", size="0", usd="0"))
    assert h.sent_to(h.parent, TripKillSwitch) == []  # 3 orders: under the minimum
    h.deliver(outcome(4, status="rejected", reason="invalid_signature", size="0", usd="0"))
    trips = h.sent_to(h.parent, TripKillSwitch)
    assert len(trips) == 1 and trips[0].source == "telemetry" and "error rate 3/4" in trips[0].reason
    h.deliver(outcome(5, status="rejected", reason="balance", size="0", usd="0"))
    assert len(h.sent_to(h.parent, TripKillSwitch)) == 1  # once
    h.deliver(KillSwitchChanged(tripped=True, reason="x"))
    assert metric(h, "polycopy_kill_switch_tripped") == 1
    h.deliver(KillSwitchChanged(tripped=False, reason="operator reset"))
    assert metric(h, "polycopy_kill_switch_tripped") == 0
    for i in range(6, 10):
        h.deliver(outcome(i, status="unknown", reason="timeout", size="0", usd="0"))
    assert len(h.sent_to(h.parent, TripKillSwitch)) == 2  # re-armed by the reset, windows restarted
    stop(h)


def test_no_fill_rejects_are_not_errors(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch, risk={"kill_min_orders": 3})
    for i in range(6):
        h.deliver(outcome(i, status="rejected", reason="fak_no_match", size="0", usd="0"))
    assert h.sent_to(h.parent, TripKillSwitch) == []
    stop(h)


def test_slow_internal_latency_trips_the_kill_switch(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch, risk={"kill_min_orders": 3, "kill_p95_internal_ms": 100})
    copy(h, key="k1", internal_ms=20)
    copy(h, key="k2", internal_ms=30)
    assert h.sent_to(h.parent, TripKillSwitch) == []
    copy(h, key="k3", internal_ms=400)
    trips = h.sent_to(h.parent, TripKillSwitch)
    assert len(trips) == 1 and "p95 internal latency 399.6 ms" in trips[0].reason  # 400 - the 0.4 ms hold
    stop(h)


def test_the_coalescers_burst_hold_does_not_count_towards_the_latency_kill(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch, risk={"kill_min_orders": 3, "kill_p95_internal_ms": 100})
    for i in range(4):  # trailing orders: held 1.5 s by design, then 4 ms of work
        copy(h, key=f"t{i}", internal_ms=1504, hold_ms=1500)
    assert h.sent_to(h.parent, TripKillSwitch) == []
    snap = h.actor.snapshot()
    assert snap["internal_ms"]["p50"] == pytest.approx(1504, abs=0.1)
    assert snap["work_ms"]["p50"] == pytest.approx(4.0, abs=0.1)
    stop(h)


def test_a_coalesced_stage_sets_the_hold_exactly(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch)
    recv = time.monotonic_ns() - 50 * MS
    h.deliver(StageTiming(key="c1", stages=(("recv", recv), ("intake", recv + MS))))
    h.deliver(StageTiming(key="c1", stages=(("recv", recv), ("coalesced", recv + 41 * MS))))
    h.deliver(StageTiming(key="c1", stages=(("recv", recv), ("risk", recv + 42 * MS))))
    h.deliver(StageTiming(key="c1", stages=(("sent", recv + 50 * MS),)))
    assert h.actor.snapshot()["work_ms"]["p50"] == pytest.approx(10.0, abs=0.01)  # 50 - (41 - 1)
    stop(h)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_stalled_feed_alerts_once_then_resolves_on_the_webhook(tmp_path, monkeypatch, receiver):
    h = start(tmp_path, monkeypatch, urls=receiver.url("alerts"), telemetry={"alerts": {"feed_silent_s": 30}})
    h.deliver(FeedHealth(feed="rtds", connected=True, silence_s=1.0))
    h.deliver(FeedHealth(feed="rtds", connected=True, silence_s=31.0))
    h.deliver(FeedHealth(feed="rtds", connected=True, silence_s=36.0))  # inside the cooldown: not sent again
    h.fire_wakeups()
    h.deliver(FeedHealth(feed="rtds", connected=True, silence_s=0.2))
    bodies = receiver.wait(2)
    stop(h)
    assert [b["title"] for b in bodies] == ["polycopy ALERT: feed_silent:rtds", "polycopy RESOLVED: feed_silent:rtds"]
    assert "rtds delivered nothing for 31 s" in bodies[0]["message"]
    assert metric(h, 'polycopy_alerts_total{condition="feed_silent"}') == 1
    assert metric(h, 'polycopy_feed_connected{feed="rtds"}') == 1


def test_open_circuit_and_actor_alerts_reach_the_webhook(tmp_path, monkeypatch, receiver):
    h = start(tmp_path, monkeypatch, urls=receiver.url())
    h.deliver(FeedHealth(feed="backstop", connected=False, silence_s=2.0, circuit_open=True, detail="HTTP 503"))
    h.deliver(Alert(condition="kill_switch", text="kill switch tripped: 5 child failures"))
    h.deliver(Alert(condition="kill_switch", text="kill switch reset", resolved=True))
    h.deliver(Alert(condition="heartbeat", text="heartbeats ok", resolved=True))  # never fired: nothing sent
    bodies = receiver.wait(3)
    stop(h)
    titles = [b["title"] for b in bodies]
    assert titles == ["polycopy ALERT: feed_failing:backstop", "polycopy ALERT: kill_switch",
                      "polycopy RESOLVED: kill_switch"]
    assert "circuit breaker open HTTP 503" in bodies[0]["message"]


def test_repeated_rejects_and_auth_failure_alert(tmp_path, monkeypatch, lines):
    h = start(tmp_path, monkeypatch, telemetry={"alerts": {"reject_burst": 3}}, risk={"kill_min_orders": 100})
    h.deliver(outcome(1, status="rejected", reason="auth", size="0", usd="0"))
    h.deliver(outcome(2, status="rejected", reason="balance", size="0", usd="0"))
    h.deliver(outcome(3, status="rejected", reason="balance", size="0", usd="0"))
    firing = h.actor.policy.firing()
    assert set(firing) == {"auth_failure", "repeated_rejects"}
    h.deliver(outcome(4))
    assert set(h.actor.policy.firing()) == {"repeated_rejects"}  # an accepted order clears the auth alert
    assert any("ALERT auth_failure resolved" in r["message"] for r in lines)
    stop(h)


def test_paper_fills_go_to_the_csvs_with_slippage(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch, execution={"mode": "paper"})
    db = open_db(h.actor.config.store.path, "NORMAL")
    journal.ensure(db)
    journal.save_intent(db, intent_id="i1", token_id="7132", condition_id="0xc", side="BUY", size=Decimal(10),
                        source_price=Decimal("0.50"), max_notional=Decimal(6))
    h.deliver(outcome(1, usd="5.1"))
    h.deliver(outcome(1, usd="5.1"))  # redelivered: one row only
    stop(h)
    state = tmp_path / "state"
    trades = (state / "target_trades.csv").read_text().splitlines()
    assert len(trades) == 2 and ",0.510000," in trades[1] and ",200.00," in trades[1]
    assert len((state / "target_positions.csv").read_text().splitlines()) == 2
    assert metric(h, "polycopy_slippage_bps_count") == 1


def test_live_mode_writes_no_csv(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch, execution={"mode": "live"})
    h.deliver(outcome(1))
    stop(h)
    assert not (tmp_path / "state" / "target_trades.csv").exists()


def test_tick_sends_the_snapshot_and_writes_the_live_view_file(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch)
    copy(h)
    h.deliver(FeedHealth(feed="rtds", connected=True, silence_s=0.4, reconnects=2))
    h.fire_wakeups(lambda p: p == "telemetry-tick")
    snaps = h.sent_to(h.parent, TelemetrySnapshot)
    assert len(snaps) == 1 and snaps[0].snapshot["internal_ms"]["n"] == 1
    on_disk = json.loads(snapshot_path(h.actor.config).read_text())
    assert on_disk["feeds"]["rtds"]["reconnects"] == 2 and on_disk["copies_recent"][0]["corr"] == KEY
    assert not list(snapshot_path(h.actor.config).parent.glob("*.tmp"))
    stop(h)


def test_metrics_endpoint_of_the_actor_shows_copy_delay(tmp_path, monkeypatch):
    from tests.unit.test_metrics import free_port
    import requests

    port = free_port()
    h = start(tmp_path, monkeypatch, telemetry={"metrics_port": port})
    copy(h)
    body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    stop(h)
    assert "polycopy_copy_delay_seconds_count 1.0" in body
    assert h.actor.snapshot()["metrics_port"] == port


def test_reports_before_init_are_dropped_not_failures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    h = Harness(Telemetry, init=False)
    h.actor.parent = h.parent  # without the guard, the AttributeError would go there as ChildFailed
    h.deliver(StageTiming(key=KEY, stages=(("recv", 1),)))
    h.deliver(outcome(1))
    assert h.sent() == []  # no ChildFailed to anyone


def test_close_only_and_the_mode_reach_the_metrics(tmp_path, monkeypatch):
    from polycopy.messages import EntriesChanged

    h = start(tmp_path, monkeypatch)
    assert metric(h, "polycopy_entries_paused") == 0 and metric(h, 'polycopy_trading_mode{mode="dry_run"}') == 1
    h.deliver(EntriesChanged(reason="entries_paused"))
    assert metric(h, "polycopy_entries_paused") == 1 and h.actor.entries_paused == "entries_paused"
    h.deliver(EntriesChanged(reason=""))
    assert metric(h, "polycopy_entries_paused") == 0
    stop(h)


def test_copy_fidelity_in_the_snapshot_and_metrics(tmp_path, monkeypatch):
    h = start(tmp_path, monkeypatch, execution={"mode": "paper"})
    db = open_db(h.actor.config.store.path, "NORMAL")
    journal.ensure(db)
    journal.save_intent(db, intent_id="i1", token_id="7132", condition_id="0xc", side="BUY", size=Decimal(10),
                        source_price=Decimal("0.50"), max_notional=Decimal(6))
    h.deliver(Reports(items=(RiskDecision(intent_id="i1", decision="approved", reason="ok", size=Decimal(10),
                                          source_size=Decimal(10)),
                             RiskDecision(intent_id="i2", decision="approved", reason="ok", size=Decimal(10),
                                          source_size=Decimal(10)),
                             RiskDecision(intent_id="i3", decision="rejected", reason="cap_market",
                                          source_size=Decimal(20)))))
    h.deliver(outcome(1, usd="5.1"))  # 10 shares at 0.51 against the source's 0.50
    h.deliver(outcome(2, status="not_sent", reason="beyond_slippage", size="0", usd="0"))
    fid = h.actor.snapshot()["fidelity"]
    stop(h)
    assert (fid["source_shares"], fid["copied_shares"], fid["size_copied_share"]) == ("40", "10", 0.25)
    assert fid["price_gap_cents"] == {"p50": 1.0, "p95": 1.0, "n": 1} and fid["price_gap_bps"]["p50"] == 200.0
    assert fid["not_copied"] == {"risk:cap_market": 1, "executor:beyond_slippage": 1}
    assert metric(h, "polycopy_copy_size_share") == 0.25
