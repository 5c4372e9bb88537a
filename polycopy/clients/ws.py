"""The one websocket runner: every feed (RTDS, the Polygon node, the CLOB user and market
channels) connects, subscribes, pings, watches for silence, backs off and trips its circuit
breaker here; a `Feed` only says what to send on open and what a frame means.

Runs on an asyncio loop in the feed's thread (`ThreadBridge.start_async`), never on an actor.
One connection: connect -> `feed.on_open(ws)` (subscribe) -> read frames, each handed to
`feed.on_text`, which answers DATA (the feed is alive: resets the silence watchdog and, once
per connection, the breaker), NOISE (a keep-alive, a frame we ignore) or RESET (end this
connection: a fresh one re-subscribes). No data for `silence_s` ends the connection too:
sockets can stay open, answering pings, while every topic stops (VENUE-2026-12.md §4). A
connection that brought no data counts as a failure; after `breaker_failures` of them the feed
waits `breaker_cooldown_s`; reconnects wait a jittered exponential backoff.
Nothing a frame holds can end the thread: `Malformed` is counted (feed.bad), any other
exception from a handler is counted as kind "handler" and logged with its traceback.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from loguru import logger
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from polycopy.clients.feed import BadInput, Backoff, CircuitBreaker, FeedState, RateLimitedLog, update_health
from polycopy.errors import Malformed, TemporaryError
from polycopy.wire.jsontext import excerpt

DATA, NOISE, RESET = "data", "noise", "reset"


@dataclass(frozen=True)
class SocketPolicy:
    silence_s: float
    ping_text: str | None = "PING"  # an application-level ping, sent every ping_every_s
    ping_every_s: float = 5.0
    protocol_ping_s: float | None = None  # websocket-level pings instead (a JSON-RPC node)
    open_timeout_s: float = 5.0
    max_frame_bytes: int = 4 * 1024 * 1024  # above every parser's own limit, so big frames get counted
    reconnect_min_s: float = 0.25
    reconnect_max_s: float = 30.0
    breaker_failures: int = 8
    breaker_cooldown_s: float = 120.0


def socket_policy(detection, *, silence_s: float, ping_every_s: float, ping_text: str | None = "PING",
                  protocol_ping_s: float | None = None, max_frame_bytes: int = 4 * 1024 * 1024) -> SocketPolicy:
    """The reconnect settings of `config.detection`, with one feed's keep-alive."""
    d = detection
    return SocketPolicy(silence_s=silence_s, ping_text=ping_text, ping_every_s=ping_every_s,
                        protocol_ping_s=protocol_ping_s, open_timeout_s=d.http_timeout_ms / 1000,
                        max_frame_bytes=max_frame_bytes, reconnect_min_s=d.reconnect_min_ms / 1000,
                        reconnect_max_s=d.reconnect_max_ms / 1000, breaker_failures=d.circuit_breaker_failures,
                        breaker_cooldown_s=d.circuit_breaker_cooldown_s)


class Feed:
    """One feed's side of the runner; subclasses override the hooks they need."""

    name = "feed"

    def __init__(self, url: str, state: FeedState | None = None):
        self.url = url
        self.state = state if state is not None else FeedState()
        self.log = logger.bind(actor=self.name)
        self.bad = BadInput(self.name, self.state, self.log)

    async def on_open(self, ws) -> None:
        """Subscribe. Raise TemporaryError to end the connection as a failure (a refused subscription)."""

    def on_text(self, text, recv_ns: int) -> str:
        """One frame -> DATA, NOISE or RESET. May raise Malformed (counted)."""
        return NOISE

    def background(self, ws) -> list:
        """Coroutines to run beside the reader for this connection (e.g. live subscriptions)."""
        return []

    def on_close(self, reason: str) -> None:
        """The connection ended."""

    def status(self) -> str:
        """Extra words for the health detail."""
        return ""


