"""bench.chaos's own counting: verdicts per fill, duplicates, overfill, counters across restarts,
the kill plan, the log lines it reads and the scenario it generates."""
from __future__ import annotations

import json
import random
from decimal import Decimal as D

from bench import chaos_count as cc
from bench.chaos import FAILURE_WINDOW_S, MAX_KILLS_PER_WINDOW, executor_outcomes, kill_plan, log_figures, scenario
from polycopy.policy.coalesce import intent_id_for
from polycopy.sim.scenario import parse

TOKEN, OTHER = "111", "222"


def tx(i: int) -> str:
    return "0x" + f"{i:02x}" * 32


def bot_key(i: int, size="10", occ=0, token=TOKEN) -> str:
    return f"{tx(i)}|{token}|BUY|0.5|{size}|{occ}"


def source(i: int, size="10", occ=0, token=TOKEN, sched=100) -> dict:
    # polysim's spelling: ':' separators, upper-case hex allowed, trailing zeros
    return {"fill_key": f"{tx(i).upper().replace('0X', '0x')}:{token}:BUY:0.50:{size}.0000:{occ}", "token_id": token,
            "sched_mono_ns": sched, "side": "BUY", "size": f"{size}.0000"}


def fill_row(i: int, status="routed", **kw) -> dict:
    return {"key": bot_key(i, **kw), "status": status, "feed": "rtds"}


def fbf(i: int, **kw) -> str:
    """The fill-by-fill intent id of fill i."""
    return intent_id_for((bot_key(i, **kw),))


def order(i: int, state="accepted", reason="", **kw) -> dict:
    return {"order_id": f"o{i}", "intent_id": fbf(i, **kw), "state": state, "reason": reason}


def post(order_id: str | None, status=200) -> dict:
    return {"method": "POST", "path": "/order", "status": status, "order_id": order_id}


def decision(intent_id: str, decision="approved", reason="ok", keys=()) -> dict:
    return {"intent_id": intent_id, "decision": decision, "reason": reason, "fill_keys": json.dumps(list(keys))}


def tables() -> cc.Tables:
    """Fills 1..9 scheduled in the window, fill 10 before it:
    1 copied; 2 stale at a restart; 3 refused near expiry (policy); 4 its order expired after max
    posts; 5 never detected; 6 a genuine identical fill (occurrence 1) the backstop never confirmed;
    7 refused by the executor before it recorded the intent (logged only); 8 stored, never reached
    risk; 9 approved by risk, never reached the executor; 10 copied, outside the window."""
    t = cc.Tables()
    t.source = [source(i, size=str(i + 4)) for i in range(1, 10) if i != 6] + [source(6, size="10", occ=1),
                                                                                 source(10, size="14", sched=5)]
    for i in (1, 2, 3, 4, 7, 8, 9, 10):
        t.fills.append(fill_row(i, size=str(i + 4), status="stale" if i == 2 else "routed"))
    t.fills.append(fill_row(6, status="unconfirmed", size="10", occ=1))
    t.fills.append(fill_row(11, status="unconfirmed", size="5", occ=1))  # a frame delivered twice: no such fill
    t.decisions = [decision(fbf(3, size="7"), "rejected", "near_expiry"), decision(fbf(4, size="8")),
                   decision(fbf(7, size="11")), decision(fbf(9, size="13")), decision(fbf(1, size="5"))]
    t.intents = [{"intent_id": fbf(4, size="8"), "state": "not_sent", "reason": "max_posts"}]
    t.orders = [order(1, size="5"), order(4, "expired", "max_posts", size="8"), order(10, size="14")]
    t.posts = [post("o1"), post(None, 429), post(None, 429), post("o10")]
    t.outcomes = {fbf(7, size="11"): "not_sent:heartbeat_failed"}
    return t


def test_each_fill_gets_one_verdict():
    v = cc.verdicts(tables(), since_ns=50)
    by_tx = {k.split("|")[0]: x for k, x in v.items()}
    assert by_tx == {tx(1): "copied", tx(2): "stale_at_restart", tx(3): "policy:near_expiry",
                     tx(4): "lost:order_expired:max_posts", tx(5): "lost:not_detected",
                     tx(6): "lost:unconfirmed_repeat", tx(7): "lost:executor_not_sent:heartbeat_failed",
                     tx(8): "lost:after_intake_routed", tx(9): "lost:risk_approved:ok"}


def test_copy_figures_leave_policy_and_stale_fills_out_of_eligible():
    f = cc.copy_figures(tables(), since_ns=50)
    assert (f["source_fills"], f["eligible"], f["copied"], f["stale_at_restart"]) == (9, 7, 1, 1)
    assert f["policy"] == {"near_expiry": 1}
    assert f["copied_pct_by_fill"] == round(100 / 7, 2)
    # sizes: fill i has i + 4 shares, fill 6 has 10: eligible 1,4,5,6,7,8,9 -> 5+8+9+10+11+12+13 = 68
    assert (D(f["eligible_shares"]), D(f["copied_shares"])) == (D(68), D(5))
    assert f["lost"]["not_detected"] == 1 and sum(f["lost"].values()) == 6
    assert f["repeats_withheld"] == {"phantom": 1, "genuine": 1}


