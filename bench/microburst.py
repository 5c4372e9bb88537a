"""python -m bench.microburst [--bursts 60] [--lanes on,off]

Micro-bursts: the source's transactions of 16 fills each (different sizes and prices, as when one
taker order sweeps 16 makers), so RTDS sends 16 frames in the same millisecond. One such
transaction every 1.5 s, rotating over four markets; fast feed (RTDS 100 ms); the shipped policy
(intent_net: a leading order at once, one trailing order after the quiet). Measured per burst:
the leading order's arrival at polysim after the first of its frames reached the bot, and the
orders the burst made; each market's first burst apart (it waits for the market's facts and
a new coalescer process). Runs once per lane setting (on, then off as the baseline), in one command.
Writes bench/results/microburst.json.
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import yaml

from bench import collect
from bench.machine import quantiles, write_result
from bench.system import PATIENT, BenchSystem

FILLS_PER_TX = 16
GAP_S = 1.5
START_S = 12.0  # the bot is up and subscribed before the first burst
MARKETS = [f"micro-market-{i}" for i in range(1, 5)]
OVERRIDES = {"execution": {"max_slippage_bps": 5000}, **PATIENT}


def scenario(bursts: int, seed: int = 23) -> dict:
    rng = random.Random(seed)
    fills = []
    for k in range(bursts):
        market = MARKETS[k % len(MARKETS)]
        for _ in range(FILLS_PER_TX):
            fills.append({"at_s": round(START_S + k * GAP_S, 3), "market": market, "outcome": "Up",
                          "price": str(Decimal(rng.randint(48, 53)) / 100),
                          "size": str(Decimal(rng.randint(500, 2000)) / 100), "tx": f"micro-{k}"})
    return {"name": "bench-microburst", "seed": seed,
            "source": {"wallet": "0x1d0034134e339a309700ff2d34e99fa2d48b0313"},
            "markets": [{"slug": m, "question": f"{m}?", "outcomes": ["Up", "Down"], "end_in_s": 7200}
                        for m in MARKETS],
            "default_book": {"mid": "0.50", "spread": "0.02", "levels": 8, "size": "1000000"},
            "accounts": [{"address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "pusd": "100000000"}],
            "feeds": {"rtds_lag_ms": {"orders_matched": 100, "trades": 150}, "data_api_lag_ms": 5000,
                      "noise_per_s": 3},
            "fills": fills}


def per_burst(run: collect.Run) -> list[dict]:
    """For every source transaction: the first receipt of its fills, its orders' POST arrivals
    (intents mapped to their transaction by their first fill)."""
    first_recv, fills, token = {}, defaultdict(int), {}
    for key, row in run.bot_fills.items():
        tx = key.split("|")[0]
        fills[tx] += 1
        token[tx] = row["token_id"]
        first_recv[tx] = min(first_recv.get(tx, row["recv_mono_ns"]), row["recv_mono_ns"])
    posts = defaultdict(list)
    for iid, it in run.intents.items():
        p = collect.post_ns(run, iid)
        if p:
            posts[collect.norm_key(it["first"]).split("|")[0]].append((p, it["reason"]))
    out, seen_tokens = [], set()
    for tx, recv in sorted(first_recv.items(), key=lambda kv: kv[1]):
        orders = sorted(posts.get(tx, []))
        out.append({"tx": tx, "fills_seen": fills[tx], "orders": len(orders), "first_on_market": token[tx] not in seen_tokens,
                    "leading_ms": (orders[0][0] - recv) / 1e6 if orders else None,
                    "leading_reason": orders[0][1] if orders else None})
        seen_tokens.add(token[tx])
    return out


def run_once(bursts: int, lane: str) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-microburst-"))
    path = tmp / "microburst.yaml"
    path.write_text(yaml.safe_dump(scenario(bursts), sort_keys=False))
    with BenchSystem(path, OVERRIDES, name=f"microburst-lane-{lane}", env={"POLYCOPY_LANE": lane}) as bs:
        bs.wait_ready()
        deadline = time.monotonic() + START_S + bursts * GAP_S + 30
        while time.monotonic() < deadline and bs.stats().get("source_fills", 0) < bursts * FILLS_PER_TX:
            time.sleep(1)
        time.sleep(5)  # the last burst's trailing order (coalesce_ms) and its answer
    run = collect.gather(bs)
    rows = per_burst(run)
    led = [r["leading_ms"] for r in rows if r["leading_reason"] == "leading" and not r["first_on_market"]]
    cold = [r["leading_ms"] for r in rows if r["leading_reason"] == "leading" and r["first_on_market"]]
    out = {"lane": lane, "bursts_published": bursts, "bursts_seen": len(rows),
           "bursts_whole": sum(1 for r in rows if r["fills_seen"] == FILLS_PER_TX),
           "bursts_with_an_order": sum(1 for r in rows if r["orders"]), "leading_order_ms": quantiles(led),
           "bursts_first_copied_by_a_trailing_order": sum(1 for r in rows if r["leading_reason"] == "trailing"),
           "first_burst_on_a_market_ms": quantiles(cold),
           "orders_per_burst": quantiles(r["orders"] for r in rows),
           "max_orders_in_a_burst": max((r["orders"] for r in rows), default=0),
           "restarts": bs.restarts(), "run_dir": str(bs.dir)}
    print(f"lane {lane}: {out['bursts_with_an_order']}/{bursts} bursts copied; leading order {out['leading_order_ms']}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.microburst", description=__doc__.split("\n")[0])
    p.add_argument("--bursts", type=int, default=60, help="16-fill transactions per run (default 60)")
    p.add_argument("--lanes", default="on,off", help="lane settings to run, in order (default on,off)")
    args = p.parse_args(argv)
    runs = {lane: run_once(args.bursts, lane) for lane in args.lanes.split(",")}
    write_result("microburst", {
        "runs": runs, "fills_per_transaction": FILLS_PER_TX, "gap_s": GAP_S, "copy_mode": "intent_net",
        "config_overrides": OVERRIDES, "scenario": "generated by bench/microburst.py",
        "definitions": {"leading_order_ms": "per burst on a market the bot has seen before: POST arrival at polysim of "
                                            "its first order minus the bot's receipt of the first of its frames (one "
                                            "CLOCK_MONOTONIC)",
                        "first_burst_on_a_market_ms": "the same for each market's first burst: the catalog looks the "
                                                      "market up and a coalescer process is started first",
                        "bursts_first_copied_by_a_trailing_order": "bursts inside the burst horizon of an earlier "
                                                                   "leading order on their market (e.g. a fill RTDS "
                                                                   "missed, copied from the backstop ~5 s late): by "
                                                                   "policy they go in that burst's trailing order",
                        "orders_per_burst": "orders whose intent's first fill is in the burst's transaction"}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
