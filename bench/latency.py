"""python -m bench.latency [--fills N] [--models third_party,fast] [--no-stages]

polysim (bench/scenarios/latency.yaml: the default scenario's pattern at ~10 fills/s) and the
whole multiprocess system in live mode, once per feed-lag model. Reports copy delay, detection
lag and internal latency (p50/p95/p99/max over >= N copied fills), the live segments of the
pipeline from StageTiming, and the per-stage compute breakdown (bench.stages, in-process).
Copies fill by fill so every fill maps to exactly one order (intent_net's trailing orders wait
for their horizon by policy; that wait is not latency). Writes bench/results/latency.json.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench import collect, stages
from bench.machine import quantiles, write_result
from bench.runs import FEED_MODELS, latency_figures, risk_refusals, run_until, scenario_variant
from bench.system import PATIENT, BenchSystem

OVERRIDES = {"copy": {"copy_mode": "fill_by_fill"}, "execution": {"max_slippage_bps": 5000}, **PATIENT}


def run_model(model: str, fills: int) -> dict:
    feeds = FEED_MODELS[model]
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-latency-{model}-"))
    scenario = scenario_variant("latency", tmp, feeds)
    tail_s = max(feeds["rtds_lag_ms"].values()) / 1000 + 5
    with BenchSystem(scenario, OVERRIDES, name=f"latency-{model}") as bs:
        bs.wait_ready()
        window = run_until(bs, int(fills * 1.08) + 20, tail_s, max_s=600)
    run = collect.gather(bs)
    out = latency_figures(run, window)
    out["segments_ms"] = {k: quantiles(v) for k, v in collect.segments(run).items()}
    out["restarts"] = bs.restarts()
    out["refused_by_risk"] = risk_refusals(bs)
    out["feeds"] = feeds
    out["window"] = window
    out["run_dir"], out["config_overrides"] = str(bs.dir), bs.overrides
    print(f"{model}: copied {out['copied']}/{out['source_fills']}; internal {out['internal_ms']}; "
          f"pipeline {out['internal_pipeline_ms']} ({out['copied_after_backstop_corroboration']} waited); "
          f"copy delay {out['copy_delay_ms']}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n")[0])
    p.add_argument("--fills", type=int, default=1000, help="copied fills per feed model (default 1000)")
    p.add_argument("--models", default="third_party,fast", help="feed-lag models: " + ", ".join(FEED_MODELS))
    p.add_argument("--no-stages", action="store_true", help="skip the in-process per-stage breakdown")
    p.add_argument("--tag", default="", help="writes latency_<tag>.json (e.g. an interim run)")
    args = p.parse_args(argv)
    models = {m: run_model(m, args.fills) for m in args.models.split(",")}
    first = models[next(iter(models))]
    result = {
        "internal_ms": first["internal_ms"], "copy_delay_ms": first["copy_delay_ms"],
        "detection_lag_ms": first["detection_lag_ms"], "headline_model": next(iter(models)),
        "models": models,
        "stages_ms": {} if args.no_stages else stages.measure(),
        "scenario": "bench/scenarios/latency.yaml (feeds per model)", "copy_mode": "fill_by_fill",
        "definitions": {
            "detection_lag_ms": "bot receipt of the fill (first feed) - polysim's scheduled fill time",
            "copy_delay_ms": "arrival of the copying POST /order at polysim - scheduled fill time",
            "internal_ms": "arrival of the copying POST /order at polysim - bot receipt of the fill",
            "internal_pipeline_ms": "internal_ms without the repeats inside one transaction first seen on RTDS, "
                                    "which wait for the backstop to list them (policy/dedupe.py; counted in "
                                    "copied_after_backstop_corroboration)",
            "stages_ms": "in-process compute time of each hot-path step (bench.stages), no actor hops",
            "segments_ms": "live run, from StageTiming + polysim arrival: where the internal time goes",
        },
    }
    write_result(f"latency_{args.tag}" if args.tag else "latency", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
