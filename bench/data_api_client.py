"""python -m bench.data_api_client [--polls N] [--rows N]

The backstop's poll (`/v2/trades?user=<source>&taker_only=false`, the first page, parsed into
typed rows), timed two ways against polysim in the same run, alternating poll by poll:
- `ours`: polycopy's kept-alive urllib3 client (clients/data_api.py), rows parsed by
  wire/data_api.py into Trades, a cache-busting `_` parameter on every request;
- `sdk`: polymarket-client 0.14.0 `PublicClient.list_trades(...).first_page()` (httpx, pydantic
  models), one client kept open, pointed at polysim by its environment.
Twice: against polysim's `/v2/trades` (end to end; polysim's own work per request is most of
it and is the same both ways), and against a canned server that answers every GET with the
page polysim gave (the clients' own cost: request, keep-alive, parse). The figure that decides
(issue #22): the extra time per poll the SDK would add to the backstop. The SDK also cannot add
a cache-busting parameter, so against the real CDN its polls would be served stale for up to
5 minutes (PROTOCOL.md §3.3): that is not measured here. Writes
bench/results/data_api_client.json. ~30 s.
"""
from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from bench.machine import quantiles, write_result
from polycopy.clients.data_api import DataApi
from polycopy.sim.scenario import parse
from polycopy.sim.server import Polysim
from polycopy.sim.venue.sdk_env import polysim_environment

SOURCE = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"


def scenario():
    return parse({"name": "data-api-client", "seed": 7, "series": [{"asset": "btc", "title": "Bitcoin"}],
                  "feeds": {"rtds_lag_ms": {"orders_matched": 0, "trades": 0}, "data_api_lag_ms": 0,
                            "noise_per_s": 0}})


class Canned:
    """Answers every GET with the same body, as fast as http.server can."""

    def __init__(self, body: bytes):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()


def time_both(url: str, sdk_endpoints: dict, polls: int, rows: int) -> dict:
    from polymarket import PublicClient

    ours = DataApi(url, 3.0)
    sdk = PublicClient(polysim_environment({**sdk_endpoints, "data_api": url}))
    times = {"ours": [], "sdk": []}

    def poll_ours():
        page, _ = ours.trades(SOURCE, rows, None, time.monotonic() + 3, time.time())
        return len(page.items)

    def poll_sdk():
        return len(list(sdk.list_trades(user=SOURCE, taker_only=False, page_size=rows).first_page().items))

    assert poll_ours() == poll_sdk() == rows, "both ways must read the same page"
    for _ in range(20):  # warm both connection pools
        poll_ours(), poll_sdk()
    for i in range(polls):
        for name, poll in (("ours", poll_ours), ("sdk", poll_sdk))[:: 1 if i % 2 else -1]:
            t0 = time.perf_counter_ns()
            poll()
            times[name].append((time.perf_counter_ns() - t0) / 1e6)
    ours.close()
    sdk.close()
    q = {name: quantiles(v) for name, v in times.items()}
    return {"poll_ms": q, "sdk_extra_ms": {k: round(q["sdk"][k] - q["ours"][k], 3) for k in ("p50", "p95", "p99")}}


def measure(polls: int = 400, rows: int = 100) -> dict:
    with Polysim(scenario()) as sim:
        for i in range(rows):  # the source's fills: one full page of the backstop's size
            r = requests.post(sim.endpoints["control"] + "/fills", timeout=5, json={
                "market": "btc", "outcome": "Up" if i % 2 else "Down", "price": "0.53", "size": str(1 + i % 9)})
            r.raise_for_status()
        page = requests.get(sim.endpoints["data_api"] + "/v2/trades", timeout=5,
                            params={"user": SOURCE, "taker_only": "false", "limit": rows}).content
        end_to_end = time_both(sim.endpoints["data_api"], sim.endpoints, polls, rows)
        canned = Canned(page)
        try:
            clients_only = time_both(canned.url, sim.endpoints, polls, rows)
        finally:
            canned.close()
    return {"polls": polls, "rows_per_page": rows, "page_bytes": len(page), "polysim": end_to_end,
            "canned_server": clients_only, "decision": DECISION}


DECISION = ("Latency alone does not decide: the two clients are within noise of each other. The backstop keeps "
            "polycopy's own client because the SDK's page parse is all or nothing (one bad row loses every good "
            "fill on the page), it accepts 1e999999999 as a size, it cannot add a cache-busting parameter, and it "
            "sleeps inside the call on a 429 past the poll's deadline (clients/data_api.py).")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.data_api_client", description=__doc__.split("\n")[0])
    p.add_argument("--polls", type=int, default=400)
    p.add_argument("--rows", type=int, default=100)
    args = p.parse_args(argv)
    result = measure(args.polls, args.rows)
    for where in ("polysim", "canned_server"):
        for name, q in result[where]["poll_ms"].items():
            print(f"{where:13s} {name:4s} " + "  ".join(f"{k} {v}" for k, v in q.items()))
        print(f"{where:13s} sdk extra ms " + "  ".join(f"{k} {v:+.3f}" for k, v in result[where]["sdk_extra_ms"].items()))
    write_result("data_api_client", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
