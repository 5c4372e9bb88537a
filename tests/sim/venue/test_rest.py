"""REST over loopback: public reads, errors, auth, faults, heartbeats, records."""
import json
import time
from decimal import Decimal as D

import pytest
import requests
from polymarket.models.clob.account import OpenOrder

from tests.conftest import POLYMARKET
from tests.sim.venue.helpers import (
    HARDHAT_ADDR, HARDHAT_KEY, T1, l2_headers, sign_order, wait_for)


OPEN_ORDER_KEYS = {"id", "status", "owner", "maker_address", "market", "asset_id", "side",
                   "original_size", "size_matched", "price", "associate_trades", "outcome",
                   "created_at", "expiration", "order_type"}


def _limit_body(venue, api, price="0.40", size=10, salt=1, side="BUY"):
    shares, pusd = size * 1_000_000, int(D(price) * size * 1_000_000)
    maker, taker = (pusd, shares) if side == "BUY" else (shares, pusd)
    return sign_order(venue, private_key=HARDHAT_KEY, token=T1, side=side, maker_amount=maker,
                      taker_amount=taker, owner=api.key, salt=salt)


def test_public_market_data(server, venue):
    cid = venue.market_for_token(T1).condition_id
    get = lambda path, **q: server.request("GET", path, params=q)  # noqa: E731
    assert get("/version").json() == {"version": 2}
    assert isinstance(get("/time").json(), int)
    assert get("/tick-size", token_id=T1).json() == {"minimum_tick_size": 0.01}
    assert get("/neg-risk", token_id=T1).json() == {"neg_risk": False}
    assert get("/fee-rate", token_id=T1).json() == {"base_fee": 0}
    assert get(f"/markets-by-token/{T1}").json()["condition_id"] == cid
    info = get(f"/clob-markets/{cid}").json()
    assert info["t"][0] == {"t": T1, "o": "Up"} and info["mts"] == 0.01 and info["nr"] is False
    assert info["fd"] == {"r": 0.0, "e": 1, "to": True}
    assert get("/price", token_id=T1, side="BUY").json() == {"price": "0.52"}
    assert get("/price", token_id=T1, side="SELL").json() == {"price": "0.5"}
    assert get("/midpoint", token_id=T1).json() == {"mid": "0.51"}
    assert get("/spread", token_id=T1).json() == {"spread": "0.02"}
    books = server.request("POST", "/books", body=[{"token_id": T1}]).json()
    assert books[0]["asset_id"] == T1


def test_book_matches_the_sample_shape_and_order(server):
    sample = json.loads(open(POLYMARKET / "clob_book.json").read())
    book = server.request("GET", "/book", params={"token_id": T1}).json()
    assert list(book) == list(sample)
    assert {k: type(v) for k, v in book.items()} == {k: type(v) for k, v in sample.items()}
    assert [lvl["price"] for lvl in book["bids"]] == ["0.49", "0.5"]  # ascending
    assert [lvl["price"] for lvl in book["asks"]] == ["0.53", "0.52"]  # descending
    assert all(set(lvl) == {"price", "size"} for lvl in book["bids"] + book["asks"])


@pytest.mark.parametrize("method,path,params,status,error", [
    ("GET", "/book", {"token_id": "999"}, 404, "No orderbook exists for the requested token id"),
    ("GET", "/book", {}, 400, "Invalid token id"),
    ("GET", "/clob-markets/0x12", {}, 404, "market not found"),
    ("GET", "/no-such-route", {}, 404, "Not Found"),
    ("GET", "/data/orders", {}, 401, "Unauthorized/Invalid api key"),
    ("POST", "/auth/api-key", {}, 401, "Invalid L1 Request headers"),
])
def test_bad_requests_get_the_real_status_and_shape(server, method, path, params, status, error):
    resp = server.request(method, path, params=params)
    assert (resp.status_code, resp.json()) == (status, {"error": error})


