"""polysim's Polygon node: JSON-RPC shapes, the pending-tx subscription forms, and the fault knobs.

The node runs on its own loop thread (as Polysim runs it); a sync websocket client talks to it.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal
from types import SimpleNamespace as NS

import requests
from aiohttp import web
from websockets.sync.client import connect

from polycopy.sim.polygon import Polygon, PolygonFaults
from polycopy.sim.polygon_orders import ORDER_FILLED, ORDERS_MATCHED
from polycopy.venue.mempool import decode_calldata, legs, source_fills
from tests.conftest import POLYMARKET

EXAMPLES = (POLYMARKET / "mempool")


def example(name="v2"):
    return json.loads((EXAMPLES / f"matchorders_{name}_1taker_2makers.json").read_text())


class Node:
    """A Polygon app on 127.0.0.1 in its own thread and loop."""

    def __init__(self, **faults):
        self.polygon = Polygon(PolygonFaults(**faults), seed=5)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.runner = web.AppRunner(self.polygon.app(), shutdown_timeout=1.0)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(5)
        self.ws_url, self.http_url = f"ws://127.0.0.1:{self.port}/", f"http://127.0.0.1:{self.port}/"
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def call(self, fn, *args):
        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def rpc(self, method, *params):
        body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}
        return requests.post(self.http_url, data=json.dumps(body), timeout=5).json()


def subscribe(ws, *params):
    ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": list(params)}))
    reply = json.loads(ws.recv(timeout=5))
    assert reply["id"] == 1 and reply["result"].startswith("0x")
    return reply["result"]


def notes(ws, n, timeout=3.0):
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        try:
            out.append(json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic()))))
        except TimeoutError:
            break
    return out


def wait_receipt(node, tx_hash, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = node.rpc("eth_getTransactionReceipt", tx_hash)["result"]
        if got is not None:
            return got
        time.sleep(0.02)
    return None


FAST = {"pending_delay_ms": 10, "block_delay_ms": 60, "retry_delay_ms": 30}


def test_pending_settlement_matches_the_worked_example_byte_for_byte():
    ex = example()
    tx = ex["pending_tx_notification"]["params"]["result"]
    settlement = decode_calldata(tx["to"], tx["input"])
    with Node(**FAST) as node, connect(node.ws_url) as ws:
        sub = subscribe(ws, "newPendingTransactions", True)
        node.call(node.polygon.settle, settlement, tx["hash"])
        [note] = notes(ws, 1)
        got = note["params"]["result"]
        assert note["method"] == "eth_subscription" and note["params"]["subscription"] == sub
        assert got["input"] == ex["calldata"] and got["hash"] == tx["hash"] and got["to"] == tx["to"].lower()
        assert got["blockNumber"] is None and got["chainId"] == "0x89"
        receipt = wait_receipt(node, tx["hash"])
        assert receipt["status"] == "0x1"
        filled = [log for log in receipt["logs"] if log["topics"][0] == ORDER_FILLED]
        want = [e["orderHash"] for e in ex["expected_onchain_events_if_success"] if e["event"] == "OrderFilled"]
        assert [log["topics"][1] for log in filled] == want
        assert receipt["logs"][-1]["topics"][0] == ORDERS_MATCHED
        mined = node.rpc("eth_getTransactionByHash", tx["hash"])["result"]
        assert mined["blockNumber"] == receipt["blockNumber"] and mined["input"] == ex["calldata"]
        assert int(node.rpc("eth_blockNumber")["result"], 16) >= int(receipt["blockNumber"], 16)


def test_hash_only_and_provider_filtered_subscriptions():
    ex = example("v3")
    tx = ex["pending_tx_notification"]["params"]["result"]
    settlement = decode_calldata(tx["to"], tx["input"])
    with Node(noise_per_s=200, **FAST) as node, connect(node.ws_url) as hashes, connect(node.ws_url) as alchemy:
        subscribe(hashes, "newPendingTransactions")
        subscribe(alchemy, "alchemy_pendingTransactions", {"toAddress": [tx["to"]], "hashesOnly": False})
        assert notes(hashes, 3)  # noise reaches the unfiltered subscription
        node.call(node.polygon.settle, settlement, tx["hash"])
        [only] = notes(alchemy, 1)
        assert only["params"]["result"]["input"] == ex["calldata"]
        assert all(isinstance(n["params"]["result"], str) for n in notes(hashes, 5))


def test_json_rpc_errors_and_http():
    with Node(**FAST) as node, connect(node.ws_url) as ws:
        ws.send("{not json")
        assert json.loads(ws.recv(timeout=5))["error"]["code"] == -32700
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "eth_sendRawTransaction", "params": ["0x00"]}))
        reply = json.loads(ws.recv(timeout=5))
        assert reply["id"] == 3 and reply["error"]["code"] == -32601
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 4, "method": "eth_subscribe", "params": ["logs", {}]}))
        assert json.loads(ws.recv(timeout=5))["error"]["code"] == -32602
        assert node.rpc("eth_chainId")["result"] == "0x89"
        assert node.rpc("eth_subscribe", "newPendingTransactions")["error"]["code"] == -32601
        assert node.rpc("eth_getTransactionReceipt", "0x" + "00" * 32)["result"] is None


def test_revert_retry_unseen_and_drop_knobs():
    tx = example()["pending_tx_notification"]["params"]["result"]
    settlement = decode_calldata(tx["to"], tx["input"])
    cases = {"revert_share": ["reverted"], "retry_share": ["reverted", "mined"], "unseen_share": ["mined"],
             "drop_share": ["dropped"]}
    for knob, outcomes in cases.items():
        with Node(**FAST, **{knob: 1.0}) as node, connect(node.ws_url) as ws:
            subscribe(ws, "newPendingTransactions", True)
            plan = node.call(node.polygon.settle, settlement, tx["hash"])
            assert [a.outcome for a in plan] == outcomes and plan[-1].hash == tx["hash"]
            pending = notes(ws, len(plan), timeout=1.0)
            seen = [n["params"]["result"]["hash"] for n in pending]
            assert seen == ([] if knob == "unseen_share" else [a.hash for a in plan]), knob
            assert all(n["params"]["result"]["input"] == tx["input"] for n in pending)  # a retry: same calldata
            for a in plan:
                receipt = wait_receipt(node, a.hash, timeout=0.5 if a.outcome == "dropped" else 3.0)
                if a.outcome == "dropped":
                    assert receipt is None
                else:
                    assert receipt["status"] == ("0x1" if a.outcome == "mined" else "0x0"), knob
                    assert bool(receipt["logs"]) == (a.outcome == "mined")


def test_jitter_delivers_out_of_order():
    tx = example()["pending_tx_notification"]["params"]["result"]
    settlement = decode_calldata(tx["to"], tx["input"])
    hashes = ["0x%064x" % i for i in range(12)]
    with Node(pending_delay_ms=5, block_delay_ms=5000, jitter_ms=300) as node, connect(node.ws_url) as ws:
        subscribe(ws, "newPendingTransactions")
        for h in hashes:
            node.call(node.polygon.settle, settlement, h)
        got = [n["params"]["result"] for n in notes(ws, len(hashes))]
    assert sorted(got) == hashes and got != hashes


def test_driver_rows_become_a_settlement_whose_decode_gives_the_source_fills():
    market = NS(condition_id="0x" + "ab" * 32, tokens=["111", "222"], neg_risk=True, version="v1")
    src, a, b = "0x" + "1d" * 20, "0x" + "aa" * 20, "0x" + "bb" * 20

    def row(wallet, token, side, price, size, role, is_source):
        return NS(profile=NS(wallet=wallet), info=NS(market=market), token=token, side=side, price=Decimal(price),
                  size=Decimal(size), role=role, is_source=is_source, tx_hash="0x" + "42" * 32)

    rows = [row(src, "111", "BUY", "0.53", "5.5", "taker", True),
            row(src, "111", "BUY", "0.56", "2.1234", "taker", True),
            row(a, "222", "BUY", "0.47", "5.5", "maker", False),
            row(b, "111", "SELL", "0.56", "2.1234", "maker", False)]
    with Node(**FAST) as node, connect(node.ws_url) as ws:
        subscribe(ws, "newPendingTransactions", True)
        [attempt] = node.call(node.polygon.on_transaction, rows)
        [note] = notes(ws, 1)
    tx = note["params"]["result"]
    assert attempt.hash == tx["hash"] == "0x" + "42" * 32
    assert tx["to"] == "0xe2222d279d744050d28e00520010520000310f59"  # neg-risk market -> neg-risk exchange
    s = decode_calldata(tx["to"], tx["input"])
    [fill] = source_fills(s, tx_hash=tx["hash"], wallet=src, recv_mono_ns=0, seen_ts_ms=0)
    assert (fill.side, fill.token_id, fill.size) == ("BUY", "111", Decimal("7.6234"))
    assert fill.price == Decimal("0.538356")  # (5.5*0.53 + 2.1234*0.56) / 7.6234, to 6 places
    makers = [leg for leg in legs(s) if leg.role == "maker"]
    assert [(m.wallet, m.side, m.price) for m in makers] == [(a, "BUY", Decimal("0.47")), (b, "SELL", Decimal("0.56"))]
