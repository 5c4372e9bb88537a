"""One sweep row from a run's database (ops/replay_stats.py), on tables written here."""
import json
from decimal import Decimal as D

from polycopy.ops.replay_stats import figures
from polycopy.ops.sweep_table import markdown, replace_section
from polycopy.policy.limits import refusal_text
from polycopy.store import exposure, fills, journal, open_db

UP, DOWN = "11", "22"


def run_db():
    db = open_db(":memory:")
    fills.ensure(db), exposure.ensure(db), journal.ensure(db)
    rows = [("a", UP, "BUY", "0.50", "10", 1000), ("b", UP, "BUY", "0.52", "10", 1500),  # one burst
            ("c", UP, "BUY", "0.50", "20", 5000),  # a second burst (after the 2 s horizon)
            ("d", DOWN, "BUY", "0.40", "10", 6000)]
    for key, token, side, price, size, seen in rows:
        db["fills"].insert({"key": key, "token_id": token, "side": side, "price": price, "size": size,
                            "seen_ts_ms": seen, "status": "routed"})
    intents = [("i1", UP, "BUY", ["a"], "0.50", "filled", "", ("10", "5.10"), 1.010),  # 1 cent worse
               ("i2", UP, "BUY", ["b"], "0.52", "filled", "", ("10", "5.10"), 3.400),  # 1 cent better
               ("i3", UP, "BUY", ["c"], "0.50", "not_sent", refusal_text(D("0.53"), D("0.50")), None, 0),
               ("i4", DOWN, "BUY", ["d"], "0.40", "filled", "", ("10", "4.00"), 6.050)]
    for iid, token, side, keys, src, state, reason, filled, signed in intents:
        db.execute("INSERT INTO decisions (intent_id, decision, reason, token_id, side, source_price, fill_keys, "
                   "notional_usd, source_ts_ms, recv_to_risk_ms, decided_ts) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   [iid, "approved", "ok", token, side, src, json.dumps(keys), "6", 0, 1.0, signed])
        db["exec_intents"].insert({"intent_id": iid, "token_id": token, "side": side, "source_price": src,
                                   "state": state, "reason": reason})
        if filled:
            db["exec_orders"].insert({"order_id": "o" + iid, "intent_id": iid, "token_id": token, "side": side,
                                      "size": filled[0], "price": "0.51", "notional": filled[1], "state": "accepted",
                                      "filled_size": filled[0], "filled_notional": filled[1], "posts": 1,
                                      "signed_ts": signed, "reason": ""})
    db.execute("INSERT INTO decisions (intent_id, decision, reason, fill_keys, notional_usd, source_ts_ms, "
               "recv_to_risk_ms, decided_ts) VALUES ('x', 'dropped', 'netted_out', '[]', '0', 0, -1, 7)")
    return db.conn


def test_a_row_of_the_sweep():
    r = figures(run_db())
    assert (r["source_fills"], r["fills_copied"], r["source_shares"], r["copied_shares"]) == (4, 3, "50", "30")
    assert (r["size_copied_pct"], r["orders_sent"], r["notional_usd"]) == (60.0, 3, "14.20")
    assert r["price_gap_cents"] == 0.0  # +1 and -1 cent, 0 on the DOWN copy
    assert (r["slippage_refused"], r["slippage_needed_cents"]) == (1, 3.0)
    assert r["copy_delay_ms"]["n"] == 3 and r["copy_delay_ms"]["max"] == 1900.0  # b: seen 1500, signed 3400
    assert r["first_fill_delay_ms"] == {"n": 2, "p50": 30.0, "p95": 50.0, "max": 50.0}  # a (10 ms) and d (50 ms) opened bursts
    assert r["not_copied"] == {"coalescer:netted_out": 1, "executor:beyond_slippage": 1}
    assert r["pnl_usd"] is None and r["tracking_error_pp"] is None


def test_pnl_and_tracking_error_when_the_markets_resolved():
    r = figures(run_db(), {UP: 1, DOWN: 0})
    # ours: UP 20 shares for 10.20, DOWN 10 for 4.00 -> 20 - 14.20 = 5.80 on 14.20 (40.85 %)
    # the source: UP 40 for 20.20, DOWN 10 for 4.00 -> 40 - 24.20 = 15.80 on 24.20 (65.29 %)
    assert r["pnl_usd"] == 5.8 and r["tracking_error_pp"] == -24.44
    assert figures(run_db(), {UP: 1})["pnl_usd"] is None  # a traded token without its resolution


def test_table_and_readme_section():
    row = {"variant": "v1", "set": {"execution": {"max_slippage_ticks": 2}}, **figures(run_db())}
    text = markdown([row, {"variant": "v2", "set": {}, "error": "boom"}], {"recording": "f.jsonl", "jobs": 2})
    assert "| v1 | 3/4 | 60.0% | 3 | 0.00 | 3 | 14.20 | 1 (3.00) | – | – | 50 / 1900 | 30 / 50 |" in text  # +200 and -192 bps
    assert "| v2 | failed: boom |" in text and "execution.max_slippage_ticks=2" in text
    assert "none resolves during it" in text
    doc = "a\n<!-- sweep-table:start -->\nold\n<!-- sweep-table:end -->\nb\n"
    assert replace_section(doc, "NEW") == "a\n<!-- sweep-table:start -->\nNEW\n<!-- sweep-table:end -->\nb\n"