def test_auth_failures_and_malformed_bodies(server, api):
    body = json.dumps({"heartbeat_id": ""})
    headers = l2_headers(api, "POST", "/v1/heartbeats", body)
    tampered = dict(headers, POLY_SIGNATURE="x" + headers["POLY_SIGNATURE"][1:])
    resp = requests.post(server.url + "/v1/heartbeats", data=body, headers=tampered, timeout=5)
    assert (resp.status_code, resp.json()) == (401, {"error": "Unauthorized/Invalid api key"})
    other_body = requests.post(server.url + "/v1/heartbeats", data=body + " ",
                               headers=dict(headers), timeout=5)
    assert other_body.status_code == 401  # the HMAC covers the exact bytes
    resp = server.request("POST", "/order", api, raw="{not json")
    assert (resp.status_code, resp.json()) == (400, {"error": "Invalid payload"})
    resp = server.request("POST", "/orders", api, body=[{}] * 16)
    assert resp.json() == {"error": "Too many orders in payload: 16, max allowed: 15"}
    assert server.request("GET", "/version").status_code == 200  # still serving


def test_order_lifecycle_over_rest(server, venue, api):
    body = _limit_body(venue, api)
    out = server.request("POST", "/order", api, body=body).json()
    sample = json.loads(open(POLYMARKET / "clob_post_order_response.json").read())
    assert set(out) == set(sample)
    assert {k: type(v) for k, v in out.items()} == {k: type(v) for k, v in sample.items()}
    oid = out["orderID"]
    order = server.request("GET", f"/data/order/{oid}", api).json()
    assert set(order) == OPEN_ORDER_KEYS  # PROTOCOL.md §5.3 OpenOrder
    assert OpenOrder.model_validate(order).id == oid  # the SDK's own model
    assert order["status"] == "LIVE" and order["original_size"] == "10"
    assert order["maker_address"] == HARDHAT_ADDR and order["owner"] == api.key
    listed = server.request("GET", "/data/orders", api, params={"asset_id": T1}).json()
    assert [o["id"] for o in listed["data"]] == [oid] and listed["next_cursor"] == "LTE="
    bal = server.request("GET", "/balance-allowance", api,
                         params={"asset_type": "COLLATERAL", "signature_type": "0"}).json()
    assert bal["balance"] == "1000000000"
    pos = server.request("GET", "/balance-allowance", api,
                         params={"asset_type": "CONDITIONAL", "token_id": T1}).json()
    assert pos["balance"] == "100000000"
    second = server.request("POST", "/order", api, body=_limit_body(venue, api, salt=2)).json()
    canceled = server.request("DELETE", "/order", api, body={"orderID": oid}).json()
    assert canceled == {"canceled": [oid], "not_canceled": {}}
    again = server.request("DELETE", "/orders", api, body=[oid]).json()
    assert again["canceled"] == [] and oid in again["not_canceled"]
    market = server.request("DELETE", "/cancel-market-orders", api, body={"asset_id": T1})
    assert market.json()["canceled"] == [second["orderID"]]
    assert server.request("DELETE", "/cancel-all", api).json()["canceled"] == []
    posts = [r for r in venue.records if r["path"] == "/order" and r["method"] == "POST"]
    assert posts[0]["order_id"] == oid and posts[0]["token_id"] == T1
    assert all(isinstance(r["recv_mono_ns"], int) for r in venue.records)


def test_batch_post(server, venue, api):
    bodies = [_limit_body(venue, api, salt=s) for s in (11, 12)]
    bodies.append(_limit_body(venue, api, price="0.405", salt=13))
    out = server.request("POST", "/orders", api, body=bodies).json()
    assert [o["status"] for o in out] == ["live", "live", ""]
    assert out[2]["success"] is False and "breaks minimum tick size" in out[2]["errorMsg"]


