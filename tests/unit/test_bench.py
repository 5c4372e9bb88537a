"""The benchmark harness's pure parts: key joins, quantiles, burst grouping, queue depth, scenarios."""
from __future__ import annotations

import json
import random

import pytest

from bench import collect, table, table_fmt, table_runs
from bench.burst import depth_series, orders_per_burst
from bench.machine import quantiles
from bench.profile import summarise
from bench.runs import SCENARIOS, scenario_variant
from bench.procs import ProcSampler
from bench.soak import duplicates, memory_trend, scenario
from polycopy.policy.coalesce import intent_id_for
from polycopy.sim.plan import plan_once
from polycopy.sim.scenario import load, parse

TX = "0x" + "ab" * 32


def test_norm_key_joins_polysim_and_bot_formats():
    sim = f"{TX.upper().replace('0X', '0x')}:123:buy:0.520:5.0000:1"
    bot = f"{TX}|123|BUY|0.52|5|1"
    assert collect.norm_key(sim) == collect.norm_key(bot)
    assert collect.norm_key(bot) != collect.norm_key(f"{TX}|123|BUY|0.52|5|0")


def test_quantiles_nearest_rank():
    q = quantiles(range(1, 101))
    assert (q["p50"], q["p95"], q["p99"], q["max"], q["n"]) == (51, 96, 100, 100, 100)
    assert quantiles([])["n"] == 0 and quantiles([])["p50"] is None


def _run_with(fills: dict, posts: dict, intents: dict | None = None) -> collect.Run:
    run = collect.Run()
    for key, (sched, recv) in fills.items():
        k = collect.norm_key(key)
        run.source[k] = {"sched_mono_ns": sched, "token_id": "1"}
        if recv is not None:
            run.bot_fills[k] = {"key": key, "recv_mono_ns": recv, "feed": "rtds"}
    for key, post in posts.items():
        iid = intent_id_for((key,))
        run.orders[iid] = {"order_id": "o" + key[-1], "intent_id": iid, "token_id": "1"}
        run.posts["o" + key[-1]] = {"recv_mono_ns": post, "order_id": "o" + key[-1], "status": 200}
        run.post_list.append(run.posts["o" + key[-1]])
    run.intents.update(intents or {})
    return run


def test_per_fill_maps_each_fill_to_its_own_order():
    a, b, c = (f"{TX}|1|BUY|0.5|5|{i}" for i in range(3))
    run = _run_with({a: (0, 1_000_000_000), b: (0, 2_000_000_000), c: (0, None)}, {a: 1_005_000_000})
    rows = {r["key"]: r for r in collect.per_fill(run)}
    assert rows[collect.norm_key(a)]["post_ns"] == 1_005_000_000
    assert rows[collect.norm_key(b)]["post_ns"] is None  # detected, never posted
    assert rows[collect.norm_key(c)]["recv_ns"] is None  # never detected
    assert collect.per_fill(run, since_ns=1) == []


def test_internal_samples_only_for_leading_intents():
    a, b = f"{TX}|1|BUY|0.5|5|0", f"{TX}|1|BUY|0.5|5|1"
    run = _run_with({a: (0, 1_000_000_000), b: (0, 1_000_000_000)}, {a: 1_004_000_000, b: 3_000_000_000})
    run.intents = {intent_id_for((a,)): {"reason": "leading", "first": a},
                   intent_id_for((b,)): {"reason": "trailing", "first": b}}
    assert collect.internal_samples(run, ("leading",)) == [4.0]


