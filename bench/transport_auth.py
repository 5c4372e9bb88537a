"""python -m bench.transport_auth [--n 20000] [--floor-n 120] [--floor-reps 2]

What authenticating the actor transport costs per hop (polycopy/actors/transport_auth.py):
- `codec`: the sender's `dumps` plus the receiver's `loads` of one message, plain pickle against
  the MAC'd pickle, for a one-fill FillBatch-sized message (bench.floor's payload) and a 20 KB one;
  the difference is the added cost per hop.
- `floor`: bench.floor's four bare hops, signed (as shipped) and unsigned (the install made a
  no-op in that run's process only), each in a fresh process, short; a sanity check on the codec
  figure, which the machine's noise swamps on a shared box.
Writes bench/results/transport_auth.json.
"""
from __future__ import annotations

import argparse
import multiprocessing
import pickle
import time

from bench.machine import quantiles, write_result
from polycopy.actors.transport_auth import SignedPickle

PAYLOADS = {"fill_batch_600B": ("s", "x" * 600), "large_20KB": ("s", ["x" * 200] * 100)}


def codec(n: int) -> dict:
    ser = SignedPickle(bytes(32))
    out = {}
    for name, msg in PAYLOADS.items():
        times = {"plain": [], "signed": []}
        codecs = [("plain", pickle.dumps, pickle.loads), ("signed", ser.dumps, ser.loads)]
        for i in range(n):
            for kind, dumps, loads in (codecs if i % 2 else codecs[::-1]):  # alternate which runs first
                t0 = time.perf_counter_ns()
                loads(dumps(msg))
                times[kind].append((time.perf_counter_ns() - t0) / 1000)
        q = {kind: quantiles(v) for kind, v in times.items()}
        out[name] = {"plain_us": q["plain"], "signed_us": q["signed"], "bytes": len(pickle.dumps(msg)),
                     "added_us_p50": round(q["signed"]["p50"] - q["plain"]["p50"], 3)}
    return out


def _floor(signed: bool, n: int, queue) -> None:
    from bench import floor
    from polycopy.actors import system

    if not signed:
        system.transport_auth.install = lambda key: None  # this process only: the unsigned baseline
    queue.put(floor.measure(rate=4.0, n=n))


def floor_runs(n: int, reps: int) -> dict:
    """`reps` pairs of runs, the order alternating (the load of a shared machine drifts)."""
    ctx = multiprocessing.get_context("fork")
    out = {"signed": [], "unsigned": []}
    for r in range(reps):
        for label in (("signed", "unsigned") if r % 2 else ("unsigned", "signed")):
            queue = ctx.Queue()
            p = ctx.Process(target=_floor, args=(label == "signed", n, queue))
            p.start()
            res = queue.get(timeout=300)
            p.join(30)
            out[label].append({"hop_p50_ms": res["hop_ms"]["p50"], "four_hops_p50_ms": res["four_hops_ms"]["p50"],
                               "four_hops_p95_ms": res["four_hops_ms"]["p95"], "n": res["n"]})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.transport_auth", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--floor-n", type=int, default=120, help="messages per floor run (0: skip the floor)")
    p.add_argument("--floor-reps", type=int, default=2, help="pairs of floor runs (signed, unsigned)")
    args = p.parse_args(argv)
    result = {"codec": codec(args.n), "n": args.n}
    for name, r in result["codec"].items():
        print(f"{name:18} plain p50 {r['plain_us']['p50']} us, signed p50 {r['signed_us']['p50']} us, "
              f"added {r['added_us_p50']} us per hop")
    if args.floor_n:
        result["floor"] = floor_runs(args.floor_n, args.floor_reps)
        for label, runs in result["floor"].items():
            print(f"floor {label:9} four hops p50 per run: {[r['four_hops_p50_ms'] for r in runs]} ms")
    result["definitions"] = {"codec": "sender dumps + receiver loads of one message, microseconds",
                             "floor": "bench.floor at 4 msg/s, four bare hops, short runs, signed vs unsigned, order alternating"}
    write_result("transport_auth", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
