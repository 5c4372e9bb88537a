"""python -m bench.floor [--rate 200] [--paced 1000] [--bursts 60] [--runs 2] [--kinds thespian,lane,...]

The messaging floor: chains of five bare actors (multiprocTCPBase, loopback, the system
polycopy runs on), four hops each, forwarding a one-fill FillBatch with no work at all, one chain
per transport, all in the same run (bench/floor_actors.py). Four hops are what the pipeline's
watcher -> intake -> coalescer -> risk -> executor hops cost before any of our code runs.

Two patterns, taken in alternating blocks (the order rotating each turn) so every transport sees
the same machine:
- paced: one message into the chain's head every 1/rate s;
- bursts: the head emits 16 messages at once (the 16 fills of one transaction), 0.15 s apart;
  latency from the burst's arrival at the head to each message's arrival at the tail, and to
  the last one's.
Also the cost of the hot-path messages' codecs (bench/floor_codec.py) and of one wake-up through
Thespian's receive loop against a plain process, with four hops through plain processes
(bench/floor_wake.py): what a hop costs that the transport cannot remove. `measure()` is the
Thespian-only floor bench.mempool runs as its baseline.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import floor_codec, floor_wake
from bench.floor_actors import KINDS, Hop
from bench.machine import free_port, machine, quantiles, write_result
from polycopy.actors.system import start_system
from polycopy.lane import wiring

HOPS = 4
BURST = 16
BLOCK = 25  # paced messages per transport per turn
SETTLE_S = 0.05  # between two transports' blocks: the previous one's last messages are through
TARGET_LANE_P50_MS = 0.6  # issue 19: four hops over the lane


def _available(kinds) -> list[str]:
    try:
        import zmq  # noqa: F401
    except ImportError:
        return [k for k in kinds if k != "zmq"]
    return list(kinds)


class Chains:
    """One actor system with a five-actor chain per transport."""

    def __init__(self, kinds, tmp: Path):
        wiring.configure(tmp / "lane")  # inherited by the admin and every actor (forks)
        try:
            self.asys = start_system(free_port(), tmp / "state", lane=None)
        except Exception:
            wiring.configure(None)
            raise
        self.chains = {}
        for kind in kinds:
            chain = [self.asys.createActor(Hop) for _ in range(HOPS + 1)]
            for a, nxt in reversed(list(zip(chain, [*chain[1:], None]))):  # tail first: each next one listens
                assert self.asys.ask(a, ("setup", kind, nxt), 20) == "ok", kind
            self.chains[kind] = chain
        self.seq = 0
        self.sent: dict = {k: {"paced": [], "burst": []} for k in kinds}

    def paced(self, kind: str, count: int, rate: float, record: bool = True) -> None:
        head, period = self.chains[kind][0], 1.0 / rate
        t = time.monotonic()
        for _ in range(count):
            self.seq += 1
            self.asys.tell(head, ("one", self.seq))
            if record:
                self.sent[kind]["paced"].append(self.seq)
            t += period
            time.sleep(max(0.0, t - time.monotonic()))

    def burst(self, kind: str, gap_s: float) -> None:
        first = self.seq + 1
        self.seq += BURST
        self.asys.tell(self.chains[kind][0], ("burst", first, BURST))
        self.sent[kind]["burst"].append(list(range(first, first + BURST)))
        time.sleep(gap_s)

    def arrivals(self, kind: str) -> list[dict]:
        """Per hop, seq -> arrival ns, once every sent message reached the tail (or 10 s passed)."""
        deadline = time.monotonic() + 10
        while True:
            rows = [self.asys.ask(a, ("dump",), 20) for a in self.chains[kind]]
            if len(rows[-1]) >= len(rows[0]) or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)

    def close(self) -> None:
        try:
            self.asys.shutdown()
        finally:
            wiring.configure(None)


def _stats(kind: str, rows: list, sent: dict) -> dict:
    tail_counts = Counter(seq for seq, _ in rows[-1])
    stamps = [dict(r) for r in rows]
    tail_order = [seq for seq, _ in rows[-1]]
    out = {}
    paced = [s for s in sent["paced"] if all(s in st for st in stamps)]
    out["paced"] = {
        "four_hops_ms": quantiles((stamps[HOPS][s] - stamps[0][s]) / 1e6 for s in paced),
        "hop_ms": quantiles((stamps[i + 1][s] - stamps[i][s]) / 1e6 for s in paced for i in range(HOPS)),
        "sent": len(sent["paced"]), "delivered": sum(1 for s in sent["paced"] if s in tail_counts),
    }
    per_msg, last = [], []
    for seqs in sent["burst"]:
        if all(s in stamps[HOPS] for s in seqs):
            t0 = stamps[0][seqs[0]]
            per_msg.extend((stamps[HOPS][s] - t0) / 1e6 for s in seqs)
            last.append((max(stamps[HOPS][s] for s in seqs) - t0) / 1e6)
    n_burst = sum(len(b) for b in sent["burst"])
    out["burst"] = {
        "per_message_ms": quantiles(per_msg), "last_of_burst_ms": quantiles(last), "bursts": len(sent["burst"]),
        "sent": n_burst, "delivered": sum(1 for b in sent["burst"] for s in b if s in tail_counts),
    }
    out["duplicates"] = sum(c - 1 for c in tail_counts.values() if c > 1)
    out["out_of_order"] = sum(1 for a, b in zip(tail_order, tail_order[1:]) if b < a)
    return out


def _rotated(kinds: list, i: int) -> list:
    """Each turn starts with the next transport: none always follows Thespian's slow tail."""
    k = i % len(kinds)
    return kinds[k:] + kinds[:k]


