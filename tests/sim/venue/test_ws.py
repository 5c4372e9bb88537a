"""CLOB websockets: market and user channels, event shapes against the samples."""
import json
import time
from decimal import Decimal as D

import pytest
from polymarket._internal.streams.clob.market_protocol import parse_events
from polymarket.models.clob.user_events import parse_user_events
from websockets.sync.client import connect

from tests.sim.venue.helpers import HARDHAT_KEY, OTHER_ADDR, OTHER_KEY, T1, load, sign_order

MARKET_SAMPLES = load("clob_ws_market_events.json")["messages"]


def _recv(ws, event_type=None, timeout=5.0):
    """Next JSON frame (optionally of one event_type) before the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if event_type is None or (isinstance(frame, dict) and frame["event_type"] == event_type):
            return frame


def _mrecv(ws, event_type=None):
    """A market-channel frame, which the SDK's own parser must accept whole."""
    frame = _recv(ws, event_type)
    events, dropped = parse_events(frame)
    assert events and dropped == 0, frame
    return frame


def _urecv(ws, event_type=None):
    """A user-channel frame, which the SDK's own parser must accept."""
    frame = _recv(ws, event_type)
    events, dropped = parse_user_events(frame)
    assert events and dropped == 0, frame
    return frame


def _types(d: dict) -> dict:
    return {k: type(v) for k, v in d.items()}


def _sample(event_type):
    return next(m for m in MARKET_SAMPLES[1:] if m["event_type"] == event_type)


def _buy(venue, api, key=HARDHAT_KEY, pusd=5_000_000, taker=9_430_000):
    return sign_order(venue, private_key=key, token=T1, side="BUY", maker_amount=pusd,
                      taker_amount=taker, owner=api.key, order_type="FAK")


def test_market_channel(server, venue, api):
    with connect(server.ws_url + "/ws/market") as ws:
        ws.send(json.dumps({"type": "market", "assets_ids": [T1],
                            "custom_feature_enabled": False}))
        dump = _mrecv(ws)
        assert isinstance(dump, list) and len(dump) == 1
        assert list(dump[0]) == list(MARKET_SAMPLES[0][0])
        assert _types(dump[0]) == _types(MARKET_SAMPLES[0][0])
        ws.send("PING")
        assert ws.recv(timeout=5) == "PONG"

        assert server.request("POST", "/order", api, body=_buy(venue, api)).status_code == 200
        change = _mrecv(ws, "price_change")
        assert set(change) == set(_sample("price_change")) and "asset_id" not in change
        level = change["price_changes"][0]
        assert _types(level) == _types(_sample("price_change")["price_changes"][0])
        assert (level["price"], level["side"]) == ("0.52", "SELL")
        assert D(level["size"]) == D("20") - D("9.615384")
        trade = _mrecv(ws, "last_trade_price")
        assert _types(trade) == _types(_sample("last_trade_price"))
        assert (trade["price"], trade["side"]) == ("0.52", "BUY")

        server.call(venue.set_book, T1, [(D("0.45"), D("7"))], [(D("0.55"), D("8"))])
        book = _mrecv(ws, "book")
        assert list(book) == list(MARKET_SAMPLES[0][0]) and book["bids"] == [
            {"price": "0.45", "size": "7"}]

        server.call(venue.set_tick_size, T1, D("0.001"))
        tick = _mrecv(ws, "tick_size_change")
        assert _types(tick) == _types(_sample("tick_size_change"))
        assert (tick["old_tick_size"], tick["new_tick_size"]) == ("0.01", "0.001")


def _user_socket(server, api, markets=None):
    ws = connect(server.ws_url + "/ws/user")
    frame = {"type": "user", "auth": {"apiKey": api.key, "secret": api.secret,
                                      "passphrase": api.passphrase}}
    if markets is not None:
        frame["markets"] = markets
    ws.send(json.dumps(frame))
    return ws


@pytest.mark.parametrize("fails", [False, True])
def test_user_channel_order_and_trade_lifecycle(server, venue, api, fails):
    venue.faults.settlement_fails = fails
    order_sample, trade_sample = load("ws_user_order.json"), load("ws_user_trade.json")
    maker_api = venue.keys.derive(OTHER_ADDR, 0)
    server.call(venue.fund, OTHER_ADDR, D("0"), {T1: D("50")})
    cid = venue.market_for_token(T1).condition_id
    with _user_socket(server, api, [cid]) as taker_ws, _user_socket(server, maker_api) as maker_ws:
        ws_ready = lambda: len(venue.user_subs) == 2  # noqa: E731
        deadline = time.monotonic() + 5
        while not ws_ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        rest = sign_order(venue, private_key=OTHER_KEY, token=T1, side="SELL",
                          maker_amount=10_000_000, taker_amount=5_100_000,
                          owner=maker_api.key)
        assert server.request("POST", "/order", maker_api, body=rest).json()["status"] == "live"
        placement = _urecv(maker_ws, "order")
        assert list(placement) == list(order_sample)
        assert _types(placement) | {"associate_trades": type(None)} == _types(order_sample)
        assert (placement["type"], placement["status"]) == ("PLACEMENT", "LIVE")

        body = _buy(venue, api, pusd=5_100_000, taker=10_000_000)
        out = server.request("POST", "/order", api, body=body).json()
        assert out["status"] == "matched" and len(out["tradeIDs"]) == 1
        statuses = []
        while not statuses or statuses[-1] not in ("CONFIRMED", "FAILED"):
            event = _urecv(taker_ws, "trade")
            assert list(event) == list(trade_sample)
            assert _types(event) == _types(trade_sample)
            assert set(event["maker_orders"][0]) == set(trade_sample["maker_orders"][0])
            assert event["trader_side"] == "TAKER" and event["id"] == out["tradeIDs"][0]
            statuses.append(event["status"])
        assert statuses == (["MATCHED", "FAILED"] if fails else ["MATCHED", "MINED", "CONFIRMED"])
        update = _urecv(maker_ws, "order")
        assert (update["type"], update["size_matched"]) == ("UPDATE", "10")
        maker_trade = _urecv(maker_ws, "trade")
        assert maker_trade["trader_side"] == "MAKER" and maker_trade["owner"] == maker_api.key
    trade = server.call(lambda: dict(venue.trades[0]))
    assert trade["status"] == statuses[-1]
    maker_shares = server.call(venue.positions, OTHER_ADDR)[T1]
    assert maker_shares == (D("50") if fails else D("40"))  # FAILED undoes the fill


def test_user_channel_rejects_bad_credentials(server, api):
    ws = connect(server.ws_url + "/ws/user")
    ws.send(json.dumps({"type": "user", "auth": {"apiKey": api.key, "secret": "nope",
                                                 "passphrase": api.passphrase}}))
    with pytest.raises(Exception):
        ws.recv(timeout=5)
    assert ws.close_code == 4001