def test_duplicates_join_polysim_orders_to_the_journal():
    t = tables()
    assert cc.duplicates(t) == {"extra_orders_per_fill": 0, "orders_for_unknown_fills": 0,
                                "accepted_orders_not_in_journal": 0, "order_ids_accepted_twice": 0,
                                "fills_with_extra_orders": []}
    # fill 1 also covered by a netted intent with its own accepted order (same fill, another hash)
    t.decisions.append(decision("net-1", keys=[bot_key(1, size="5"), bot_key(8, size="12")]))
    t.orders.append({"order_id": "o-net", "intent_id": "net-1", "state": "accepted", "reason": ""})
    t.posts.append(post("o-net"))
    # an order for the delivered-twice repeat nobody made, one the journal never knew, one accepted twice
    t.orders.append({"order_id": "o-ghost", "intent_id": intent_id_for((bot_key(11, size="5", occ=1),)),
                     "state": "accepted", "reason": ""})
    t.posts += [post("o-ghost"), post("o-unjournaled"), post("o10")]
    d = cc.duplicates(t)
    assert (d["extra_orders_per_fill"], d["orders_for_unknown_fills"], d["accepted_orders_not_in_journal"],
            d["order_ids_accepted_twice"]) == (1, 1, 1, 1)
    assert d["fills_with_extra_orders"] == [bot_key(1, size="5")]
    assert cc.verdicts(t, since_ns=50)[bot_key(8, size="12")] == "copied"  # the netted order covers fill 8


def test_overfill_is_holdings_above_the_source_times_the_ratio():
    t = tables()
    # source: TOKEN 5+6+7+8+9+10(occ 1)+11+12+13+14 = 95 shares; OTHER: one 20-share BUY and a 5-share SELL
    t.source += [{**source(20, size="20", token=OTHER)},
                 {**source(21, size="5", token=OTHER), "side": "SELL"}]
    t.holdings = {TOKEN: "47.5", OTHER: "8.000001"}
    o = cc.overfill(t, D("0.5"))
    assert o["tokens_over"] == {OTHER: "0.500001"}  # (20 - 5) x 0.5 = 7.5 held 8.000001
    assert D(o["overfill_shares"]) == D("0.500001") and D(o["target_shares"]) == D("55")
    t.holdings = {TOKEN: "47.5", OTHER: "7.5"}
    assert cc.overfill(t, D("0.5"))["overfill_shares"] == "0"


def test_a_counter_that_restarts_adds_up_each_life():
    c = cc.ResettingCounter()
    for v in (3, 5, 2, 4):  # the process restarted between 5 and 2
        c.sample(v)
    c.end_of_life()  # the whole tree was killed
    c.sample(1)
    assert c.total == 5 + 4 + 1


def test_kill_plan_stays_under_the_kill_switch_threshold_and_clear_of_tree_kills():
    plan = kill_plan(random.Random(3), 20, 620, 8, 3)
    trees = [t for t, w in plan if w == "tree"]
    kills = [t for t, w in plan if w == "actor"]
    assert len(trees) == 3 and trees == sorted(trees) and 20 < trees[0] < trees[-1] < 620
    assert kills and all(not (x - 10 <= k <= x + 20) for k in kills for x in trees)
    assert max(sum(1 for j in kills if k - FAILURE_WINDOW_S < j <= k) for k in kills) <= MAX_KILLS_PER_WINDOW


def test_log_figures_read_the_supervisor_and_the_executor():
    recs = [{"actor": "supervisor", "level": "WARNING", "msg": "coalescer:123 exited; restart #2 in 400 ms"},
            {"actor": "supervisor", "level": "WARNING", "msg": "risk exited; restart #1 in 100 ms"},
            {"actor": "supervisor", "level": "ERROR", "msg": "intake (pid 9) silent for 15.2 s; killing it"},
            {"actor": "supervisor", "level": "WARNING", "msg": "dropped dead letter CopyIntent to ActorAddr-x"},
            {"actor": "supervisor", "level": "ERROR", "msg": "kill switch TRIPPED: 5 child failures in 60 s (last: x)",
             "ts": "T"},
            {"actor": "executor", "level": "INFO", "msg": "intent abc -> not_sent 0 (heartbeat_failed)"},
            {"actor": "executor", "level": "INFO", "msg": "intent def -> filled 10.5 (matched)"}]
    f = log_figures(recs)
    assert f["restarts_by_actor"] == {"coalescer": 1, "risk": 1} and f["hung_by_actor"] == {"intake": 1}
    assert f["dead_letters"] == {"CopyIntent": 1}
    assert f["kill_switch_trips"] == [{"ts": "T", "reason": "5 child failures in 60 s (last: x)"}]
    assert executor_outcomes(recs) == {"abc": "not_sent:heartbeat_failed", "def": "filled:matched"}


def test_the_scenario_is_valid_and_bursty():
    data = scenario(10)
    sc = parse(data)
    assert {s.asset for s in sc.series} == {"btc", "eth"} and len(sc.markets) >= 10
    assert all(b.identical_share > 0 and b.maker_share > 0 and b.fills_per_cluster[1] > 1 for b in sc.bursts)
    assert {f.kind for f in sc.faults} >= {"rtds_duplicate", "rtds_malformed", "rtds_drop", "rtds_stall", "venue_429",
                                          "venue_503", "data_api_429"}
    assert any(f.kind == "rtds_duplicate" and f.value == 1 for f in sc.faults)  # windows of every frame twice
    assert sc.feeds.rtds_duplicate_share and sc.feeds.rtds_malformed_share and sc.feeds.data_api_hostile
    assert max(f.at_s for f in sc.faults) < 8 + 600 - 25