def test_orders_per_burst_groups_by_horizon():
    run = collect.Run()
    # (reason, emit ms): a burst of leading+trailing, a lone leading, a trailing whose leading was too
    # small (it opens its own burst: 3.0 s after the last start), then leading + trailing
    seq = [("leading", 0), ("trailing", 2000), ("leading", 2500), ("trailing", 5500), ("leading", 8000),
           ("trailing", 10000)]
    for i, (reason, ms) in enumerate(seq):
        ts = f"2026-11-22T03:00:{ms // 1000:02d}.{ms % 1000:03d}+00:00"
        run.intents[f"i{i}"] = {"reason": reason, "first": "", "ts": ts}
        run.orders[f"i{i}"] = {"order_id": f"o{i}", "token_id": "tok"}
        run.posts[f"o{i}"] = {"recv_mono_ns": ms}
    assert orders_per_burst(run) == [2, 1, 1, 2]


def test_a_trailing_order_in_the_same_millisecond_as_a_leading_one_closes_the_earlier_burst():
    run = collect.Run()
    for i, (reason, ms) in enumerate([("leading", 0), ("leading", 2000), ("trailing", 2000), ("trailing", 4000)]):
        run.intents[f"i{i}"] = {"reason": reason, "first": "", "ts": f"2026-11-22T03:00:{ms // 1000:02d}.000+00:00"}
        run.orders[f"i{i}"] = {"order_id": f"o{i}", "token_id": "tok"}
        run.posts[f"o{i}"] = {"recv_mono_ns": ms}
    assert orders_per_burst(run) == [2, 2]


def test_depth_series_counts_fills_in_flight():
    run = collect.Run()
    for i, (recv, intake_ms) in enumerate([(0, 5.0), (1_000_000, 5.0), (20_000_000, 1.0)]):
        key = f"k{i}"
        run.bot_fills[key] = {"key": key, "recv_mono_ns": recv}
        run.stages[key] = {"intake": intake_ms}
    d = depth_series(run)["watcher_to_intake"]
    assert d["max"] == 2 and d["n"] == 3


def test_duplicates_counts_orders_for_unknown_fills():
    a, ghost = f"{TX}|1|BUY|0.5|5|0", f"{TX}|1|BUY|0.5|5|9"
    run = _run_with({a: (0, 1)}, {a: 2})
    run.bot_fills[collect.norm_key(ghost)] = {"key": ghost, "recv_mono_ns": 1, "feed": "backstop"}
    iid = intent_id_for((ghost,))
    run.orders[iid] = {"order_id": "og", "intent_id": iid, "token_id": "1"}
    d = duplicates(run, {"o0", "og"})
    assert d == {"extra_orders_per_fill": 0, "orders_for_unknown_fills": 1, "order_ids_accepted_twice": 0}


def test_memory_trend_separates_long_lived_actors_from_coalescers():
    sampler = ProcSampler.__new__(ProcSampler)
    # 10 min every 30 s: intake's RSS grows 1 MB a minute and its USS 2, a coalescer (30 MB USS)
    # lives from minute 4 to 6, polysim grows fast and is not the bot's.
    sampler.samples = {"intake": [(t, 0.0, 50 + t / 60, 10 + t / 30, 20, 15.0) for t in range(0, 601, 30)],
                       "coalescer:1": [(t, 0.0, 70.0, 30.0, 12, 35.0) for t in range(240, 361, 30)],
                       "polysim": [(t, 0.0, 90.0 + t, 60 + t, 40, 70.0) for t in range(0, 601, 30)]}
    trend = memory_trend(sampler)
    assert trend["fixed_actors_rss_mb_per_h_second_half"] == pytest.approx(60.0)
    assert trend["fixed_actors_uss_mb_per_h_second_half"] == pytest.approx(120.0)
    assert [r["min"] for r in trend["by_minute"]] == [float(m) for m in range(11)]
    assert trend["by_minute"][5] == {"min": 5.0, "pss_mb": 50.0, "uss_mb": 50.0, "fds": 32, "coalescers": 1}
    assert trend["by_minute"][7]["coalescers"] == 0 and trend["by_minute"][7]["fds"] == 20
    assert trend["fds_first_last"] == [20, 20]


