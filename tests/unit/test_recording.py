"""Recording the source feed (polycopy/ops/recording.py) and reading it back for replay (sim/replay.py)."""
from __future__ import annotations

import json
import os
import threading
from decimal import Decimal

from polycopy.ops.recording import BackstopRecorder, Recorder, RtdsRecorder
from polycopy.sim.replay import load_items, recorded_markets, shifted_slug

WALLET = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"
CHECKSUMMED = "0x1D0034134e339A309700fF2d34E99FA2d48B0313"
OTHER = "0x" + "ab" * 20


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def frame(wallet: str, **payload) -> str:
    body = {"asset": "111", "conditionId": "0x" + "c" * 64, "proxyWallet": wallet, "side": "BUY",
            "price": 0.5, "size": 10, "timestamp": 1_700_000_000, "slug": "btc-updown-15m-1699999200",
            "outcome": "Up", "transactionHash": "0x" + "1" * 64, **payload}
    return json.dumps({"topic": "activity", "type": "trades", "timestamp": 1, "payload": body})


def test_rtds_recorder_keeps_source_frames_but_each_connections_first(tmp_path):
    path = tmp_path / "rec" / "feed.jsonl"
    rec = RtdsRecorder(Recorder(path), WALLET)
    rec.new_connection()
    rec.on_text(frame(CHECKSUMMED, asset="first"))  # first frame of the connection: out
    rec.on_text(frame(CHECKSUMMED, asset="a"))  # checksummed spelling: in
    rec.on_text(frame(OTHER, asset="b"))  # another wallet: out
    rec.on_text(b"PONG")
    rec.new_connection()
    rec.on_text("")
    rec.on_text(frame(WALLET, asset="c").encode())
    got = lines(path)
    assert [json.loads(x["text"])["payload"]["asset"] for x in got] == ["a", "c"]
    assert all(isinstance(x["recv_ms"], int) and x["recv_ms"] > 1_600_000_000_000 for x in got)


def test_backstop_recorder_writes_each_row_once_counting_identical_rows(tmp_path):
    path = tmp_path / "feed.jsonl"
    rec = BackstopRecorder(Recorder(path), WALLET)
    row = {"proxyWallet": WALLET, "asset": "111", "price": Decimal("0.5"), "size": Decimal("10"), "timestamp": 5}
    twin = dict(row)
    rec.on_page([row, {**row, "proxyWallet": OTHER}])
    rec.on_page([row, twin])  # a second identical fill in the same transaction appeared
    rec.on_page([row, twin])  # listed again by the next poll: nothing new
    got = lines(path)
    assert [x["backstop_row"] for x in got] == [{**row, "price": "0.5", "size": "10"}] * 2


def test_two_writers_never_interleave_lines(tmp_path):
    path = tmp_path / "feed.jsonl"
    writers = [Recorder(path), Recorder(path)]  # like the two watcher processes: two descriptors
    text = "x" * 5000

    def write(r, tag):
        for i in range(300):
            r.frame(json.dumps({"tag": tag, "i": i, "pad": text}))

    threads = [threading.Thread(target=write, args=(w, t)) for w, t in zip(writers, "ab")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = [json.loads(x["text"]) for x in lines(path)]
    assert len(got) == 600
    for tag in "ab":
        assert [g["i"] for g in got if g["tag"] == tag] == list(range(300))


def test_a_failed_write_stops_recording_without_raising(tmp_path):
    rec = Recorder(tmp_path / "feed.jsonl")
    os.close(rec._fd)  # the descriptor goes bad underneath
    rec.frame("{}")
    rec.frame("{}")
    assert rec.lines == 0 and rec._fd is None


def test_load_items_reads_frames_and_rows_and_skips_noise(tmp_path):
    path = tmp_path / "feed.jsonl"
    rec = Recorder(path)
    rec.frame(frame(WALLET), recv_ms=1000)
    rec.frame("PONG", recv_ms=1100)
    rec.backstop_row({"proxyWallet": WALLET, "price": Decimal("0.25"), "asset": "111",
                      "conditionId": "0x" + "c" * 64}, recv_ms=3500)
    t0, items = load_items(path)
    assert t0 == 1000
    assert [(t, kind) for t, kind, _ in items] == [(0.0, "frame"), (2.5, "row")]
    assert items[0][2]["payload"]["price"] == Decimal("0.5")  # prices read back exactly
    assert items[1][2]["price"] == "0.25"


def test_load_items_names_the_bad_line(tmp_path):
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps({"recv_ms": 1, "text": frame(WALLET)}) + "\n{\"text\": 1}\n")
    try:
        load_items(path)
    except ValueError as e:
        assert "feed.jsonl:2" in str(e)
    else:
        raise AssertionError("a line without recv_ms must be refused")


def test_recorded_markets_follow_the_slug_rule_and_the_shift():
    cid, other = "0x" + "c" * 64, "0x" + "d" * 64
    items = [
        (0.0, "frame", json.loads(frame(WALLET, asset="111", outcome="Up"))),
        (1.0, "row", {"conditionId": cid, "asset": "222", "outcome": "Down", "slug": "btc-updown-15m-1699999200"}),
        (2.0, "frame", json.loads(frame(WALLET, conditionId=other, asset="333", outcome="Yes", slug="will-it-rain"))),
    ]
    by_cid = {m.condition_id: m for m in recorded_markets(items, shift_s=1000, start_unix=5_000_000)}
    btc = by_cid[cid]
    assert btc.slug == "btc-updown-15m-1700000200" and btc.end_ts == 1700000200 + 900
    assert btc.outcomes == ["Up", "Down"] and btc.tokens == ["111", "222"]
    rain = by_cid[other]
    assert rain.slug == "will-it-rain" and rain.end_ts == 5_000_000 + 86_400  # no rule: a day after the start
    assert rain.outcomes == ["Yes", "No"] and rain.tokens[0] == "333" and rain.tokens[1] not in ("", "333")
    assert shifted_slug("btc-updown-15m-1699999200", 0) == "btc-updown-15m-1699999200"
