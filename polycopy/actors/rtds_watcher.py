"""RtdsWatcher: the fast path. One RTDS socket, `activity` trades + orders_matched.

The socket lives in an asyncio thread (websockets 15); the actor only drains the bridge.
Liveness is judged by data: any activity frame, from any wallet, counts. A connection with no
data for `rtds_silence_limit_s` is dropped and replaced, with jittered exponential backoff; a
connection that delivered data resets the failure count. After `circuit_breaker_failures`
consecutive failures the watcher stops trying for `circuit_breaker_cooldown_s` (the backstop
keeps polling meanwhile). Bad frames are counted and logged once per kind per minute. With
`detection.record_path` (run.py --record) the source's raw frames are appended there
(polycopy/ops/recording.py), from this thread.
"""
from __future__ import annotations

import asyncio
import time

from loguru import logger
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from polycopy.actors.watcher import FeedState, WatcherActor, update_health
from polycopy.actors.watcher_io import Backoff, CircuitBreaker, RateLimitedLog, ThreadBridge
from polycopy.ops.recording import Recorder, RtdsRecorder
from polycopy.venue.rtds import PING, SUBSCRIBE, Malformed, frame_fill, is_from, parse_frame
from polycopy.venue.source_fill import Occurrences

log = logger.bind(actor="rtds")


class RtdsWatcher(WatcherActor):
    role = "rtds"
    feed = "rtds"

    def start_io(self, bridge: ThreadBridge, state: FeedState) -> None:
        config = self.config
        bridge.start_async(lambda b: run_rtds(b, config, state))


async def run_rtds(bridge: ThreadBridge, config, state: FeedState) -> None:
    d = config.detection
    backoff = Backoff(d.reconnect_min_ms / 1000, d.reconnect_max_ms / 1000)
    breaker = CircuitBreaker(d.circuit_breaker_failures, d.circuit_breaker_cooldown_s)
    recorder = Recorder(d.record_path) if d.record_path else None
    conn = _Connection(bridge, config, state, breaker)
    conn.recorder = RtdsRecorder(recorder, config.copy.source_wallet) if recorder else None
    try:
        await _loop(bridge, state, breaker, backoff, conn)
    finally:
        if recorder is not None:
            recorder.close()


async def _loop(bridge: ThreadBridge, state: FeedState, breaker, backoff, conn) -> None:
    while not bridge.stop_event.is_set():
        wait = breaker.open_for_s()
        if wait > 0:
            update_health(bridge, state, circuit_open=True, detail=f"circuit open after {breaker.failures} failures")
            log.warning("rtds: {} consecutive failures; pausing the fast path for {:.0f}s", breaker.failures, wait)
            await asyncio.sleep(wait)
            continue
        if state.circuit_open:
            update_health(bridge, state, circuit_open=False)
        reason = await conn.run_once()
        if not conn.got_data:
            breaker.failure()
        state.reconnects += 1
        update_health(bridge, state, connected=False, detail=reason)
        await asyncio.sleep(backoff.delay(max(1, breaker.failures)))


class _Connection:
    """One socket's life: connect, subscribe, ping, read until it closes or goes silent."""

    def __init__(self, bridge: ThreadBridge, config, state: FeedState, breaker: CircuitBreaker):
        self.bridge, self.state, self.breaker = bridge, state, breaker
        self.url = config.venue.rtds_url
        self.wallet = config.copy.source_wallet.lower()
        self.ping_s = config.detection.rtds_ping_interval_s
        self.silence_s = config.detection.rtds_silence_limit_s
        self.open_timeout_s = config.detection.http_timeout_ms / 1000
        self.occurrences = Occurrences()  # kept across reconnects: RTDS does not replay
        self.logs = RateLimitedLog(60.0)
        self.got_data = False
        self.recorder: RtdsRecorder | None = None  # run.py --record

    async def run_once(self) -> str:
        """Returns why the connection ended."""
        self.got_data = False
        try:
            async with connect(self.url, open_timeout=self.open_timeout_s, ping_interval=None,
                               close_timeout=1, max_size=2**22, compression=None) as ws:
                await ws.send(SUBSCRIBE)
                if self.recorder is not None:
                    self.recorder.new_connection()
                update_health(self.bridge, self.state, connected=True, detail="subscribed")
                pinger = asyncio.create_task(self._ping(ws))
                try:
                    return await self._read(ws)
                finally:
                    pinger.cancel()
        except (OSError, WebSocketException, asyncio.TimeoutError) as e:
            reason = f"{type(e).__name__}: {e}"[:160]
            self.logs.warn(log, type(e).__name__, "rtds: connection ended: {}", reason)
            return reason

    async def _ping(self, ws) -> None:
        try:
            while True:
                await asyncio.sleep(self.ping_s)
                await ws.send(PING)
        except WebSocketException:
            pass  # the reader sees the close and ends the connection

    async def _read(self, ws) -> str:
        last_data = time.monotonic()
        while True:
            left = last_data + self.silence_s - time.monotonic()
            if left <= 0:
                self.logs.warn(log, "silence", "rtds: no data for {:.1f}s; reconnecting", self.silence_s)
                return f"silent for {self.silence_s}s"
            try:
                text = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            recv_ns = time.monotonic_ns()
            if self._on_text(text, recv_ns):
                last_data = recv_ns / 1e9
            if self.recorder is not None:  # after the fill is on its way
                self.recorder.on_text(text)

    def _on_text(self, text, recv_ns: int) -> bool:
        """True if the text was an activity frame (liveness); the source's fills go to the bridge."""
        try:
            frame = parse_frame(text)
        except Malformed as e:
            self._malformed(e)
            return False
        if frame is None:
            return False
        self.state.last_data_mono = recv_ns / 1e9
        if not self.got_data:
            self.got_data = True
            self.breaker.success()
        if is_from(frame, self.wallet):
            try:
                self.bridge.put(("fills", [frame_fill(frame, recv_mono_ns=recv_ns, occurrences=self.occurrences)]))
            except Malformed as e:
                self._malformed(e)
        return True

    def _malformed(self, e: Malformed) -> None:
        self.state.malformed += 1
        self.logs.warn(log, e.kind, "rtds: malformed frame ({}); {} so far", e, self.state.malformed)
