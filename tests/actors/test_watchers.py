"""RtdsWatcher and BackstopWatcher, each driven through the Harness with its real I/O thread
against the loopback fakes in tests/integration/detection_fakes.py (polysim was not ready)."""
import json
import select
import time

import pytest
from thespian.actors import ActorAddress, WatchMessage

from polycopy.actors.backstop_watcher import BackstopWatcher
from polycopy.actors.rtds_watcher import RtdsWatcher
from polycopy.actors.watcher import HEALTH
from polycopy.config.loader import parse_config
from polycopy.messages import FeedHealth, FillBatch, Peers
from tests.actors.harness import Harness
from tests.integration.detection_fakes import OTHER, SOURCE, SOURCE_MIXED, FakeDataApi, FakeRtds, frame, payload

DETECTION = {"rtds_ping_interval_s": 0.1, "rtds_silence_limit_s": 0.5, "reconnect_min_ms": 20, "reconnect_max_ms": 100,
             "circuit_breaker_failures": 3, "circuit_breaker_cooldown_s": 1.0, "http_poll_interval_ms": 50,
             "http_timeout_ms": 1000}


def config(rtds_url="ws://127.0.0.1:9", api_url="http://127.0.0.1:9", **detection):
    return parse_config({"venue": {"rtds_url": rtds_url, "data_api_url": api_url}, "copy": {"source_wallet": SOURCE},
                         "detection": {**DETECTION, **detection}})


def pump(h, cond, timeout=5.0):
    """Deliver WatchMessages as the bridge signals, until cond() or the deadline."""
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        bridge = h.actor.bridge
        if bridge is None:
            time.sleep(0.02)
            continue
        ready, _, _ = select.select([bridge.fd], [], [], 0.05)
        if ready:
            h.deliver(WatchMessage(ready))
    return cond()


def fills(h):
    return [f for b in h.sent_to("intake", FillBatch) for f in b.fills]


def health(h):
    h.fire_wakeups(lambda p: p == HEALTH)
    return h.sent_to("tel", FeedHealth)[-1]


@pytest.fixture
def rtds():
    with FakeRtds() as server:
        yield server


@pytest.fixture
def api():
    with FakeDataApi() as server:
        yield server


@pytest.fixture
def watchers():
    made = []
    yield made
    for h in made:
        h.actor.on_exit()


def start(watchers, cls, cfg, peers=None):
    h = Harness(cls, config=cfg, peers={"intake": "intake", "telemetry": "tel"} if peers is None else peers)
    watchers.append(h)
    return h


# ---------------------------------------------------------------- RTDS


def test_rtds_subscribes_pings_and_forwards_only_the_source(rtds, watchers):
    h = start(watchers, RtdsWatcher, config(rtds.url))
    assert pump(h, lambda: rtds.connected() == 1 and "PING" in rtds.received)
    sub = json.loads(rtds.received[0])
    assert sub["action"] == "subscribe" and " " not in rtds.received[0]
    rtds.send_fill("0xa1", wallet=OTHER)
    rtds.send_fill("0xa2", wallet=SOURCE_MIXED, size="2.7027")
    assert pump(h, lambda: len(fills(h)) == 1)
    [f] = fills(h)
    assert f.tx_hash == "0xa2" and str(f.size) == "2.7027" and f.feed == "rtds" and f.envelope_ts_ms > 0
    assert health(h).connected


def test_rtds_survives_malformed_truncated_and_unknown_frames(rtds, watchers):
    h = start(watchers, RtdsWatcher, config(rtds.url))
    assert pump(h, lambda: rtds.connected() == 1)
    good = frame(payload("0xb1"))
    for bad in (good[:40], "{nope", '{"topic":"comments","type":"comment_created","timestamp":1,"payload":{}}',
                '{"topic":"activity","type":"trades","timestamp":1,"payload":{"proxyWallet":"%s","side":"??"}}' % SOURCE,
                "[]", "", "PONG"):
        rtds.send(bad)
    rtds.send(good)
    assert pump(h, lambda: len(fills(h)) == 1)
    assert fills(h)[0].tx_hash == "0xb1"
    assert h.actor.state.malformed == 5 and rtds.accepted == 1  # counted, same connection
    assert health(h).malformed == 5


