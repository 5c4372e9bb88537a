"""python -m bench.floor [--rate 2] [--n 200]

The messaging floor: a bare chain of five Thespian actors (multiprocTCPBase, loopback, the
system polycopy runs on), one message in flight at a time, forwarded with no work at all. Its
four hops are what the pipeline's watcher -> intake -> coalescer -> risk -> executor hops
cost before any of our code runs; bench.mempool runs it in the same run as its baseline.
"""
from __future__ import annotations

import argparse
import time

from thespian.actors import ActorTypeDispatcher

from bench.machine import free_port, quantiles, write_result
from polycopy.actors.system import start_system

PAYLOAD = "x" * 600  # about a one-fill FillBatch, pickled


class Hop(ActorTypeDispatcher):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.next = None
        self.arrivals: list = []

    def receiveMsg_tuple(self, msg, sender):
        kind, body = msg
        if kind == "next":
            self.next = body
            self.send(sender, "ok")
        elif kind == "dump":
            self.send(sender, self.arrivals)
        elif self.next is not None:
            self.send(self.next, ("m", (*body, time.monotonic_ns())))
        else:
            self.arrivals.append((*body, time.monotonic_ns()))


def measure(rate: float = 2.0, n: int = 200, tmp=None) -> dict:
    """Per-hop and 4-hop latency (ms) of messages sent `rate` per second into the chain's head."""
    import tempfile
    from pathlib import Path

    asys = start_system(free_port(), Path(tmp or tempfile.mkdtemp(prefix="bench-floor-")))
    try:
        chain = [asys.createActor(Hop) for _ in range(5)]
        for a, b in zip(chain, chain[1:]):
            asys.ask(a, ("next", b), 10)
        for _ in range(n):
            asys.tell(chain[0], ("m", (PAYLOAD,)))
            time.sleep(1 / rate)
        time.sleep(0.5)
        rows = [r[1:] for r in asys.ask(chain[-1], ("dump", None), 10)]  # stamps at hops 0..4
    finally:
        asys.shutdown()
    return {"hop_ms": quantiles((r[i + 1] - r[i]) / 1e6 for r in rows for i in range(4)),
            "four_hops_ms": quantiles((r[4] - r[0]) / 1e6 for r in rows), "rate_per_s": rate, "n": len(rows)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=2.0)
    p.add_argument("--n", type=int, default=200)
    args = p.parse_args(argv)
    out = measure(args.rate, args.n)
    print(out)
    write_result("floor", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
