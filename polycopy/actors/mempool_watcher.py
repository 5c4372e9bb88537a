"""MempoolWatcher: the source's fills from the operator's pending settlement transactions.

Off unless `venue.polygon_ws_url` is set. One websocket to a Polygon node (the websocket
runner's, clients/ws.py), subscribed to full pending transactions (`newPendingTransactions`,
true; Alchemy's filtered form when the URL is an Alchemy one). `MempoolFeed` keeps only
transactions to the exchanges with a settlement selector, decodes them (this process, never
intake's), and puts the source's fills on the bridge as provisional `SourceFill`s (feed
"mempool"). Every pending transaction counts as data for liveness
(`detection.rtds_silence_limit_s`); reconnects use the same backoff and circuit breaker as
RTDS. Foreign calls to the exchanges and malformed frames or calldata are counted, never fatal.
"""
from __future__ import annotations

import json
import time
from collections import Counter

from polycopy.actors.watcher import WatcherActor
from polycopy.actors.watcher_io import ThreadBridge
from polycopy.clients.feed import FeedState
from polycopy.clients.ws import DATA, NOISE, Feed, run_socket, socket_policy
from polycopy.errors import Malformed, TemporaryError
from polycopy.venue.mempool import source_fills
from polycopy.wire.node import PendingTx, parse_node_frame
from polycopy.wire.settlement import EXCHANGES, decode_calldata, is_settlement

DETAIL_EVERY_S = 1.0
PROTOCOL_PING_S = 20.0  # websocket pings: a JSON-RPC node would not understand a text PING


class MempoolWatcher(WatcherActor):
    role = "mempool"
    feed = "mempool"

    def start_io(self, bridge: ThreadBridge, state: FeedState) -> None:
        if not self.config.venue.polygon_ws_url:
            state.detail = "off: venue.polygon_ws_url is not set"
            return
        config = self.config
        bridge.start_async(lambda b: run_mempool(b, config, state))

    def io_settings(self, config) -> tuple:
        return (config.detection, config.venue.polygon_ws_url, config.venue.chain_id, config.copy.source_wallet)


def subscription(url: str) -> str:
    if "alchemy" in url:
        params = ["alchemy_pendingTransactions", {"toAddress": sorted(EXCHANGES), "hashesOnly": False}]
    else:
        params = ["newPendingTransactions", True]
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params})


class PendingFilter:
    """Text frames -> the source's provisional fills, with counts of everything seen."""

    def __init__(self, wallet: str, chain_id: int = 137):
        self.wallet, self.chain_id = wallet.lower(), chain_id
        self.counts: Counter = Counter()  # txs, other, foreign, hashes, settlements, source, malformed

    def on_text(self, text, recv_ns: int, now_ms: int) -> list:
        """Raises Malformed (counted) for a broken frame or settlement; returns [] for the rest."""
        try:
            msg = parse_node_frame(text)
        except Malformed as e:
            self.counts["malformed"] += 1
            self.counts["txs"] += e.kind == "tx"  # a notification all the same: the node is alive
            raise
        if not isinstance(msg, PendingTx):
            return []  # a reply to our own request
        self.counts["txs"] += 1
        if not msg.full:
            self.counts["hashes"] += 1  # a hash-only stream: nothing to decode
            return []
        if msg.to.lower() not in EXCHANGES:
            self.counts["other"] += 1
            return []
        if not is_settlement(msg.to, msg.input):
            self.counts["foreign"] += 1  # preapproveOrder, combinatorial matches, admin calls
            return []
        try:
            settlement = decode_calldata(msg.to, msg.input)
            fills = source_fills(settlement, tx_hash=msg.hash, wallet=self.wallet, recv_mono_ns=recv_ns,
                                 seen_ts_ms=now_ms, chain_id=self.chain_id)
        except Malformed:
            self.counts["malformed"] += 1
            raise
        self.counts["settlements"] += 1
        self.counts["source"] += len(fills)
        return fills

    def summary(self) -> str:
        c = self.counts
        return " ".join(f"{k}={c[k]}" for k in ("txs", "settlements", "source", "foreign", "malformed", "hashes"))


async def run_mempool(bridge: ThreadBridge, config, state: FeedState) -> None:
    d = config.detection
    policy = socket_policy(d, silence_s=d.rtds_silence_limit_s, ping_every_s=PROTOCOL_PING_S, ping_text=None,
                           protocol_ping_s=PROTOCOL_PING_S, max_frame_bytes=2**24)
    await run_socket(bridge, MempoolFeed(bridge, config, state), policy)


class MempoolFeed(Feed):
    name = "mempool"

    def __init__(self, bridge, config, state: FeedState | None = None):
        super().__init__(config.venue.polygon_ws_url, state)
        self.bridge = bridge
        self.filter = PendingFilter(config.copy.source_wallet, config.venue.chain_id)  # counts survive reconnects
        self._detail_at = 0.0

    async def on_open(self, ws) -> None:
        await ws.send(subscription(self.url))
        reply = parse_node_frame(await ws.recv())
        if isinstance(reply, PendingTx) or not reply.ok:
            why = reply.error if not isinstance(reply, PendingTx) else "a transaction before the reply"
            self.log.warning("mempool: subscription refused: {}", why[:160])
            raise TemporaryError(f"subscription refused: {why[:120]}")

    def on_text(self, text, recv_ns: int) -> str:
        """Every pending transaction is data (liveness), a malformed one too; the source's fills go to the bridge."""
        txs = self.filter.counts["txs"]
        try:
            fills = self.filter.on_text(text, recv_ns, int(time.time() * 1000))
        except Malformed as e:
            self.bad.count(e, text)
            fills = []
        if fills:
            self.bridge.put(("fills", fills))
        if recv_ns / 1e9 - self._detail_at >= DETAIL_EVERY_S:  # the periodic FeedHealth shows the counts
            self._detail_at = recv_ns / 1e9
            self.state.detail = "subscribed; " + self.filter.summary()
        return DATA if self.filter.counts["txs"] > txs else NOISE

    def status(self) -> str:
        return self.filter.summary()
