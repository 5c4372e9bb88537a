"""BackstopWatcher: polls the Data API `/v2/trades?user=…&taker_only=false` and catches what RTDS missed.

A plain thread (blocking, one kept-alive connection pool: clients/data_api.py) polls every
`http_poll_interval_ms` on a monotonic schedule; each poll, all its pages included, must finish
by a monotonic deadline (`http_timeout_ms` after it starts). 429/425/5xx (or a v2 error body
saying `retryable`), timeouts and an answer that is not a v2 page back off exponentially with
jitter, never sooner than the server's Retry-After. At start the floor is
`max(backstop_lookback_s, copy.max_fill_age_at_start_s)` before now, so every fill still young
enough to copy is seen; Intake drops what it already has. Rows that do not parse are counted
and logged (first of each kind per minute, with an excerpt); they cost no good row and never
end the thread. With `detection.record_path` (run.py --record) each source row is appended
there the first time it is listed (recording.py), in the recording's row spelling.
"""
from __future__ import annotations

import time

from loguru import logger

from polycopy.actors.watcher import WatcherActor
from polycopy.actors.watcher_io import ThreadBridge
from polycopy.clients.backstop import TradesPoller
from polycopy.clients.data_api import DataApi
from polycopy.clients.feed import Backoff, BadInput, FeedState, RateLimitedLog
from polycopy.errors import Malformed, RejectedError, TemporaryError
from polycopy.ops.recording import BackstopRecorder, Recorder
from polycopy.wire.trade import Trade

log = logger.bind(actor="backstop")


class BackstopWatcher(WatcherActor):
    role = "backstop"
    feed = "backstop"

    def io_settings(self, config) -> tuple:
        return (config.detection, config.venue.data_api_url, config.copy.source_wallet)

    def start_io(self, bridge: ThreadBridge, state: FeedState) -> None:
        config = self.config
        bridge.start(lambda b: run_backstop(b, config, state))


def run_backstop(bridge: ThreadBridge, config, state: FeedState, client: DataApi | None = None) -> None:
    d = config.detection
    wallet = config.copy.source_wallet.lower()
    interval_s, budget_s = d.http_poll_interval_ms / 1000, d.http_timeout_ms / 1000
    client = client or DataApi(config.venue.data_api_url, budget_s)
    start_floor = int(time.time()) - max(d.backstop_lookback_s, config.copy.max_fill_age_at_start_s)
    poller = TradesPoller(wallet, d.backstop_lookback_s, start_floor)
    backoff = Backoff(d.reconnect_min_ms / 1000, d.reconnect_max_ms / 1000)
    logs, bad = RateLimitedLog(60.0), BadInput("backstop", state, log)
    failures, next_at = 0, time.monotonic()
    recorder = BackstopRecorder(Recorder(d.record_path), wallet) if d.record_path else None

    def fetch(cursor, deadline: float):
        page, recv_ns = client.trades(wallet, d.backstop_page_limit, cursor, deadline, time.time(),
                                      start_s=poller.floor_s())
        if recorder is not None:
            recorder.on_page([recorded_row(t) for t in page.items])
        return page, recv_ns

    try:
        while not bridge.stop_event.wait(max(0.0, next_at - time.monotonic())):
            started = time.monotonic()
            deadline = started + budget_s
            try:
                fills = poller.poll(lambda cursor: fetch(cursor, deadline))
            except Exception as e:  # noqa: BLE001 - nothing an answer holds may end the thread
                if isinstance(e, Malformed):
                    bad.count(e)
                elif not isinstance(e, (TemporaryError, RejectedError)) and logs.warn(log, "unexpected",
                                                                                     "backstop: poll failed: {!r}", e):
                    log.opt(exception=e).error("backstop: the poll's traceback")
                failures += 1
                delay = max(backoff.delay(failures), getattr(e, "retry_after_s", None) or 0.0)
                logs.warn(log, str(e)[:40], "backstop: {}; retrying in {:.2f}s (failure {})", e, delay, failures)
                state.reconnects += 1
                if state.connected or failures == 1:
                    state.connected, state.detail = False, str(e)[:160]
                    bridge.put(("health", None))
                next_at = time.monotonic() + delay
                continue
            for e in poller.last_bad:
                bad.count(e)
            state.last_data_mono = time.monotonic()
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


def recorded_row(t: Trade) -> dict:
    """A source row as the recording spells it (ops/recording.py: the row shape polysim replays)."""
    return {"proxyWallet": t.wallet, "side": t.side, "asset": t.token_id, "conditionId": t.condition_id,
            "size": t.size, "price": t.price, "timestamp": t.ts_s, "transactionHash": t.tx_hash,
            "outcome": t.outcome, "slug": t.slug}