def test_rtds_reconnects_when_the_feed_goes_silent(rtds, watchers):
    h = start(watchers, RtdsWatcher, config(rtds.url))
    assert pump(h, lambda: rtds.accepted == 1)
    rtds.stalled = True  # the socket stays open; nothing arrives (PINGs still answered "PONG")
    assert pump(h, lambda: rtds.accepted >= 2, timeout=5)
    rtds.stalled = False
    rtds.send_fill("0xc1")
    assert pump(h, lambda: len(fills(h)) == 1)
    assert h.actor.state.reconnects >= 1


def test_rtds_reconnects_after_a_drop_and_keeps_numbering(rtds, watchers):
    h = start(watchers, RtdsWatcher, config(rtds.url))
    assert pump(h, lambda: rtds.connected() == 1)
    rtds.send_fill("0xd1")
    assert pump(h, lambda: len(fills(h)) == 1)
    rtds.drop()
    assert pump(h, lambda: rtds.accepted == 2 and rtds.connected() == 1)
    rtds.send_fill("0xd1")  # the second identical fill of the same tx, after the reconnect
    assert pump(h, lambda: len(fills(h)) == 2)
    assert [f.key[-1] for f in fills(h)] == ["0", "1"]


def test_rtds_circuit_breaker_opens_then_retries(rtds, watchers):
    rtds.refuse = True
    h = start(watchers, RtdsWatcher, config(rtds.url, circuit_breaker_failures=3, circuit_breaker_cooldown_s=0.6))
    assert pump(h, lambda: h.actor.state.circuit_open)
    attempts = rtds.attempts
    assert attempts == 3
    assert health(h).circuit_open
    time.sleep(0.3)
    assert rtds.attempts == attempts  # no attempt while open
    rtds.refuse = False
    assert pump(h, lambda: rtds.connected() == 1 and not h.actor.state.circuit_open, timeout=5)
    rtds.send_fill("0xe1")
    assert pump(h, lambda: len(fills(h)) == 1)


def test_fills_wait_for_the_intake_address(rtds, watchers):
    h = start(watchers, RtdsWatcher, config(rtds.url), peers={})
    assert pump(h, lambda: rtds.connected() == 1)
    rtds.send_fill("0xf1")
    assert pump(h, lambda: len(h.actor.pending) == 1)
    h.deliver(Peers(peers={"intake": ActorAddress("intake")}))
    assert [f.tx_hash for f in fills(h)] == ["0xf1"]


# ---------------------------------------------------------------- backstop


def test_backstop_polls_with_a_cache_buster_and_emits_each_fill_once(api, watchers):
    for i in range(3):
        api.add("0x99")  # three identical fills in one tx
    api.add("0x98", size="7")
    h = start(watchers, BackstopWatcher, config(api_url=api.url))
    assert pump(h, lambda: len(fills(h)) == 4)
    assert pump(h, lambda: len(api.requests) >= 4)
    assert len(fills(h)) == 4
    assert sorted(f.key.rsplit("|", 1)[1] for f in fills(h) if f.tx_hash == "0x99") == ["0", "1", "2"]
    qs = [q for _, q in api.requests]
    assert all(q["taker_only"] == "false" and q["user"] == SOURCE and "offset" not in q for q in qs)
    assert len({q["_"] for q in qs}) == len(qs)
    api.add("0x97")
    assert pump(h, lambda: len(fills(h)) == 5)
    assert health(h).connected


def test_backstop_honours_retry_after_on_429(api, watchers):
    api.fail = [(429, "1"), (503, None)]
    api.add("0x91")
    h = start(watchers, BackstopWatcher, config(api_url=api.url))
    assert pump(h, lambda: len(fills(h)) == 1, timeout=5)
    (t429, _), (t503, _), (tok, _) = api.requests[:3]
    assert t503 - t429 >= 0.95  # waited as told
    assert h.actor.state.reconnects == 2 and h.actor.state.connected


