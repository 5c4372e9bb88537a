"""RTDS: subscribe, frame shapes, taker/maker rows, ping keep-alive, stall, drop, lag."""
import json
import time

import pytest
import requests
from websockets.exceptions import ConnectionClosed

from polycopy.sim.server import Polysim
from tests.sim.simkit import (SOURCE, fault, frames, fresh, inject, rtds, same_shape, sample,
                              silent, sim, small_scenario, wait_for)

__all__ = ["sim", "fresh"]


def test_trade_frame_has_the_real_shape(fresh):
    ws = rtds(fresh, "trades")
    records = inject(fresh, size="2.7027", price="0.26")
    frame = frames(ws, 1)[0]
    real = sample("rtds_trade.json")
    same_shape(frame, real)
    same_shape(frame["payload"], real["payload"])
    p = frame["payload"]
    assert frame["topic"] == "activity" and frame["type"] == "trades"
    assert p["proxyWallet"] != p["proxyWallet"].lower()  # checksummed, mixed case
    assert p["proxyWallet"].lower() == SOURCE
    assert p["size"] == 2.7027 and p["price"] == 0.26
    assert isinstance(p["timestamp"], int) and abs(p["timestamp"] - time.time()) < 5
    assert abs(frame["timestamp"] - time.time() * 1000) < 5000  # envelope in ms
    assert p["asset"] == records[0]["token_id"]
    assert p["transactionHash"] == records[0]["tx_hash"]
    assert p["slug"].startswith("btc-updown-15m-") and p["eventSlug"] == p["slug"]
    assert p["outcome"] == "Up" and p["outcomeIndex"] == 0
    ws.close()


def test_orders_matched_is_taker_only_and_trades_adds_makers(fresh):
    matched, trades = rtds(fresh, "orders_matched"), rtds(fresh, "trades")
    inject(fresh, role="taker")
    inject(fresh, role="maker", size="4")
    got_matched = frames(matched, 2)
    got_trades = frames(trades, 4)
    wallets = lambda fs: [f["payload"]["proxyWallet"].lower() for f in fs]  # noqa: E731
    # taker fill of the source: source row + its counterparty maker row on trades
    assert wallets(got_matched)[0] == SOURCE
    assert wallets(got_trades)[:2][0] == SOURCE and wallets(got_trades)[1] != SOURCE
    # maker fill of the source: orders_matched shows the other wallet (the taker) only
    assert wallets(got_matched)[1] != SOURCE
    assert SOURCE in wallets(got_trades)[2:]
    assert silent(matched, 0.2)
    matched.close()
    trades.close()


def test_identical_fills_in_one_tx_get_distinct_keys(fresh):
    ws = rtds(fresh, "trades")
    tx = "0x" + "ab" * 32
    records = inject(fresh, tx_hash=tx, repeat=2, size="5")
    assert len(records) == 2 and records[0]["fill_key"] != records[1]["fill_key"]
    got = [f["payload"] for f in frames(ws, 4) if f["payload"]["proxyWallet"].lower() == SOURCE]
    assert len(got) == 2 and got[0] == got[1] and got[0]["transactionHash"] == tx
    ws.close()


def test_ping_pong_and_unsubscribe(fresh):
    ws = rtds(fresh, "*")
    for text in ("PING", "ping"):
        ws.send(text)
        assert wait_for(lambda: ws.recv(timeout=2) == "PONG")
    ws.send(json.dumps({"action": "unsubscribe", "subscriptions": [
        {"topic": "activity", "type": "*"}]}))
    ws.send("PING")
    assert wait_for(lambda: ws.recv(timeout=2) == "PONG")  # processed in order
    inject(fresh)
    assert silent(ws, 0.3)
    ws.close()


def test_filters_by_market_slug(fresh):
    other = rtds(fresh, "orders_matched", filters=json.dumps({"market_slug": "will-it-rain"}))
    wanted = rtds(fresh, "orders_matched", filters='{"market_slug": "will-it-rain"}')
    inject(fresh)  # btc market: filtered out
    inject(fresh, market="will-it-rain", outcome="No")
    assert frames(wanted, 1)[0]["payload"]["slug"] == "will-it-rain"
    assert frames(other, 1)[0]["payload"]["slug"] == "will-it-rain"
    other.close()
    wanted.close()


def test_malformed_frames_are_ignored_and_the_socket_keeps_working(fresh):
    ws = rtds(fresh, "trades")
    for junk in ("{not json", '{"action": 5}', '{"action":"subscribe","subscriptions":[{}]}',
                 "[]", '"x"', json.dumps({"action": "dance", "subscriptions": []})):
        ws.send(junk)
    ws.send(b"\x00\x01")  # binary
    inject(fresh)
    assert frames(ws, 1)[0]["type"] == "trades"
    ws.close()


def test_stall_silences_and_drop_closes(fresh):
    ws = rtds(fresh, "orders_matched")
    fault(fresh, kind="rtds_stall", for_s=1.0)
    inject(fresh)
    assert silent(ws, 0.3)
    wait_for(lambda: not fresh.feed_faults.rtds_stalled, 3)  # the stall ends by itself
    inject(fresh)
    assert frames(ws, 1)[0]["type"] == "orders_matched"
    fault(fresh, kind="rtds_drop")
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=3)
    assert fresh.feed_faults.rtds_drop_now is False
    ws2 = rtds(fresh, "orders_matched")  # reconnecting works
    inject(fresh)
    assert frames(ws2, 1)
    ws2.close()


def test_lag_per_type(fresh):
    fault(fresh, kind="rtds_lag_ms", type="trades", value=1000)
    matched, trades = rtds(fresh, "orders_matched"), rtds(fresh, "trades")
    start = time.monotonic()
    inject(fresh)
    frames(matched, 1)
    assert silent(trades, 0.3)  # still held back
    frames(trades, 1)
    assert time.monotonic() - start >= 1.0
    matched.close()
    trades.close()


def test_goes_silent_without_pings_but_stays_open():
    scenario = small_scenario(feeds={"rtds_idle_timeout_s": 0.5})
    with Polysim(scenario) as sim:
        quiet, pinger = rtds(sim, "trades"), rtds(sim, "trades")
        deadline = time.monotonic() + 0.9
        while time.monotonic() < deadline:
            pinger.send("PING")
            time.sleep(0.1)
        inject(sim)
        assert frames(pinger, 1)
        assert silent(quiet, 0.3)
        quiet.send("PING")  # too late: the socket stays dead, but open
        assert silent(quiet, 0.3)
        assert requests.get(sim.endpoints["control"] + "/stats", timeout=5).json()[
            "rtds_sockets"] == 2
        quiet.close()
        pinger.close()


def test_odd_outcome_index_sentinel_and_duplicates():
    feeds = {"odd_outcome_index_share": 1, "rtds_duplicate_share": 1}
    with Polysim(small_scenario(feeds=feeds)) as sim:
        ws = rtds(sim, "orders_matched")
        inject(sim)
        first, again = frames(ws, 2)
        assert first["payload"]["outcomeIndex"] == 999 and again["payload"] == first["payload"]
        ws.close()
