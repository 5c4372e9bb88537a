"""MempoolWatcher through the Harness, with its real I/O thread, against polysim's Polygon node
(`polycopy.sim.polygon`, run on its own loop thread by the Node helper of the sim tests)."""
from __future__ import annotations

import json
import select
import time
from dataclasses import replace
from decimal import Decimal

from thespian.actors import WatchMessage

from polycopy.actors.mempool_watcher import MempoolWatcher, subscription
from polycopy.actors.watcher import HEALTH
from polycopy.config.loader import parse_config
from polycopy.messages import FeedHealth, FillBatch
from polycopy.venue.mempool import order_hash
from polycopy.wire.settlement import SELECTORS, V2_EXCHANGE, decode_calldata
from tests.actors.harness import Harness
from tests.sim.test_polygon_rpc import FAST, Node, example

EX = example()
TX = EX["pending_tx_notification"]["params"]["result"]
SIGNED = decode_calldata(TX["to"], TX["input"])  # the example as built: its taker order is days old now
# the same match with a taker order signed just now; preapproved (empty signature): we hold no keys
SETTLEMENT = replace(SIGNED, taker=replace(SIGNED.taker, timestamp=int(time.time() * 1000), signature=b""))
TAKER, MAKER_B = EX["wallets"]["source_wallet_taker"], EX["wallets"]["maker_B"]
DETECTION = {"rtds_ping_interval_s": 0.5, "rtds_silence_limit_s": 2.0, "reconnect_min_ms": 20, "reconnect_max_ms": 100,
             "circuit_breaker_failures": 3, "circuit_breaker_cooldown_s": 1.0, "http_timeout_ms": 1000}


def config(url, wallet=TAKER):
    return parse_config({"venue": {"polygon_ws_url": url}, "copy": {"source_wallet": wallet}, "detection": DETECTION})