# ---------------------------------------------------------------- the bridge and the retry helpers


def test_bridge_signals_once_and_drains_everything_in_order():
    import threading

    from polycopy.actors.watcher_io import ThreadBridge

    b = ThreadBridge("t")
    try:
        t = threading.Thread(target=lambda: [b.put(i) for i in range(500)])
        t.start()
        t.join()
        assert select.select([b.fd], [], [], 1)[0] == [b.fd]
        assert b.drain() == list(range(500))
        assert select.select([b.fd], [], [], 0)[0] == []  # one byte for the whole burst, consumed
        b.put("late")
        assert select.select([b.fd], [], [], 1)[0] == [b.fd] and b.drain() == ["late"]
    finally:
        b.close()


def test_backoff_grows_with_jitter_and_caps():
    from polycopy.clients.feed import Backoff

    b = Backoff(0.1, 1.0)
    for attempt, cap in ((1, 0.1), (2, 0.2), (3, 0.4), (5, 1.0), (50, 1.0)):
        d = [b.delay(attempt) for _ in range(50)]
        assert all(cap / 2 <= x <= cap for x in d) and len(set(d)) > 1
    assert b.delay(0) == 0


def test_circuit_breaker_opens_cools_down_and_closes():
    from polycopy.clients.feed import CircuitBreaker

    now = [0.0]
    cb = CircuitBreaker(3, 10.0, clock=lambda: now[0])
    cb.failure(), cb.failure()
    assert cb.open_for_s() == 0
    cb.failure()
    assert cb.open_for_s() == 10.0
    now[0] = 4.0
    assert cb.open_for_s() == 6.0
    now[0] = 10.0
    assert cb.open_for_s() == 0  # half-open: one attempt
    cb.failure()
    assert cb.open_for_s() == 10.0  # failed again: open again
    now[0] = 25.0
    assert cb.open_for_s() == 0
    cb.success()
    cb.failure()
    assert cb.open_for_s() == 0 and cb.failures == 1


def test_rate_limited_log_once_per_kind_per_window():
    from polycopy.clients.feed import RateLimitedLog

    lines = []

    class Log:
        def warning(self, text, *args):
            lines.append(text.format(*args))

    r = RateLimitedLog(60)
    assert [r.warn(Log(), k, "bad {}", k) for k in ("json", "json", "unknown", "json")] == [True, False, True, False]
    assert lines == ["bad json", "bad unknown"]


def test_a_dead_io_thread_is_reported_and_restarted(watchers):
    from polycopy.actors.watcher import RESTART_IO, WatcherActor
    from polycopy.messages import ChildFailed

    class Flaky(WatcherActor):
        role = feed = "flaky"
        starts = 0

        def start_io(self, bridge, state):
            Flaky.starts += 1

            def run(b):
                if Flaky.starts == 1:
                    raise RuntimeError("boom")
                b.put(("health", None))

            bridge.start(run)

    h = start(watchers, Flaky, config())
    assert pump(h, lambda: h.sent_to("parent", ChildFailed) != [])
    assert h.actor.bridge is None
    h.fire_wakeups(lambda p: p == RESTART_IO)
    assert Flaky.starts == 2 and h.actor.bridge is not None


def test_reload_restarts_the_connection_only_when_its_settings_change(rtds, watchers):
    h = start(watchers, RtdsWatcher, config(rtds.url))
    assert pump(h, lambda: rtds.accepted == 1)
    from polycopy.messages import ReloadConfig

    bridge = h.actor.bridge
    h.deliver(ReloadConfig(config=config(rtds.url)))  # same settings: same connection
    assert h.actor.bridge is bridge
    h.deliver(ReloadConfig(config=config(rtds.url, rtds_silence_limit_s=0.6)))
    assert pump(h, lambda: rtds.accepted == 2)
