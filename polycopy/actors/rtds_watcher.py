"""RtdsWatcher: the fast path. One RTDS socket, `activity` trades + orders_matched.

The socket is the websocket runner's (clients/ws.py) in the actor's I/O thread; the actor only
drains the bridge. `RtdsFeed` says what a frame means: liveness is judged by data (any
activity frame, from any wallet, counts; PONG and bad frames do not); the source's frames
become SourceFills on the bridge. A connection with no data for `rtds_silence_limit_s` is
replaced; reconnects back off with jitter, and after `circuit_breaker_failures` consecutive
failures the watcher stops trying for `circuit_breaker_cooldown_s` (the backstop keeps polling
meanwhile). Bad frames are counted by kind and logged once per kind per minute. With
`detection.record_path` (run.py --record) the source's raw frames are appended there
(polycopy/ops/recording.py), from this thread.
"""
from __future__ import annotations

import time

from polycopy.actors.watcher import WatcherActor
from polycopy.actors.watcher_io import ThreadBridge
from polycopy.clients.feed import FeedState
from polycopy.clients.ws import DATA, NOISE, Feed, run_socket, socket_policy
from polycopy.errors import Malformed
from polycopy.ops.recording import Recorder, RtdsRecorder
from polycopy.wire.source_fill import Occurrences, fill_from_trade
from polycopy.wire.rtds import SUBSCRIBE, frame_trade, parse_frame, wallet_of


class RtdsWatcher(WatcherActor):
    role = "rtds"
    feed = "rtds"

    def start_io(self, bridge: ThreadBridge, state: FeedState) -> None:
        config = self.config
        bridge.start_async(lambda b: run_rtds(b, config, state))


async def run_rtds(bridge: ThreadBridge, config, state: FeedState) -> None:
    d = config.detection
    policy = socket_policy(d, silence_s=d.rtds_silence_limit_s, ping_every_s=d.rtds_ping_interval_s)
    feed = RtdsFeed(bridge, config.venue.rtds_url, config.copy.source_wallet, state)
    if d.record_path:
        feed.recorder = RtdsRecorder(Recorder(d.record_path), config.copy.source_wallet)
    try:
        await run_socket(bridge, feed, policy)
    finally:
        if feed.recorder is not None:
            feed.recorder.recorder.close()


class RtdsFeed(Feed):
    name = "rtds"

    def __init__(self, bridge, url: str, wallet: str, state: FeedState | None = None, clock=time.time):
        super().__init__(url, state)
        self.bridge, self.wallet, self.clock = bridge, wallet.lower(), clock
        self.occurrences = Occurrences()  # kept across reconnects: RTDS does not replay
        self.recorder: RtdsRecorder | None = None  # run.py --record

    async def on_open(self, ws) -> None:
        await ws.send(SUBSCRIBE)
        if self.recorder is not None:
            self.recorder.new_connection()

    def on_text(self, text, recv_ns: int) -> str:
        """An activity frame is data (liveness); the source's fill goes to the bridge."""
        try:
            return self._frame(text, recv_ns)
        finally:
            if self.recorder is not None:  # after the fill is on its way
                self.recorder.on_text(text)

    def _frame(self, text, recv_ns: int) -> str:
        now_s = self.clock()
        frame = parse_frame(text, now_s)
        if frame is None:
            return NOISE
        if wallet_of(frame) == self.wallet:
            try:
                trade = frame_trade(frame, now_s)
            except Malformed as e:
                self.bad.count(e)
                return DATA
            fill = fill_from_trade(trade, feed="rtds", recv_mono_ns=recv_ns, envelope_ts_ms=frame.envelope_ts_ms,
                                   occurrence=lambda base: self.occurrences.next(frame.type, base))
            self.bridge.put(("fills", [fill]))
        return DATA