def pump(h, cond, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        bridge = h.actor.bridge
        ready = select.select([bridge.fd], [], [], 0.05)[0] if bridge is not None else []
        if ready:
            h.deliver(WatchMessage(ready))
        elif bridge is None:
            time.sleep(0.02)
    return cond()


def fills(h):
    return [f for b in h.sent_to("intake", FillBatch) for f in b.fills]


def health(h):
    h.fire_wakeups(lambda p: p == HEALTH)
    return h.sent_to("tel", FeedHealth)[-1]


def start(made, cfg):
    h = Harness(MempoolWatcher, config=cfg, peers={"intake": "intake", "telemetry": "tel"})
    made.append(h)
    return h


def subscribed(node):
    return lambda: any(c.subs for c in list(node.polygon.conns))


def test_forwards_the_source_taker_fill_and_counts_foreign_and_malformed(made):
    with Node(noise_per_s=50, **FAST) as node:
        h = start(made, config(node.ws_url))
        assert pump(h, subscribed(node))
        garbage = dict(TX, hash="0x" + "ee" * 32, input=SELECTORS["2"] + "00" * 40)  # truncated settlement
        preapprove = dict(TX, hash="0x" + "dd" * 32, input="0xe3a5ced5" + "00" * 64)
        for tx in (garbage, preapprove):
            node.call(node.polygon.publish_pending, tx)
        node.call(node.polygon.settle, SETTLEMENT, TX["hash"])
        assert pump(h, lambda: len(fills(h)) == 1)
        [f] = fills(h)
        assert f.provisional and f.feed == "mempool" and f.source_wallet == TAKER.lower()
        assert (f.side, f.token_id, f.size, f.price) == ("BUY", EX["market"]["token_ids"]["Up"], Decimal(25),
                                                         Decimal("0.636"))
        assert f.order_hash == order_hash(SETTLEMENT.taker, V2_EXCHANGE) and f.tx_hash == TX["hash"]
        assert f.key == f"pending|{f.order_hash}|15900000" and f.condition_id == EX["market"]["conditionId"]
        # the counts reach FeedHealth.detail at most once a second; noise keeps the frames coming
        assert pump(h, lambda: "malformed=1 " in h.actor.state.detail and "foreign=0 " not in h.actor.state.detail)
        assert "settlements=1 source=1" in h.actor.state.detail and h.actor.state.malformed == 1
        report = health(h)
        assert report.connected and report.malformed == 1 and report.feed == "mempool"


def test_a_maker_fill_is_at_its_own_limit_and_other_wallets_are_ignored(made):
    with Node(**FAST) as node:
        h = start(made, config(node.ws_url, wallet=MAKER_B))
        other = start(made, config(node.ws_url, wallet="0x" + "12" * 20))
        assert pump(h, subscribed(node)) and pump(other, lambda: len(node.polygon.conns) == 2)
        assert pump(other, lambda: all(c.subs for c in list(node.polygon.conns)))
        node.call(node.polygon.settle, SETTLEMENT, TX["hash"])
        assert pump(h, lambda: len(fills(h)) == 1)
        [f] = fills(h)
        assert (f.side, f.token_id, f.size, f.price) == ("BUY", EX["market"]["token_ids"]["Down"], Decimal(15),
                                                         Decimal("0.36"))
        assert pump(other, lambda: "settlements=1" in other.actor.state.detail)
        assert fills(other) == []


def test_a_stale_or_forged_source_order_is_counted_not_forwarded(made):
    forged = replace(SETTLEMENT, taker=replace(SETTLEMENT.taker, signature=SIGNED.taker.signature))
    with Node(**FAST) as node:
        h = start(made, config(node.ws_url))
        assert pump(h, subscribed(node))
        node.call(node.polygon.settle, SIGNED, "0x" + "01" * 32)  # signed, but days ago
        node.call(node.polygon.settle, forged, "0x" + "02" * 32)  # fresh, with a signature of other fields
        assert pump(h, lambda: h.actor.state.malformed == 2)
        node.call(node.polygon.settle, SETTLEMENT, TX["hash"])
        assert pump(h, lambda: len(fills(h)) == 1)
        assert fills(h)[0].tx_hash == TX["hash"]


def test_a_retry_under_a_new_hash_has_the_same_key(made):
    with Node(retry_share=1.0, **FAST) as node:
        h = start(made, config(node.ws_url))
        assert pump(h, subscribed(node))
        first, second = node.call(node.polygon.settle, SETTLEMENT, TX["hash"])
        assert pump(h, lambda: len(fills(h)) == 2)
        a, b = fills(h)
        assert a.key == b.key and {a.tx_hash, b.tx_hash} == {first.hash, second.hash}


def test_reconnects_after_the_node_hangs_up(made):
    with Node(**FAST) as node:
        h = start(made, config(node.ws_url))
        assert pump(h, subscribed(node))
        node.call(node.polygon.drop_connections)
        assert pump(h, lambda: h.actor.state.reconnects >= 1)
        assert pump(h, subscribed(node))
        node.call(node.polygon.settle, SETTLEMENT, TX["hash"])
        assert pump(h, lambda: len(fills(h)) == 1)


def test_off_without_a_node_url(made):
    h = start(made, parse_config({"copy": {"source_wallet": TAKER}}))
    assert h.actor.bridge is not None and not h.actor.bridge.alive()
    report = health(h)
    assert not report.connected and report.detail.startswith("off")
    assert fills(h) == []


def test_a_refused_subscription_is_a_failure_not_a_crash(made):
    class Refusing(Node):
        def __init__(self):
            super().__init__(**FAST)
            self.polygon._subscribe = lambda rid, params, conn: json.dumps(
                {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "no pending txs here"}})

    with Refusing() as node:
        h = start(made, config(node.ws_url))
        assert pump(h, lambda: h.actor.state.reconnects >= 2)
        assert "refused" in h.actor.state.detail and not h.actor.state.connected

def test_subscription_forms():
    assert json.loads(subscription("ws://127.0.0.1:1/"))["params"] == ["newPendingTransactions", True]
    alchemy = json.loads(subscription("wss://polygon-mainnet.g.alchemy.com/v2/key"))["params"]
    assert alchemy[0] == "alchemy_pendingTransactions" and V2_EXCHANGE in alchemy[1]["toAddress"]