def test_faults(server, venue, api):
    venue.faults.rate_limit_until = time.monotonic() + 30
    resp = server.request("GET", "/book", params={"token_id": T1})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"  # the time left in the window
    assert resp.json() == {"error": "Too Many Requests"}
    venue.faults.retry_after_s = 1  # an explicit Retry-After, shorter than the window
    assert server.request("GET", "/book", params={"token_id": T1}).headers["Retry-After"] == "1"
    venue.faults.retry_after_s = None
    venue.faults.rate_limit_until = 0.0

    venue.faults.engine_restart_until = time.monotonic() + 30
    assert server.request("POST", "/order", api, body=_limit_body(venue, api)).status_code == 425
    assert server.request("GET", "/book", params={"token_id": T1}).status_code == 200
    venue.faults.engine_restart_until = 0.0

    venue.faults.post_only_until = time.monotonic() + 30
    resp = server.request("POST", "/order", api, body=_limit_body(venue, api))
    assert resp.status_code == 503 and "Retry-After" in resp.headers
    assert resp.json()["code"] == "post_only_mode"
    assert resp.json()["error"] == "post-only mode: only post-only orders and cancels are allowed"
    venue.faults.post_only_until = 0.0

    venue.faults.post_delay_ms = 20
    delayed = server.request("POST", "/order", api, body=_limit_body(venue, api, salt=98))
    assert delayed.status_code == 200 and delayed.json()["status"] == "live"
    venue.faults.post_delay_ms = 0

    venue.faults.drop_post_response = True
    body = _limit_body(venue, api, salt=99)
    with pytest.raises(requests.ConnectionError):
        server.request("POST", "/order", api, body=body)
    venue.faults.drop_post_response = False
    assert len(server.call(lambda: list(venue.orders))) == 2  # accepted despite the drop
    assert server.request("POST", "/order", api, body=body).json()["error"].endswith(
        "Duplicated.")


def test_heartbeats_and_dead_man_switch(server, venue, api):
    venue.heartbeat_timeout_s = 0.3
    oid = server.request("POST", "/order", api, body=_limit_body(venue, api)).json()["orderID"]
    first = server.request("POST", "/v1/heartbeats", api, body={"heartbeat_id": ""})
    hb_id = first.json()["heartbeat_id"]
    assert first.status_code == 200 and hb_id
    stale = server.request("POST", "/v1/heartbeats", api, body={"heartbeat_id": "stale"})
    assert (stale.status_code, stale.json()) == (
        400, {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": hb_id})
    nxt = server.request("POST", "/v1/heartbeats", api, body={"heartbeat_id": hb_id})
    assert nxt.status_code == 200 and nxt.json()["heartbeat_id"] != hb_id
    assert venue.orders[oid].status == "LIVE"
    wait_for(lambda: venue.orders[oid].status == "CANCELED")
    assert venue.book(T1)["bids"][0]["price"] != "0.4"


def test_gtd_order_expires_one_minute_before_its_expiration(server, venue, api):
    venue.clock = lambda: 1_000_000.9
    body = sign_order(venue, private_key=HARDHAT_KEY, token=T1, side="BUY",
                      maker_amount=4_000_000, taker_amount=10_000_000, owner=api.key,
                      order_type="GTD", expiration=1_000_061)
    out = server.request("POST", "/order", api, body=body).json()
    assert out["status"] == "live"
    wait_for(lambda: venue.orders[out["orderID"]].status == "CANCELED")


def test_api_key_list_and_delete(server, venue, api):
    assert server.request("GET", "/auth/api-keys", api).json() == {"apiKeys": [api.key]}
    assert server.request("DELETE", "/auth/api-key", api).json() == "OK"
    assert server.request("GET", "/auth/api-keys", api).status_code == 401


def test_an_internal_error_is_a_json_500_and_the_server_keeps_serving(server, venue, api):
    def broken(*_):
        raise RuntimeError("boom")
    venue.place = broken
    resp = server.request("POST", "/order", api, body=_limit_body(venue, api))
    assert (resp.status_code, resp.json()) == (500, {"error": "Internal server error"})
    assert "boom" not in resp.text
    assert server.request("GET", "/book", params={"token_id": T1}).status_code == 200