async def run_socket(bridge, feed: Feed, policy: SocketPolicy) -> None:
    """Keep `feed` connected until the bridge stops. Returns only then (or when cancelled)."""
    state, logs = feed.state, RateLimitedLog(60.0)
    backoff = Backoff(policy.reconnect_min_s, policy.reconnect_max_s)
    breaker = CircuitBreaker(policy.breaker_failures, policy.breaker_cooldown_s)
    while not bridge.stop_event.is_set():
        wait = breaker.open_for_s()
        if wait > 0:
            update_health(bridge, state, circuit_open=True, detail=f"circuit open after {breaker.failures} failures")
            logs.warn(feed.log, "circuit", "{}: {} consecutive failures; pausing for {:.0f}s", feed.name,
                      breaker.failures, wait)
            await asyncio.sleep(wait)
            continue
        if state.circuit_open:
            update_health(bridge, state, circuit_open=False)
        conn = _Connection(bridge, feed, policy, breaker, logs)
        reason = await conn.run()
        if not conn.got_data:
            breaker.failure()
        state.reconnects += 1
        try:
            feed.on_close(reason)
        except Exception:  # noqa: BLE001 - a hook's bug must not end the feed
            feed.log.exception("{}: on_close failed", feed.name)
        extra = feed.status()
        update_health(bridge, state, connected=False, detail=f"{reason}; {extra}" if extra else reason)
        await asyncio.sleep(backoff.delay(max(1, breaker.failures)))


class _Connection:
    def __init__(self, bridge, feed: Feed, policy: SocketPolicy, breaker: CircuitBreaker, logs: RateLimitedLog):
        self.bridge, self.feed, self.policy, self.breaker, self.logs = bridge, feed, policy, breaker, logs
        self.got_data = False

    async def run(self) -> str:
        """Why the connection ended."""
        feed, p = self.feed, self.policy
        try:
            async with connect(feed.url, open_timeout=p.open_timeout_s, ping_interval=p.protocol_ping_s,
                               close_timeout=1, max_size=p.max_frame_bytes, compression=None) as ws:
                await asyncio.wait_for(feed.on_open(ws), p.open_timeout_s)
                update_health(self.bridge, feed.state, connected=True, detail="subscribed")
                tasks = [asyncio.create_task(c) for c in feed.background(ws)]
                if p.ping_text:
                    tasks.append(asyncio.create_task(self._ping(ws)))
                try:
                    return await self._read(ws)
                finally:
                    for t in tasks:
                        t.cancel()
        except (OSError, WebSocketException, asyncio.TimeoutError, TemporaryError) as e:
            reason = f"{type(e).__name__}: {e}"[:160]
            self.logs.warn(feed.log, type(e).__name__, "{}: connection ended: {}", feed.name, reason)
            return reason
        except Exception as e:  # noqa: BLE001 - whatever it is, the feed reconnects; the thread lives
            self.logs.warn(feed.log, "unexpected", "{}: connection failed unexpectedly: {!r}", feed.name, e)
            return f"{type(e).__name__}: {e}"[:160]

    async def _ping(self, ws) -> None:
        try:
            while True:
                await asyncio.sleep(self.policy.ping_every_s)
                await ws.send(self.policy.ping_text)
        except WebSocketException:
            pass  # the reader sees the close and ends the connection

    async def _read(self, ws) -> str:
        silence_s = self.policy.silence_s
        last_data = time.monotonic()
        while True:
            left = last_data + silence_s - time.monotonic()
            if left <= 0:
                self.logs.warn(self.feed.log, "silence", "{}: no data for {:.1f}s; reconnecting", self.feed.name,
                               silence_s)
                return f"silent for {silence_s}s"
            try:
                text = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            recv_ns = time.monotonic_ns()
            verdict = self._handle(text, recv_ns)
            if verdict == DATA:
                last_data = recv_ns / 1e9
                self.feed.state.last_data_mono = last_data
                if not self.got_data:
                    self.got_data = True
                    self.breaker.success()
            elif verdict == RESET:
                return "reset by the feed"

    def _handle(self, text, recv_ns: int) -> str:
        try:
            return self.feed.on_text(text, recv_ns)
        except Malformed as e:
            self.feed.bad.count(e, text)
        except Exception as e:  # noqa: BLE001 - a frame must never end the thread
            self.feed.bad.count(Malformed("handler", f"{type(e).__name__}: {e}"[:160], excerpt(text)))
            if self.logs.warn(self.feed.log, "handler-trace", "{}: frame handler raised {!r}", self.feed.name, e):
                self.feed.log.opt(exception=e).debug("{}: handler traceback", self.feed.name)
        return NOISE
