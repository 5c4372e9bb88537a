"""No frame or row can kill a thread (issue #14): hostile input interleaved with good fills, through
the RTDS watcher and the backstop with their real I/O threads against the loopback fakes. Every
good fill comes out, each bad input is counted, no I/O thread dies (the watcher would report a
ChildFailed to its parent, which the kill switch counts), the RTDS socket is never dropped for it."""
from __future__ import annotations

import json
import time


from polycopy.actors.backstop_watcher import BackstopWatcher
from polycopy.actors.rtds_watcher import RtdsWatcher
from polycopy.messages import ChildFailed
from tests.actors.harness import Harness
from tests.actors.test_watchers import config, fills, health, pump
from tests.integration.detection_fakes import SOURCE, SOURCE_MIXED, FakeDataApi, FakeRtds, Raw, frame, payload, v2_row

DEEP = "[" * 100_000 + "]" * 100_000


def source_frame(tx, **over) -> str:
    """A frame of the source's with some payload values replaced by raw JSON text."""
    p = payload(tx)
    body = "{" + ",".join(f'"{k}":{over.get(k, json.dumps(v))}' for k, v in p.items()) + "}"
    return '{"topic":"activity","type":"trades","timestamp":%d,"payload":%s}' % (time.time() * 1000, body)


HOSTILE_FRAMES = [
    source_frame("0xbad1", size="1e999999999"),
    source_frame("0xbad2", price="-1E+999999999"),
    '{"topic":"activity","type":"trades","timestamp":1,"payload":' + DEEP + "}",
    source_frame("0xbad3", timestamp="100000000000000000000"),
    json.dumps({"topic": "activity", "type": "trades", "timestamp": 10**20, "payload": payload("0xbad4")}),
    source_frame("0xbad5", slug=json.dumps("x" * 1_000_000)),  # a 1 MB frame
    b"\x00\x01\x02\xff binary",
    frame(payload("0xbad6")).encode(),  # a good frame, sent as a binary frame
    source_frame("0xbad7", price='{"a":1}'),
    source_frame("0xbad8", size="[1,2]"),
    source_frame("0xbad9", side="5"),
    source_frame("0xbad10", asset="[]"),
    source_frame("0xbad11", timestamp='"soon"'),
    source_frame("0xbad12", price="NaN"),
    '{"topic":"activity","type":"trades","timestamp":1,"payload":{"proxyWallet":"%s","size":' % SOURCE_MIXED + "9" * 5000 + "}}",
    "{" * 50 + "}" * 50,
    '{"topic":"activity","type":"trades","payload":"%s"}' % ("a" * 100),
]


def start(made, cls, cfg):
    h = Harness(cls, config=cfg, peers={"intake": "intake", "telemetry": "tel"})
    made.append(h)
    return h


def test_hostile_frames_among_good_fills_through_the_rtds_watcher(made):
    with FakeRtds() as rtds:
        h = start(made, RtdsWatcher, config(rtds.url, rtds_silence_limit_s=5.0))
        assert pump(h, lambda: rtds.connected() == 1)
        good = []
        for i, bad in enumerate(HOSTILE_FRAMES):
            tx = f"0x{i:04x}"
            rtds.send_fill(tx, wallet=SOURCE_MIXED)
            good.append(tx)
            rtds.send(bad)
        rtds.send_fill("0xlast", wallet=SOURCE_MIXED)
        good.append("0xlast")
        assert pump(h, lambda: len(fills(h)) == len(good) and h.actor.state.malformed == len(HOSTILE_FRAMES),
                    timeout=15), (len(fills(h)), h.actor.state.malformed, h.actor.state.malformed_kinds)
        assert [f.tx_hash for f in fills(h)] == good
        kinds = h.actor.state.malformed_kinds
        assert {"size", "price", "depth", "timestamp", "envelope", "binary", "side", "asset", "number"} <= set(kinds)
        assert h.sent_to("parent", ChildFailed) == [] and h.actor.bridge.alive()
        assert rtds.accepted == 1  # the same connection throughout
        report = health(h)
        assert report.malformed == len(HOSTILE_FRAMES) and "malformed" in report.detail