@pytest.mark.parametrize("name", ["latency", "burst"])
def test_bench_scenarios_are_valid(name):
    sc = load(SCENARIOS / f"{name}.yaml")
    fills = sum(p.repeat for _, txs in plan_once(sc, random.Random(1)) for p in txs)
    assert fills > 100
    assert all(b.side == "BUY" for b in sc.bursts)


def test_mempool_scenario_is_single_fills_at_two_per_second():
    sc = load(SCENARIOS / "mempool.yaml")
    planned = list(plan_once(sc, random.Random(1)))
    assert all(len(txs) == 1 and txs[0].repeat == 1 for _, txs in planned)  # one fill per transaction
    assert len(planned) / sc.loop_s == 2 and all(f.side == "BUY" and f.size >= 5 for f in sc.fills)
    assert sc.polygon.pending_delay_ms + sc.polygon.jitter_ms / 2 == 650  # MEMPOOL.md: median 0.65 s


def test_burst_scenario_rate():
    sc = load(SCENARIOS / "burst.yaml")
    txs = plan_once(sc, random.Random(1))
    fills = sum(len(f) for _, f in txs)
    span = txs[-1][0] - txs[0][0]
    assert len(sc.markets) == 20 and 190 <= fills / span <= 210


def test_soak_scenario_rolls_markets_and_schedules_faults():
    sc = parse(scenario(2, 30))
    assert len(sc.markets) >= 4
    assert {f.kind for f in sc.faults} >= {"rtds_drop", "venue_429"}
    assert all(b.at_s >= 8 for b in sc.bursts)


def test_scenario_variant_replaces_feeds(tmp_path):
    path = scenario_variant("latency", tmp_path, {"rtds_lag_ms": {"orders_matched": 100, "trades": 150}})
    assert load(path).feeds.rtds_lag_ms == {"orders_matched": 100, "trades": 150}


