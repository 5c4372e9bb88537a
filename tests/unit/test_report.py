"""polycopy.ops.report: what a run did, from its database (decisions, journal, fills)."""
from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal

import pytest

from polycopy.ops import report
from polycopy.messages import CopyIntent
from polycopy.store import exposure, journal
from polycopy.store.db import open_db

D = Decimal


def intent(n: int, side: str = "BUY", price: str = "0.50", source_ts_ms: int = 0) -> CopyIntent:
    return CopyIntent(intent_id=f"i{n}", token_id="t1", condition_id="c1", side=side, size=D("10"),
                      source_price=D(price), source_size=D("10"), fill_keys=(f"k{n}a", f"k{n}b"),
                      first_recv_mono_ns=1, source_ts_ms=source_ts_ms)


def order(db, n: int, side: str, size: str, filled: str, usd: str, state: str = "accepted", reason: str = ""):
    it = intent(n, side)
    journal.save_intent(db, intent_id=it.intent_id, token_id="t1", condition_id="c1", side=side, size=D(size),
                        source_price=it.source_price, max_notional=D("10"))
    journal.journal_order(db, order_id=f"o{n}", intent_id=it.intent_id, token_id="t1", condition_id="c1",
                          side=side, price=D("0.5"), size=D(size), notional=D("5"), order_type="FAK",
                          order_json="{}", mode="paper", valid_until_ts=0, park_until_ts=0, tick_size=D("0.01"),
                          signed_ts=time.time())
    journal.update_order(db, f"o{n}", state=state, reason=reason, filled_size=D(filled), filled_notional=D(usd),
                         matched_ts=time.time() if state == "accepted" else 0.0)


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "state.sqlite"
    db = open_db(path)
    exposure.ensure(db)
    journal.ensure(db)
    now_ms = int(time.time() * 1000)
    for n, (decision, reason) in enumerate([("approved", "ok"), ("approved", "ok"), ("clipped", "cap_market"),
                                            ("approved", "ok"), ("rejected", "cap_daily"),
                                            ("rejected", "near_expiry"), ("rejected", "cap_daily")]):
        size = D("0") if decision == "rejected" else D("10")
        side = "SELL" if n == 1 else "BUY"
        exposure.save_decision(db, intent(n, side, source_ts_ms=now_ms - 3000), decision, reason, size,
                               size * D("0.5"), recv_to_risk_ms=12.5)
    order(db, 0, "BUY", "10", "10", "5.10")  # filled at 0.51 vs 0.50: 200 bps worse
    order(db, 1, "SELL", "10", "10", "4.90")  # sold at 0.49 vs 0.50: 200 bps worse
    order(db, 2, "BUY", "10", "4", "2.00")  # partial, at the source's price
    journal.save_intent(db, intent_id="i3", token_id="t1", condition_id="c1", side="BUY", size=D("10"),
                        source_price=D("0.5"), max_notional=D("5"))
    journal.set_intent(db, "i3", "not_sent", "price_moved")
    db.conn.executemany("CREATE TABLE IF NOT EXISTS fills (key TEXT PRIMARY KEY, status TEXT)", [()])
    db.conn.executemany("INSERT INTO fills VALUES (?, ?)", [("a", "routed"), ("b", "routed"), ("c", "stale")])
    db.conn.commit()
    return path


def test_report_counts_copies_skips_notional_slippage_and_latency(db_path):
    r = report.build(sqlite3.connect(db_path))
    assert r["source_fills"] == {"routed": 2, "stale": 1}
    assert r["decisions"] == {"total": 7, "approved": 3, "clipped": 1, "rejected": 3}
    assert r["copied"] == {"filled": 2, "partial": 1, "not_sent": 1}
    assert r["skipped_by_reason"] == {"executor:price_moved": 1, "risk:cap_daily": 2, "risk:near_expiry": 1}
    assert r["notional_usd"] == {"reserved": "20.0", "filled": "12.00"}
    # weighted by filled notional: (200*5.10 + 200*4.90 + 0*2.00) / 12.00
    assert D(r["slippage_bps"]["weighted_mean"]) == D("166.67")
    assert r["slippage_bps"]["n"] == 3 and r["slippage_bps"]["max"] == 200.0
    lat = r["latency_ms"]
    assert lat["recv_to_decision"]["n"] == 7 and lat["recv_to_decision"]["p50"] == 12.5
    assert lat["recv_to_signed"]["n"] == 3 and lat["recv_to_signed"]["p50"] >= 12.5 - 1
    assert 2900 <= lat["source_to_decision"]["p50"] <= 60_000


