"""MempoolWatcher: the source's fills from the operator's pending settlement transactions.

Off unless `venue.polygon_ws_url` is set. One websocket to a Polygon node, subscribed to full
pending transactions (`newPendingTransactions`, true; Alchemy's filtered form when the URL is an
Alchemy one). The I/O thread keeps only transactions to the exchanges with a settlement
selector, decodes them (this process, never intake's), and puts the source's fills on the
bridge as provisional `SourceFill`s (feed "mempool"). Every pending transaction counts as data
for liveness (`detection.rtds_silence_limit_s`); reconnects use the same backoff and circuit
breaker as RTDS. Foreign calls to the exchanges and malformed calldata are counted, never fatal.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

from loguru import logger
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from polycopy.actors.watcher import FeedState, WatcherActor, update_health
from polycopy.actors.watcher_io import Backoff, CircuitBreaker, RateLimitedLog, ThreadBridge
from polycopy.venue.mempool import EXCHANGES, Malformed, decode_calldata, is_settlement, source_fills

log = logger.bind(actor="mempool")
DETAIL_EVERY_S = 1.0


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
            msg = json.loads(text)
        except ValueError:
            self.counts["malformed"] += 1
            raise Malformed("json", str(text)[:40]) from None
        params = msg.get("params") if isinstance(msg, dict) and msg.get("method") == "eth_subscription" else None
        if not isinstance(params, dict):
            return []  # a reply to our own request
        tx = params.get("result")
        self.counts["txs"] += 1
        if isinstance(tx, str):
            self.counts["hashes"] += 1  # a hash-only stream: nothing to decode
            return []
        if not isinstance(tx, dict) or not isinstance(tx.get("hash"), str):
            self.counts["malformed"] += 1
            raise Malformed("tx", "not a transaction object")
        to, data = tx.get("to"), tx.get("input")
        if not isinstance(to, str) or to.lower() not in EXCHANGES:
            self.counts["other"] += 1
            return []
        if not is_settlement(to, data):
            self.counts["foreign"] += 1  # preapproveOrder, combinatorial matches, admin calls
            return []
        try:
            settlement = decode_calldata(to, data)
            fills = source_fills(settlement, tx_hash=tx["hash"], wallet=self.wallet, recv_mono_ns=recv_ns,
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
    backoff = Backoff(d.reconnect_min_ms / 1000, d.reconnect_max_ms / 1000)
    breaker = CircuitBreaker(d.circuit_breaker_failures, d.circuit_breaker_cooldown_s)
    conn = _Connection(bridge, config, state, breaker)
    while not bridge.stop_event.is_set():
        wait = breaker.open_for_s()
        if wait > 0:
            update_health(bridge, state, circuit_open=True, detail=f"circuit open after {breaker.failures} failures")
            await asyncio.sleep(wait)
            continue
        if state.circuit_open:
            update_health(bridge, state, circuit_open=False)
        reason = await conn.run_once()
        if not conn.got_data:
            breaker.failure()
        state.reconnects += 1
        update_health(bridge, state, connected=False, detail=f"{reason}; {conn.filter.summary()}")
        await asyncio.sleep(backoff.delay(max(1, breaker.failures)))


class _Connection:
    def __init__(self, bridge: ThreadBridge, config, state: FeedState, breaker: CircuitBreaker):
        self.bridge, self.state, self.breaker = bridge, state, breaker
        self.url = config.venue.polygon_ws_url
        self.silence_s = config.detection.rtds_silence_limit_s
        self.open_timeout_s = config.detection.http_timeout_ms / 1000
        self.filter = PendingFilter(config.copy.source_wallet, config.venue.chain_id)  # counts survive reconnects
        self.logs = RateLimitedLog(60.0)
        self.got_data = False
        self._detail_at = 0.0

    async def run_once(self) -> str:
        self.got_data = False
        try:
            async with connect(self.url, open_timeout=self.open_timeout_s, close_timeout=1, max_size=2**24,
                               compression=None) as ws:
                await ws.send(subscription(self.url))
                reply = json.loads(await asyncio.wait_for(ws.recv(), self.open_timeout_s))
                if not isinstance(reply, dict) or "result" not in reply:
                    err = reply.get("error") if isinstance(reply, dict) else reply
                    self.logs.warn(log, "subscribe", "mempool: subscription refused: {}", str(err)[:160])
                    return f"subscription refused: {str(err)[:120]}"
                update_health(self.bridge, self.state, connected=True, detail="subscribed")
                return await self._read(ws)
        except (OSError, WebSocketException, asyncio.TimeoutError, ValueError) as e:
            reason = f"{type(e).__name__}: {e}"[:160]
            self.logs.warn(log, type(e).__name__, "mempool: connection ended: {}", reason)
            return reason

    async def _read(self, ws) -> str:
        last_data = time.monotonic()
        while True:
            left = last_data + self.silence_s - time.monotonic()
            if left <= 0:
                self.logs.warn(log, "silence", "mempool: no pending transaction for {:.1f}s; reconnecting",
                               self.silence_s)
                return f"silent for {self.silence_s}s"
            try:
                text = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            recv_ns = time.monotonic_ns()
            txs = self.filter.counts["txs"]
            try:
                fills = self.filter.on_text(text, recv_ns, int(time.time() * 1000))
            except Malformed as e:
                self.state.malformed += 1
                self.logs.warn(log, e.kind, "mempool: malformed ({}); {} so far", e, self.state.malformed)
                fills = []
            if self.filter.counts["txs"] > txs:
                last_data = recv_ns / 1e9
                self.state.last_data_mono = last_data
                if not self.got_data:
                    self.got_data = True
                    self.breaker.success()
            if fills:
                self.bridge.put(("fills", fills))
            if recv_ns / 1e9 - self._detail_at >= DETAIL_EVERY_S:  # the periodic FeedHealth shows the counts
                self._detail_at = recv_ns / 1e9
                self.state.detail = "subscribed; " + self.filter.summary()