def hostile_rows(now: int) -> list:
    good = v2_row(payload("0xrowgood"))
    return [
        Raw(json.dumps(dict(good, transaction_hash="0xr1")).replace('"size": "5"', '"size": 1e999999999')),
        dict(good, transaction_hash="0xr2", size="1e999999999"),
        dict(good, transaction_hash="0xr3", timestamp=10**20),
        Raw(DEEP),
        Raw('{"proxy_wallet": "%s", "nested": %s}' % (SOURCE, DEEP)),
        dict(good, transaction_hash="0xr4", price={"a": 1}),
        dict(good, transaction_hash="0xr5", token_id=[1]),
        dict(good, transaction_hash="0xr6", slug="x" * 300_000),
        "junk",
        None,
        dict(good, transaction_hash="0xr7", side=5),
        dict(good, transaction_hash="0xr8", price="NaN"),
    ]


def test_hostile_rows_among_good_fills_through_the_backstop(made):
    with FakeDataApi() as api:
        bad = hostile_rows(int(time.time()))
        good = []
        for i, row in enumerate(bad):
            api.add(f"0x{i:04x}")
            good.append(f"0x{i:04x}")
            api.add_row(row)
        h = start(made, BackstopWatcher, config(api_url=api.url))
        assert pump(h, lambda: len(fills(h)) == len(good) and h.actor.state.malformed == len(bad), timeout=10), \
            (len(fills(h)), h.actor.state.malformed, h.actor.state.malformed_kinds)
        assert sorted(f.tx_hash for f in fills(h)) == sorted(good)
        assert pump(h, lambda: len(api.requests) >= 5)  # more polls list the same rows again
        assert h.actor.state.malformed == len(bad)  # counted once each, not once a poll
        api.add("0xlater")
        assert pump(h, lambda: "0xlater" in {f.tx_hash for f in fills(h)})
        assert h.sent_to("parent", ChildFailed) == [] and h.actor.bridge.alive() and health(h).connected


def test_a_row_dated_in_the_future_does_not_hide_later_fills(made):
    with FakeDataApi() as api:
        api.add("0xfuture", ts=int(time.time()) + 240)  # inside the window (now + 5 min), past the clock
        h = start(made, BackstopWatcher, config(api_url=api.url, backstop_lookback_s=30))
        assert pump(h, lambda: len(fills(h)) == 1)
        api.add("0xlate", ts=int(time.time()) - 20)  # listed later, dated before now: not under the watermark
        assert pump(h, lambda: len(fills(h)) == 2), [f.tx_hash for f in fills(h)]


def test_a_frame_handler_that_raises_costs_one_frame_not_the_thread():
    """The runner (clients/ws.py) counts any exception from a feed's handler as malformed input."""
    import select

    from polycopy.actors.watcher_io import ThreadBridge
    from polycopy.clients.ws import DATA, Feed, SocketPolicy, run_socket

    class Fragile(Feed):
        name = "fragile"
        seen: list = []

        def on_text(self, text, recv_ns):
            if text == "boom":
                raise ZeroDivisionError("a bug, not bad input")
            if text.startswith("keep"):
                self.seen.append(text)
            return DATA

    with FakeRtds() as rtds:
        rtds.noise = False
        bridge = ThreadBridge("fragile")
        feed = Fragile(rtds.url)
        bridge.start_async(lambda b: run_socket(b, feed, SocketPolicy(silence_s=5.0, ping_every_s=1.0)))
        items = []

        def wait(cond) -> bool:  # on the bridge's pipe, until cond() or the deadline
            deadline = time.monotonic() + 5
            while not cond() and time.monotonic() < deadline:
                select.select([bridge.fd], [], [], 0.05)
                items.extend(bridge.drain())
            return cond()

        try:
            assert wait(lambda: rtds.connected() == 1)
            for text in ("keep 1", "boom", "keep 2", "boom", "keep 3"):
                rtds.send(text)
            assert wait(lambda: len(feed.seen) == 3)
            assert feed.seen == ["keep 1", "keep 2", "keep 3"]
            assert feed.state.malformed_kinds == {"handler": 2} and bridge.alive() and rtds.accepted == 1
            assert [kind for kind, _ in items if kind == "died"] == []
        finally:
            bridge.close()
