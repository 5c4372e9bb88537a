"""What every watcher actor shares: run the feed's I/O in a thread behind a ThreadBridge,
forward each drain's fills to intake as one FillBatch, report FeedHealth.

The I/O never dies on input (clients/ws.py, the backstop's poll loop count it as malformed);
a thread that still dies (a bug) is reported to the parent as a ChildFailed and restarted.

Fills wait in `pending` while intake's address is unknown. When intake's address changes (a
restarted intake), the fills sent in the last REPLAY_S are sent again: what was in flight to
the old address may be lost, and intake drops what it already has.
"""
from __future__ import annotations

import time
from collections import deque
from datetime import timedelta

from polycopy.actors.base import ChildActor
from polycopy.actors.watcher_io import ThreadBridge
from polycopy.clients.feed import FeedState
from polycopy.messages import ChildFailed, FeedHealth, FillBatch

HEALTH = "feed-health"
RESTART_IO = "restart-io"
HEALTH_EVERY_S = 5.0
MAX_PENDING = 10_000
REPLAY_S = 120.0  # fills re-sent to a restarted intake


class WatcherActor(ChildActor):
    """Runs the feed I/O (`start_io`) in a thread; forwards each drain's fills to intake as one FillBatch."""

    feed = "watcher"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bridge: ThreadBridge | None = None
        self.state = FeedState()
        self.pending: list = []
        self.recent: deque = deque(maxlen=MAX_PENDING)  # (monotonic s, fill) sent in the last REPLAY_S
        self._intake = None  # the address the last batch went to

    def start_io(self, bridge: ThreadBridge, state: FeedState) -> None:
        raise NotImplementedError

    def io_settings(self, config) -> tuple:
        """What the thread depends on; a reload that changes it restarts the thread."""
        return (config.detection, config.venue, config.copy.source_wallet)

    # ------------------------------------------------------------ lifecycle

    def on_init(self, msg) -> None:
        self._start()
        self.wakeupAfter(timedelta(seconds=HEALTH_EVERY_S), payload=HEALTH)

    def _start(self) -> None:
        self.state = FeedState(reconnects=self.state.reconnects, malformed=self.state.malformed,
                               malformed_kinds=self.state.malformed_kinds)
        self.bridge = ThreadBridge(f"{self.feed}-io")
        self._settings = self.io_settings(self.config)
        self.start_io(self.bridge, self.state)

    def _stop(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None

    def on_reload(self) -> None:
        if self.bridge is not None and self.io_settings(self.config) != self._settings:
            self.log.info("{} settings changed; restarting its connection", self.feed)
            self._stop()
            self._start()

    def on_exit(self) -> None:
        self._stop()

    def watch_fds(self) -> list:
        return [self.bridge.fd] if self.bridge is not None else []

    # ------------------------------------------------------------ messages

    def receiveMsg_WatchMessage(self, msg, sender) -> None:
        if self.bridge is None:
            return
        fills, changed = [], False
        for kind, data in self.bridge.drain():
            if kind == "fills":
                fills.extend(data)
            elif kind == "health":
                changed = True
            elif kind == "died":
                self.log.error("{} I/O thread died ({}); restarting it", self.feed, data)
                if self.parent is not None:
                    self.send(self.parent, ChildFailed(role=self.role, reason=f"io thread: {data}"))
                self._stop()
                self.wakeupAfter(timedelta(seconds=1), payload=RESTART_IO)
                changed = True
        if fills:
            self.pending.extend(fills)
            self._flush()
        if changed:
            self.send_health()

    def on_peers(self) -> None:
        intake = self.peers.get("intake")
        if intake is not None and self._intake is not None and intake != self._intake and self.recent:
            # A restarted intake has a new address; what was in flight to the old one may be lost.
            # Send the recent fills again: intake drops the ones it already has.
            cutoff = time.monotonic() - REPLAY_S
            replay = [f for t, f in self.recent if t >= cutoff]
            self.log.info("{}: intake moved; replaying {} recent fills", self.feed, len(replay))
            self.pending[:0] = replay
        self._flush()

    def on_wakeup(self, payload) -> None:
        if payload == HEALTH:
            self.send_health()
            self.wakeupAfter(timedelta(seconds=HEALTH_EVERY_S), payload=HEALTH)
        elif payload == RESTART_IO and self.bridge is None:
            self._start()

    def _flush(self) -> None:
        if not self.pending:
            return
        if "intake" not in self.peers:
            if len(self.pending) > MAX_PENDING:
                self.log.error("no intake; dropping {} oldest fills", len(self.pending) - MAX_PENDING)
                del self.pending[:-MAX_PENDING]
            return
        batch, self.pending = tuple(self.pending), []
        self._intake = self.peers["intake"]
        self.tell("intake", FillBatch(fills=batch, sent_ns=time.monotonic_ns()))
        now = time.monotonic()
        self.recent.extend((now, f) for f in batch)
        while self.recent and self.recent[0][0] < now - REPLAY_S:
            self.recent.popleft()

    def send_health(self) -> None:
        s = self.state
        kinds = ", ".join(f"{k}={n}" for k, n in s.malformed_kinds.most_common(4))
        detail = f"{s.detail}; malformed {kinds}" if kinds else s.detail
        health = FeedHealth(
            feed=self.feed, connected=s.connected, silence_s=round(time.monotonic() - s.last_data_mono, 3),
            reconnects=s.reconnects, malformed=s.malformed, circuit_open=s.circuit_open, detail=detail[:200],
        )
        self.report(health)