def run(kinds=KINDS, rate: float = 200.0, paced: int = 1000, bursts: int = 60, burst_gap_s: float = 0.15,
        tmp: Path | None = None) -> dict:
    kinds = _available(kinds)
    chains = Chains(kinds, Path(tmp or tempfile.mkdtemp(prefix="bench-floor-")))
    try:
        for kind in kinds:  # warm-up: connections, lane markers, first-use costs
            chains.paced(kind, 20, rate, record=False)
        time.sleep(0.5)
        blocks = [BLOCK] * (paced // BLOCK) + ([paced % BLOCK] if paced % BLOCK else [])
        for i, count in enumerate(blocks):
            for kind in _rotated(kinds, i):
                chains.paced(kind, count, rate)
                time.sleep(SETTLE_S)
        for i in range(bursts):
            for kind in _rotated(kinds, i):
                chains.burst(kind, burst_gap_s)
        time.sleep(0.5)
        result = {kind: _stats(kind, chains.arrivals(kind), chains.sent[kind]) for kind in kinds}
    finally:
        chains.close()
    return result


def measure(rate: float = 2.0, n: int = 200, tmp=None) -> dict:
    """Thespian only: per-hop and four-hop latency (ms) of `n` messages paced `rate` per second."""
    r = run(("thespian",), rate=rate, paced=n, bursts=0, tmp=tmp)["thespian"]["paced"]
    return {"hop_ms": r["hop_ms"], "four_hops_ms": r["four_hops_ms"], "rate_per_s": rate, "n": r["four_hops_ms"]["n"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--paced", type=int, default=1000, help="paced messages per transport")
    p.add_argument("--bursts", type=int, default=60, help="bursts of 16 per transport")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--name", default="floor")
    args = p.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    runs = []
    for i in range(args.runs):
        r = run(kinds, args.rate, args.paced, args.bursts)
        runs.append({"transports": r, "load_avg_at_end": machine()["load_avg_at_end"]})
        print(f"run {i + 1}:", {k: (v["paced"]["four_hops_ms"]["p50"], v["burst"]["last_of_burst_ms"]["p50"])
                                 for k, v in r.items()})
    first = runs[0]["transports"]
    lane_p50 = [r["transports"]["lane"]["paced"]["four_hops_ms"]["p50"] for r in runs if "lane" in r["transports"]]
    out = {
        # bench.mempool's fields: the Thespian floor, paced
        "hop_ms": first.get("thespian", {}).get("paced", {}).get("hop_ms"),
        "four_hops_ms": first.get("thespian", {}).get("paced", {}).get("four_hops_ms"),
        "rate_per_s": args.rate, "n": args.paced,
        "runs": runs,
        "codec_us": floor_codec.measure(),
        "wake": floor_wake.measure(),
        "target": {"lane_four_hops_p50_ms": TARGET_LANE_P50_MS, "lane_p50_per_run": lane_p50,
                   "met": bool(lane_p50) and all(v is not None and v <= TARGET_LANE_P50_MS for v in lane_p50)},
        "settings": {"burst_size": BURST, "bursts": args.bursts, "paced": args.paced, "block": BLOCK,
                     "message": "FillBatch with one SourceFill and its Market (~1 KB)"},
    }
    write_result(args.name, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