def test_cli_prints_json_and_text_and_refuses_a_missing_file(db_path, tmp_path, capsys):
    assert report.main(["--db", str(db_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decisions"]["total"] == 7
    assert report.main(["--db", str(db_path)]) == 0
    text = capsys.readouterr().out
    assert "skipped by reason:" in text and "risk:cap_daily: 2" in text
    assert report.main(["--db", str(tmp_path / "nope.sqlite")]) == 2
    assert "no such database" in capsys.readouterr().err


def test_an_empty_database_gives_an_empty_report(tmp_path):
    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()
    r = report.build(sqlite3.connect(path))
    assert r["decisions"] == {"total": 0} and r["copied"] == {} and r["slippage_bps"]["weighted_mean"] is None


def test_decisions_table_keeps_every_verdict(tmp_path):
    db = open_db(":memory:")
    exposure.ensure(db)
    exposure.save_decision(db, intent(1), "rejected", "duplicate_intent", D(0), D(0), -1.0)
    exposure.save_decision(db, intent(1), "approved", "ok", D("10"), D("5.06"), 3.25)
    rows = exposure.load_decisions(db)
    assert [(r["decision"], r["reason"], r["notional_usd"]) for r in rows] == [
        ("rejected", "duplicate_intent", "0"), ("approved", "ok", "5.06")]
    assert json.loads(rows[0]["fill_keys"]) == ["k1a", "k1b"] and rows[1]["recv_to_risk_ms"] == 3.25


def test_risk_actor_persists_each_verdict_and_the_coalescers_drops(tmp_path):
    from thespian.actors import ActorAddress

    from polycopy.actors.risk import Risk
    from polycopy.config.models import Config
    from polycopy.messages import Init, RiskDecision
    from tests.actors.harness import Harness

    cfg = Config.model_validate({"store": {"path": str(tmp_path / "state.sqlite")}})
    h = Harness(Risk, init=False)
    h.actor.clock = lambda: 1_800_000_000
    h.deliver(Init(config=cfg, peers={"executor": ActorAddress("executor")}), h.parent)
    from dataclasses import replace

    from polycopy.messages import Market

    market = Market(condition_id="0xc", token_ids=("t", "u"), outcomes=("Up", "Down"), end_ts=1_800_000_600,
                    tick_size=D("0.001"), min_order_size=D(5), neg_risk=False)
    h.deliver(replace(intent(1), market=market))
    h.deliver(replace(intent(1), market=market))  # the same intent again
    h.deliver(RiskDecision(intent_id="i9", decision="dropped", reason="below_min_size", size=D("1.5")))
    rows = exposure.load_decisions(open_db(tmp_path / "state.sqlite"))
    assert [(r["intent_id"], r["decision"], r["reason"]) for r in rows] == [
        ("i1", "approved", "ok"), ("i1", "rejected", "duplicate_intent"), ("i9", "dropped", "below_min_size")]
    assert D(rows[0]["notional_usd"]) == D("5.06") and json.loads(rows[0]["fill_keys"]) == ["k1a", "k1b"]
    r = report.build(sqlite3.connect(tmp_path / "state.sqlite"))
    assert r["skipped_by_reason"] == {"coalescer:below_min_size": 1, "risk:duplicate_intent": 1}


def test_old_verdicts_are_pruned_at_start(tmp_path):
    db = open_db(":memory:")
    exposure.ensure(db)
    exposure.save_decision(db, intent(1), "approved", "ok", D("10"), D("5"), 1.0)
    exposure.save_decision(db, intent(2), "approved", "ok", D("10"), D("5"), 1.0)
    db.execute("UPDATE decisions SET decided_ts = decided_ts - ? WHERE intent_id = 'i1'",
               [(exposure.DECISIONS_KEEP_DAYS + 1) * 86_400])
    now = time.time()
    exposure.load_book(db, int(now // 86_400), now)
    assert [r["intent_id"] for r in exposure.load_decisions(db)] == ["i2"]


def test_the_report_reads_the_pnl_and_redemption_tables(tmp_path):
    from polycopy.policy.pnl import MarketPnl, Pnl
    from polycopy.store import pnl, redemptions

    path = tmp_path / "capital.sqlite"
    db = open_db(path)
    pnl.ensure(db)
    redemptions.ensure(db)
    pnl.save(db, [MarketPnl("0xa", Pnl(realised=D("9.8")), Pnl(realised=D("10")), D("1"), True),
                  MarketPnl("0xb", Pnl(unrealised=D("-1")), Pnl(unrealised=D("-2")), D("1"), False)])
    redemptions.add(db, kind="redeem", condition_id="0xa", amount_units=20_000_000, expected_usd=D("20"))
    redemptions.add(db, kind="lost", condition_id="0xc", amount_units=5_000_000, expected_usd=D(0), state="done")
    capital = report.build(sqlite3.connect(path))["capital"]
    assert (capital["ours_total"], capital["source_total"], capital["tracking_error"]) == ("8.800000", "8.000000",
                                                                                          "0.800000")
    assert capital["redemptions"] == {"redeem:waiting": 1, "lost:done": 1} and capital["markets"] == 2