def test_summarise_collapsed_stacks(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("main (a.py:1);work (b.py:2);sign (c.py:3) 30\nmain (a.py:1);select (sel.py:9) 70\n"
                 "main (a.py:1);work (b.py:2) 10\n")
    s = summarise(f)
    assert s["samples"] == 110 and s["busy_share_pct"] == pytest.approx(36.4)
    assert s["top_self_pct_of_busy"]["sign (c.py)"] == 75.0
    assert s["top_inclusive_pct_of_busy"]["work (b.py)"] == 100.0


def test_table_from_results(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "RESULTS", tmp_path)
    monkeypatch.setattr(table_fmt, "RESULTS", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- bench-table:start -->\nold figures\n<!-- bench-table:end -->\nafter\n")
    monkeypatch.setattr(table, "README", readme)
    q = {"p50": 1.5, "p95": 2, "p99": 3, "max": 4, "n": 1000}
    feed = {"copy_delay_ms": q, "detection_lag_ms": q, "internal_ms": q}
    half = {"by_winning_feed": {"mempool": feed}, "copy_delay_ms": {**q, "p50": 702}, "winning_feed": {"mempool": 9},
            "mempool_gain_over_rtds_ms": {**q, "p50": 1250}}
    (tmp_path / "mempool.json").write_text(json.dumps({
        "on": half, "off": {**half, "by_winning_feed": {"rtds": feed}}, "floor": {"four_hops_ms": q},
        "verdict": {"on_mempool_median_excess_ms": 9.5, "off_rtds_median_excess_ms": 8.25,
                    "on_difference_of_medians_ms": 12, "off_difference_of_medians_ms": 9, "target_ms": 5},
        "feeds": {}}))
    (tmp_path / "soak.json").write_text(json.dumps({
        "copied": 10, "eligible": 11, "duplicates": 0, "restarts": 1, "rss_growth_mb": 2.5, "minutes": 5,
        "faults": ["30s rtds_drop"], "roll_s": 60, "restarts_by_actor": {"risk": 1}}))
    (tmp_path / "latency.json").write_text(json.dumps({
        "models": {"fast": {"copy_delay_ms": q, "detection_lag_ms": q, "internal_ms": q, "feeds": {}}},
        "stages_ms": {"sign": q, "sum_p50": 3.1}}))
    table.main()
    text = (tmp_path / "TABLE.md").read_text()
    assert "| 10 / 11 | 0 | 1 | 2.5 |" in text
    assert "| internal | 1.50 | 2.00 | 3.00 | 4.00 | 1000 |" in text
    assert "| sign |" in text
    assert "on (mempool) 9.50 ms, off (RTDS) 8.25 ms; difference of the medians 12.0 / 9.00 ms; target 5 ms" in text
    summary = readme.read_text()
    assert "old figures" not in summary and summary.endswith("<!-- bench-table:end -->\nafter\n")
    assert "1,250 ms before RTDS" in summary and "| copied / source fills |" in summary


PATCH_PROBE = """
import sys, time
from decimal import Decimal
from polycopy.actors.intake import Intake
from polycopy.config.loader import parse_config
from polycopy.messages import FillBatch, Market, SourceFill, StageTiming
from tests.actors.harness import Harness

def fill(tx):
    return SourceFill(key=f"{tx}|11|BUY|0.5|5|0", source_wallet="0xw", condition_id="0xc", token_id="11",
                      outcome="Up", side="BUY", price=Decimal("0.5"), size=Decimal(5), tx_hash=tx,
                      source_ts_ms=time.time_ns() // 1_000_000, feed="rtds", recv_mono_ns=time.monotonic_ns())

cfg = parse_config({"store": {"path": sys.argv[1]}})
h = Harness(Intake, config=cfg, peers={"coalescer:11": "c11", "telemetry": "tel"})
h.deliver(Market(condition_id="0xc", token_ids=("11", "12"), outcomes=("Up", "Down"), end_ts=2_000_000_000,
                 tick_size=Decimal("0.01"), min_order_size=Decimal(5), neg_risk=False))
h.deliver(FillBatch(fills=(fill("0xa"), fill("0xb"), fill("0xc"))))
print(len(h.sent_to("tel", StageTiming)), sum(len(b.fills) for b in h.sent_to("c11", FillBatch)))
"""


# The fix the patch tried is now in intake itself (one timing per token and batch): both send one.
@pytest.mark.parametrize("patch, timings", [("", 1), ("intake_one_timing", 1)])
def test_intake_one_timing_patch(tmp_path, patch, timings):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{repo / 'bench' / 'patches'}:{repo}", "POLYCOPY_BENCH_PATCH": patch}
    out = subprocess.run([sys.executable, "-c", PATCH_PROBE, str(tmp_path / "s.sqlite")], env=env, cwd=repo,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [str(timings), "3"]  # every fill still routed; fewer telemetry sends


def test_mempool_bench_credits_each_copy_to_the_feed_it_copied():
    from bench.mempool import figures, per_fill, verdict

    ms = 1_000_000
    a, b, c = (f"{TX}|1|BUY|0.5|5|{i}" for i in range(3))
    pending_a = "pending|0xaa|5000000"
    run = _run_with({a: (0, 1900 * ms), b: (0, 1900 * ms), c: (0, None)},
                    {pending_a: 660 * ms, b: 1910 * ms})
    rows = [{"key": a, "recv_mono_ns": 1900 * ms, "feed": "rtds", "status": "linked", "confirms": pending_a},
            {"key": pending_a, "recv_mono_ns": 650 * ms, "feed": "mempool", "status": "provisional", "confirms": ""},
            {"key": b, "recv_mono_ns": 1900 * ms, "feed": "rtds", "status": "routed", "confirms": ""}]

    class Bench:
        def db_rows(self, sql, args=()):
            return rows

    out = figures(per_fill(Bench(), run, {"since_ns": 0, "until_ns": 10**12}))
    assert (out["source_fills"], out["copied"], out["winning_feed"]) == (3, 2, {"mempool": 1, "rtds": 1})
    assert out["by_winning_feed"]["mempool"]["copy_delay_ms"]["p50"] == 660
    assert out["by_winning_feed"]["mempool"]["internal_ms"]["p50"] == 10
    assert out["by_winning_feed"]["rtds"]["copy_delay_ms"]["p50"] == 1910
    assert out["mempool_gain_over_rtds_ms"]["p50"] == 1250 and out["mempool_gain_over_rtds_ms"]["n"] == 1
    assert out["detection_lag_ms_by_feed"]["rtds"]["n"] == 2
    v = verdict(out, out, {"four_hops_ms": {"p50": 5.0}})
    assert v["on_mempool_median_excess_ms"] == 10 and v["off_rtds_median_excess_ms"] == 10
    assert v["on_difference_of_medians_ms"] == 10 and v["floor_four_bare_hops_ms_p50"] == 5.0


def test_lane_capital_and_chaos_lines_from_results(tmp_path, monkeypatch):
    monkeypatch.setattr(table_fmt, "RESULTS", tmp_path)
    q = lambda p50: {"p50": p50, "p95": 2 * p50, "p99": 3 * p50, "max": 4 * p50, "n": 60}  # noqa: E731
    for name, p50 in (("latency", 5.0), ("latency_lane_off", 7.5)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"models": {"fast": {"internal_pipeline_ms": q(p50)}}}))
    (tmp_path / "microburst.json").write_text(json.dumps({"runs": {
        "on": {"leading_order_ms": q(6.0)}, "off": {"leading_order_ms": q(8.25)}}}))
    assert table_runs.lane_rows() == [
        ("internal, latency scenario, fast feed (ms p50 / p95 / p99)", "5.00 / 10.0 / 15.0", "7.50 / 15.0 / 22.5",
         "latency.json, latency_lane_off.json"),
        ("16-fill transaction: leading order after its first frame (ms)", "6.00 / 12.0 / 18.0", "8.25 / 16.5 / 24.8",
         "microburst.json")]
    (tmp_path / "capital.json").write_text(json.dumps({
        "windows": 62, "bankroll_windows": 3, "redeemer": True, "windows_traded": 61, "copied_vs_caps": 0.9912,
        "approved_shares": "2363.5", "allowed_shares": "2384.52", "filled_usd": "1200.5", "cap_per_window_usd": "20",
        "redemptions": {"count": 43, "usd": "860.5", "resolution_to_credit_s": q(4.5)},
        "insufficient_balance": {}, "venue_balance_rejects": 0,
        "pnl": {"ours_total": "120.25", "source_total": "130", "tracking_error": "-9.75"},
        "venue_truth": {"pnl_usd": "120.25"}, "alerts": {}}))
    (tmp_path / "chaos.json").write_text(json.dumps({
        "minutes": 10, "copy_mode": "fill_by_fill", "restarts_by_actor": {"risk": 2, "intake": 3},
        "tree_restarts": [{"at_s": 88}], "copied": 980, "eligible": 990, "copied_pct_by_fill": 98.99,
        "duplicates": 0, "overfill": {"overfill_shares": "0"}, "kill_switch_trips": [], "lost": {}}))
    text = "\n".join(table_runs.readme_lines())
    assert ("risk approved 2,364 shares where the caps allow 2,385 (99.1 %), 1,200.50 pUSD filled (19.36 a window on "
            "average, cap 20.00), 43 redemptions (860.50 pUSD, resolution to credit p50 4.50 s)") in text
    assert "0 intents refused `insufficient_balance`, 0 venue balance rejects; PnL ours 120.25 pUSD" in text
    assert "source 130.00, tracking error -9.75" in text
    assert "5 actor restarts and 1 whole-tree restarts: 980 of 990 eligible fills copied (98.99 %)" in text
    assert "| 16-fill transaction: leading order after its first frame (ms) | 6.00 / 12.0 / 18.0 |" in text
