"""python -m bench.burst

200 source fills/s across 20 markets for 60 s (bench/scenarios/burst.yaml), the whole system in
live mode with the shipped policy (intent_net). Reports orders per burst (per market and burst
horizon: the leading order plus its trailing order), internal latency of the leading orders
(their fill's receipt -> POST arrival at polysim), in-flight depth per stage over time (from
StageTiming: a fill is "in" a stage between its two stamps), and CPU and RSS of every actor
process (psutil, 1 s). Writes bench/results/burst.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import time
from collections import defaultdict
from pathlib import Path

from bench import collect
from bench.machine import quantiles, write_result
from bench.procs import ProcSampler
from bench.system import PATIENT, BenchSystem
from polycopy.ops.progress import progress_bar

SCENARIO = Path(__file__).parent / "scenarios" / "burst.yaml"
OVERRIDES = {"execution": {"max_slippage_bps": 5000}, **PATIENT}
STEP_NS = 100_000_000  # depth sampled every 100 ms
# (queue name, from stage, to stage), stages relative to the fill's receipt; "recv" = 0
QUEUES = (("watcher_to_intake", "recv", "intake"), ("intake_to_risk_done", "intake", "risk"),
          ("risk_to_executor", "risk", "exec_in"), ("executor", "exec_in", "acked"))


def orders_per_burst(run: collect.Run, horizon_ms: int = 2000, slack_ms: int = 100) -> list[int]:
    """Orders per market per burst horizon, by the coalescer's emit times: a leading intent opens a
    burst; so does a trailing one emitted after the horizon (its leading fill was too small to go
    alone and rode with it). Only intents whose order reached polysim count."""
    by_token = defaultdict(list)
    for iid, it in run.intents.items():
        o = run.orders.get(iid)
        if o and o["order_id"] in run.posts:
            by_token[o["token_id"]].append((dt.datetime.fromisoformat(it["ts"]).timestamp() * 1000, it["reason"]))
    counts = []
    for rows in by_token.values():
        n, start = 0, None
        for t, reason in sorted(rows, key=lambda r: (r[0], r[1] != "trailing")):  # a tie: the trailing one
            # closes the earlier burst (it was due), the leading one opens the next
            if n and (reason == "leading" or t - start > horizon_ms + slack_ms):
                counts.append(n)
                n = 0
            if n == 0:
                start = t
            n += 1
        if n:
            counts.append(n)
    return counts


def depth_series(run: collect.Run) -> dict:
    """Max in-flight count per stage per second, and overall, from the stage stamps."""
    intervals = defaultdict(list)  # queue -> [(start_ns, end_ns)]
    for k, bot in run.bot_fills.items():
        st = run.stages.get(bot["key"])
        if not st:
            continue
        st = {**st, "recv": 0.0}
        for name, a, b in QUEUES:
            if a in st and b in st:
                start = bot["recv_mono_ns"] + int(st[a] * 1e6)
                intervals[name].append((start, bot["recv_mono_ns"] + int(st[b] * 1e6)))
    out = {}
    t0 = min((s for iv in intervals.values() for s, _ in iv), default=0)
    for name, iv in intervals.items():
        events = sorted([(s, 1) for s, _ in iv] + [(e, -1) for _, e in iv])
        per_s, depth, i, peak = defaultdict(int), 0, 0, 0
        for t, d in events:
            depth += d
            sec = int((t - t0) // 1_000_000_000)
            per_s[sec] = max(per_s[sec], depth)
            peak = max(peak, depth)
        out[name] = {"max": peak, "n": len(iv), "max_per_s": [per_s.get(s, 0) for s in range(max(per_s, default=-1) + 1)]}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.split("\n")[0])
    p.add_argument("--tail", type=float, default=15.0, help="seconds to wait after the last fill")
    p.add_argument("--patch", default="", help="a bench/patches experiment (e.g. intake_one_timing); "
                                                "writes burst_<patch>.json")
    p.add_argument("--tag", default="", help="writes burst_<tag>.json (e.g. an interim run)")
    args = p.parse_args(argv)
    with BenchSystem(SCENARIO, OVERRIDES, name="burst", patch=args.patch) as bs:
        bs.wait_ready()
        sampler = ProcSampler(bs).start()
        sim_t = bs.control("GET", "/health")["t"]
        wait_s = max(0.0, 70.5 - sim_t) + args.tail  # the burst ends at 70 s scenario time
        with progress_bar(total=wait_s, what="burst", unit="s") as bar:
            t0 = time.monotonic()
            while (waited := time.monotonic() - t0) < wait_s:
                bar.update(waited)
                time.sleep(min(1.0, wait_s - waited))
        sampler.stop()
    run = collect.gather(bs)
    per_burst = orders_per_burst(run, bs.config()["copy"]["burst_horizon_ms"])
    depth = depth_series(run)
    leading = collect.internal_samples(run, ("leading",))
    rows = collect.per_fill(run)
    src = [r for r in rows if r["recv_ns"]]
    procs = sampler.summary()
    write_result("_".join(["burst", *filter(None, (args.patch, args.tag))]), {"patch": args.patch or None,
        "max_orders_per_burst": max(per_burst, default=0),
        "orders_per_burst_hist": {str(n): per_burst.count(n) for n in sorted(set(per_burst))},
        "internal_ms": quantiles(leading),
        "max_queue_depth": {name: d["max"] for name, d in depth.items()},
        "queue_depth_per_s": {name: d["max_per_s"] for name, d in depth.items()},
        "rss_mb": {name: s["rss_mb_max"] for name, s in procs.items()},
        "uss_mb": {name: s["uss_mb_last"] for name, s in procs.items()},
        "cpu_pct": {name: {"mean": s["cpu_pct_mean"], "max": s["cpu_pct_max"]} for name, s in procs.items()},
        "source_fills": len(rows), "detected": len(src), "orders_posted": len(run.posts),
        "intents": {r: sum(1 for i in run.intents.values() if i["reason"] == r) for r in ("leading", "trailing")},
        "detection_lag_ms": quantiles((r["recv_ns"] - r["sched_ns"]) / 1e6 for r in src),
        "restarts": bs.restarts(), "ready_at_scenario_s": sim_t,
        "scenario": "bench/scenarios/burst.yaml", "copy_mode": "intent_net",
        "definitions": {"max_orders_per_burst": "most orders posted for one market in one burst horizon",
                        "internal_ms": "leading orders: receipt of the fill -> POST arrival at polysim",
                        "max_queue_depth": "most fills in flight between two stage stamps at once",
                        "rss_mb": "max RSS per process (coalescer:<token> each)"},
        "config_overrides": bs.overrides, "run_dir": str(bs.dir)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
