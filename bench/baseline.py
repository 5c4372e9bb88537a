"""python -m bench.baseline [--fills N] [--model third_party|fast]

One polysim run, two copiers on the same source fills: polycopy (whole system, live, fill by
fill) and a minimal Data-API-polling copier (bench/poll_copier.py: the public bots' design,
1 s interval). Copy delay = arrival of the copying POST /order at polysim - the fill's time,
for each; `ratio` = baseline / polycopy (p50 and p95). Writes bench/results/baseline.json
(baseline_fast.json with --model fast).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench import collect
from bench.machine import quantiles, write_result
from bench.poll_copier import PollCopier
from bench.runs import FEED_MODELS, run_until, scenario_variant
from bench.system import PATIENT, BenchSystem

OVERRIDES = {"copy": {"copy_mode": "fill_by_fill"}, "execution": {"max_slippage_bps": 5000}, **PATIENT}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.split("\n")[0])
    p.add_argument("--fills", type=int, default=400, help="source fills to compare (default 400)")
    p.add_argument("--model", default="third_party", choices=list(FEED_MODELS))
    args = p.parse_args(argv)
    feeds = FEED_MODELS[args.model]
    scenario = scenario_variant("latency", Path(tempfile.mkdtemp(prefix="bench-baseline-")), feeds)
    with BenchSystem(scenario, OVERRIDES, name="baseline") as bs:
        bs.wait_ready()
        wallet = bs.config()["copy"]["source_wallet"]
        copier = PollCopier(bs.endpoints["data_api"], bs.endpoints["clob"], wallet)
        copier.start()
        window = run_until(bs, args.fills, feeds["data_api_lag_ms"] / 1000 + 4, max_s=600)
        copier.stop()
    run = collect.gather(bs)
    arrivals = {}
    for r in bs.records()["clob"]:
        if r["method"] == "POST" and r["path"] == "/order" and r.get("order_id"):
            arrivals.setdefault(r["order_id"], r["recv_mono_ns"])
    baseline_by_fill = {collect.norm_key(k): arrivals.get(oid) for k, oid in copier.copies.items()}
    ours, theirs, both = [], [], []
    for row in collect.per_fill(run, window["since_ns"] + 1_500_000_000, window["until_ns"]):  # after priming
        a = (row["post_ns"] - row["sched_ns"]) / 1e6 if row["post_ns"] else None
        b = baseline_by_fill.get(row["key"])
        b = (b - row["sched_ns"]) / 1e6 if b else None
        if a is not None:
            ours.append(a)
        if b is not None:
            theirs.append(b)
        if a is not None and b is not None:
            both.append((a, b))
    q_ours, q_theirs = quantiles(ours), quantiles(theirs)
    q_both_ours, q_both_theirs = quantiles(a for a, _ in both), quantiles(b for _, b in both)
    ratio = {k: round(q_both_theirs[k] / q_both_ours[k], 1) if q_both_ours[k] else None for k in ("p50", "p95")}
    write_result("baseline" if args.model == "third_party" else f"baseline_{args.model}", {
        "copy_delay_ms": {"polycopy": q_ours, "poll_baseline": q_theirs},
        "ratio": ratio, "paired_fills": len(both),
        "paired_copy_delay_ms": {"polycopy": q_both_ours, "poll_baseline": q_both_theirs},
        "baseline_errors": copier.errors, "polycopy_restarts": bs.restarts(), "feeds": feeds, "model": args.model,
        "scenario": "bench/scenarios/latency.yaml", "poll_interval_s": copier.interval_s,
        "definitions": {"ratio": "poll_baseline / polycopy copy delay over the fills both copied (p50, p95)"},
        "config_overrides": bs.overrides, "run_dir": str(bs.dir)})
    print(f"polycopy {q_both_ours}\nbaseline {q_both_theirs}\nratio {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
