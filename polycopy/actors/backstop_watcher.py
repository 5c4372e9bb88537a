"""BackstopWatcher: polls the Data API `/trades?user=…&takerOnly=false` and catches what RTDS missed.

A plain thread (blocking `requests`, one kept-alive Session) polls every
`http_poll_interval_ms` on a monotonic schedule; each poll, all its pages included, must finish
by a monotonic deadline (`http_timeout_ms` after it starts). 429/425/5xx and timeouts back off
exponentially with jitter, never sooner than the server's Retry-After. At start the floor is
`max(backstop_lookback_s, copy.max_fill_age_at_start_s)` before now, so every fill still young
enough to copy is seen; Intake drops what it already has. With `detection.record_path`
(run.py --record) each source row is appended there the first time it is listed (recording.py).
"""
from __future__ import annotations

import time

from loguru import logger

from polycopy.actors.watcher import FeedState, WatcherActor
from polycopy.actors.watcher_io import Backoff, RateLimitedLog, ThreadBridge
from polycopy.errors import RejectedError, TemporaryError
from polycopy.ops.recording import BackstopRecorder, Recorder
from polycopy.venue.data_api import DataApiClient, TradesPoller

log = logger.bind(actor="backstop")
MAX_RETRY_AFTER_S = 300.0


class BackstopWatcher(WatcherActor):
    role = "backstop"
    feed = "backstop"

    def io_settings(self, config) -> tuple:
        return (config.detection, config.venue.data_api_url, config.copy.source_wallet)

    def start_io(self, bridge: ThreadBridge, state: FeedState) -> None:
        config = self.config
        bridge.start(lambda b: run_backstop(b, config, state))


def run_backstop(bridge: ThreadBridge, config, state: FeedState, client: DataApiClient | None = None) -> None:
    d = config.detection
    wallet = config.copy.source_wallet.lower()
    interval_s, budget_s = d.http_poll_interval_ms / 1000, d.http_timeout_ms / 1000
    client = client or DataApiClient(config.venue.data_api_url, budget_s)
    start_floor = int(time.time()) - max(d.backstop_lookback_s, config.copy.max_fill_age_at_start_s)
    poller = TradesPoller(wallet, d.backstop_page_limit, d.backstop_lookback_s, start_floor)
    backoff = Backoff(d.reconnect_min_ms / 1000, d.reconnect_max_ms / 1000)
    logs = RateLimitedLog(60.0)
    failures, next_at = 0, time.monotonic()
    recorder = BackstopRecorder(Recorder(d.record_path), wallet) if d.record_path else None

    def fetch(limit: int, offset: int, deadline: float):
        rows, recv_ns = client.trades(wallet, limit, offset, deadline)
        if recorder is not None:
            recorder.on_page(rows)
        return rows, recv_ns

    try:
        while not bridge.stop_event.wait(max(0.0, next_at - time.monotonic())):
            started = time.monotonic()
            deadline = started + budget_s
            try:
                fills = poller.poll(lambda limit, offset: fetch(limit, offset, deadline))
            except (TemporaryError, RejectedError) as e:
                failures += 1
                retry_after = min(getattr(e, "retry_after_s", None) or 0.0, MAX_RETRY_AFTER_S)
                delay = max(backoff.delay(failures), retry_after)
                logs.warn(log, str(e)[:40], "backstop: {}; retrying in {:.2f}s (failure {})", e, delay, failures)
                state.reconnects += 1
                if state.connected or failures == 1:
                    state.connected, state.detail = False, str(e)[:160]
                    bridge.put(("health", None))
                next_at = time.monotonic() + delay
                continue
            state.last_data_mono = time.monotonic()
            state.malformed = poller.malformed
            if not state.connected:
                failures, state.connected, state.detail = 0, True, "polling"
                bridge.put(("health", None))
            if fills:
                bridge.put(("fills", fills))
            next_at = started + interval_s
    finally:
        client.close()
        if recorder is not None:
            recorder.recorder.close()
