"""Order books kept current by the public market websocket (PROTOCOL.md §2.2), so the executor
prices an order without a REST round trip.

The socket thread applies `book` snapshots, `price_change` level updates (`size` is the new
total, "0" removes the level) and `tick_size_change` under a lock; the executor reads a Book
with `get()` on its own thread. Nothing wakes the actor. A book is served only while the
connection that delivered its snapshot is up and has shown life in the last `STALE_S`; any
doubt returns None and the executor falls back to REST `/book`.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal

from loguru import logger
from websockets.asyncio.client import connect

from polycopy.venue.orders import Level
from polycopy.venue.responses import Book, dec

PING_EVERY_S = 10.0
STALE_S = 30.0  # no frame (not even PONG) for this long: the connection is presumed dead


class BookCache:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._books: dict[str, dict] = {}  # token -> {"bids": {p: s}, "asks": {p: s}, "tick", "min"}
        self.wanted: set[str] = set()
        self.connected = False
        self.last_frame = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.kick: asyncio.Event | None = None

    # ------------------------------------------------------------ actor side

    def want(self, tokens) -> None:
        with self._lock:
            new = set(map(str, tokens)) - self.wanted
            self.wanted |= new
        if new and self.loop is not None and self.kick is not None:
            try:
                self.loop.call_soon_threadsafe(self.kick.set)
            except RuntimeError:
                pass  # loop closed: the next connection subscribes to everything wanted

    def get(self, token_id: str) -> Book | None:
        with self._lock:
            b = self._books.get(token_id)
            if b is None or not self.connected or self.clock() - self.last_frame > STALE_S:
                return None
            asks = tuple(Level(p, s) for p, s in sorted(b["asks"].items()))
            bids = tuple(Level(p, s) for p, s in sorted(b["bids"].items(), reverse=True))
            return Book(asks=asks, bids=bids, tick_size=b["tick"], min_order_size=b["min"], neg_risk=None)

    # ------------------------------------------------------------ socket side

    def wanted_now(self) -> set[str]:
        with self._lock:
            return set(self.wanted)

    def set_connected(self, up: bool) -> None:
        with self._lock:
            self.connected = up
            self.last_frame = self.clock()
            if not up:
                self._books.clear()  # nothing is replayed after a reconnect: wait for new snapshots

    def apply(self, event: dict) -> None:
        kind = event.get("event_type")
        with self._lock:
            self.last_frame = self.clock()
            if kind == "book":
                token = str(event.get("asset_id"))
                old = self._books.get(token, {})
                self._books[token] = {"bids": _levels(event.get("bids")), "asks": _levels(event.get("asks")),
                                      "tick": dec(event.get("tick_size"), None) or old.get("tick"),
                                      "min": dec(event.get("min_order_size"), None) or old.get("min")}
            elif kind == "price_change":
                for ch in event.get("price_changes") or ():
                    b = self._books.get(str(ch.get("asset_id")))
                    if b is None or ch.get("side") not in ("BUY", "SELL"):
                        continue
                    levels = b["bids"] if ch["side"] == "BUY" else b["asks"]
                    price, size = dec(ch.get("price")), dec(ch.get("size"))
                    if size > 0:
                        levels[price] = size
                    else:
                        levels.pop(price, None)
            elif kind == "tick_size_change":
                b = self._books.get(str(event.get("asset_id")))
                if b is not None:
                    b["tick"] = dec(event.get("new_tick_size"), None) or b["tick"]

    def touch(self) -> None:
        with self._lock:
            self.last_frame = self.clock()


def _levels(raw) -> dict:
    out: dict[Decimal, Decimal] = {}
    for x in raw or ():
        if isinstance(x, dict):
            p, s = dec(x.get("price")), dec(x.get("size"))
            if p > 0 and s > 0:
                out[p] = s
    return out


async def run_market_stream(bridge, url: str, cache: BookCache, backoff) -> None:
    """Keep one market socket subscribed to `cache.wanted`; reconnect with back-off."""
    cache.loop, cache.kick = asyncio.get_running_loop(), asyncio.Event()
    attempt = 0
    while not bridge.stop_event.is_set():
        try:
            async with connect(url, ping_interval=None, open_timeout=5, close_timeout=1) as ws:
                sent = cache.wanted_now()
                await ws.send(json.dumps({"type": "market", "assets_ids": sorted(sent)}))
                cache.set_connected(True)
                attempt = 0
                tasks = [asyncio.create_task(_ping(ws)), asyncio.create_task(_subscribe(ws, cache, sent))]
                try:
                    await _read(ws, cache)
                finally:
                    for t in tasks:
                        t.cancel()
        except asyncio.CancelledError:
            cache.set_connected(False)
            return
        except Exception as e:  # noqa: BLE001 - any socket failure: drop the books, reconnect
            logger.warning("market stream: {}", type(e).__name__)
        cache.set_connected(False)
        attempt += 1
        await asyncio.sleep(backoff.delay(attempt))


async def _read(ws, cache: BookCache) -> None:
    while True:
        frame = await asyncio.wait_for(ws.recv(), timeout=STALE_S)
        if not isinstance(frame, str) or frame.strip().upper() == "PONG":
            cache.touch()
            continue
        try:
            data = json.loads(frame)
        except ValueError:
            continue
        for event in data if isinstance(data, list) else [data]:
            if isinstance(event, dict):
                cache.apply(event)


async def _ping(ws) -> None:
    while True:
        await asyncio.sleep(PING_EVERY_S)
        await ws.send("PING")


async def _subscribe(ws, cache: BookCache, sent: set) -> None:
    while True:
        await cache.kick.wait()
        cache.kick.clear()
        new = sorted(cache.wanted_now() - sent)
        if new:
            await ws.send(json.dumps({"operation": "subscribe", "assets_ids": new}))
            sent.update(new)
