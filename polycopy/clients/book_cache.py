"""Order books kept current by the public market websocket (PROTOCOL.md §2.2), so the executor
prices an order without a REST round trip.

`MarketFeed` (the websocket runner's feed, clients/ws.py) applies `book` snapshots, level
changes (`size` is the new total, 0 removes the level) and tick size changes under a lock; the
executor reads a Book with `get()` on its own thread. Nothing wakes the actor. A book is served
only while the connection that delivered its snapshot is up and has shown life in the last
`STALE_S`; any doubt returns None and the executor falls back to REST `/book`. A malformed
frame or event may have hidden a change: the books are dropped and the feed reconnects for
fresh snapshots.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

from polycopy.clients.ws import DATA, RESET, Feed, SocketPolicy, run_socket
from polycopy.errors import Malformed
from polycopy.venue.orders import Level
from polycopy.wire.clob import Book
from polycopy.wire.clob_ws import BookSnapshot, LevelChange, TickSizeChange, parse_market_frame

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

    def apply(self, event: BookSnapshot | LevelChange | TickSizeChange) -> None:
        with self._lock:
            self.last_frame = self.clock()
            if isinstance(event, BookSnapshot):
                old = self._books.get(event.token_id, {})
                self._books[event.token_id] = {"bids": dict(event.bids), "asks": dict(event.asks),
                                               "tick": event.tick_size or old.get("tick"),
                                               "min": event.min_order_size or old.get("min")}
            elif isinstance(event, LevelChange):
                b = self._books.get(event.token_id)
                if b is not None:
                    levels = b["bids"] if event.side == "BUY" else b["asks"]
                    if event.size > 0:
                        levels[event.price] = event.size
                    else:
                        levels.pop(event.price, None)
            elif isinstance(event, TickSizeChange):
                b = self._books.get(event.token_id)
                if b is not None:
                    b["tick"] = event.tick_size

    def touch(self) -> None:
        with self._lock:
            self.last_frame = self.clock()


class MarketFeed(Feed):
    """The market channel, subscribed to `cache.wanted` (more tokens added live)."""

    name = "market-ws"

    def __init__(self, url: str, cache: BookCache):
        super().__init__(url)
        self.cache = cache
        self.sent: set[str] = set()

    async def on_open(self, ws) -> None:
        self.cache.loop, self.cache.kick = asyncio.get_running_loop(), asyncio.Event()
        self.sent = self.cache.wanted_now()
        await ws.send(json.dumps({"type": "market", "assets_ids": sorted(self.sent)}))
        self.cache.set_connected(True)

    def background(self, ws) -> list:
        return [self._subscribe(ws)]

    async def _subscribe(self, ws) -> None:
        while True:
            await self.cache.kick.wait()
            self.cache.kick.clear()
            new = sorted(self.cache.wanted_now() - self.sent)
            if new:
                await ws.send(json.dumps({"operation": "subscribe", "assets_ids": new}))
                self.sent.update(new)

    def on_text(self, text, recv_ns: int) -> str:
        """Any frame, PONG included, is life; a malformed one drops the books and reconnects."""
        try:
            parsed = parse_market_frame(text)
        except Malformed as e:
            return self._reset(e, text)
        if parsed is None:
            self.cache.touch()
            return DATA
        events, bad = parsed
        for event in events:
            self.cache.apply(event)
        if bad:
            return self._reset(bad, text)
        self.cache.touch()
        return DATA

    def _reset(self, bad, text) -> str:
        for e in bad if isinstance(bad, list) else [bad]:
            self.bad.count(e, text)
        self.cache.set_connected(False)
        return RESET

    def on_close(self, reason: str) -> None:
        self.cache.set_connected(False)


async def run_market_stream(bridge, url: str, cache: BookCache, policy: SocketPolicy) -> None:
    """Keep one market socket subscribed to `cache.wanted` until the bridge stops."""
    try:
        await run_socket(bridge, MarketFeed(url, cache), policy)
    finally:
        cache.set_connected(False)
