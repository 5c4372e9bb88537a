"""Data API v1 (retired: 410 unless served for old recordings): shapes, takerOnly, lag, 429, bad
params, positions, activity, own trades. v2 is in test_data_api_v2.py."""
import json
import time
from decimal import Decimal

import pytest
import requests

from polycopy.sim.server import Polysim
from tests.sim.simkit import (OURS, SOURCE, fault, inject, same_shape, sample, serve_legacy,
                              sim, small_scenario, wait_for)
from tests.sim.venue.helpers import HARDHAT_KEY, l2_headers, sign_order



LEGACY = {"data_api_v1": True}


def get(sim, path, **params):
    return requests.get(sim.endpoints["data_api"] + path, params=params, timeout=5)


@pytest.fixture
def fresh(sim):
    """The module's sim, reset, with the v1 routes served again."""
    requests.post(sim.endpoints["control"] + "/reset", timeout=5).raise_for_status()
    serve_legacy(sim, **LEGACY)
    return sim


def test_v1_routes_are_gone_by_default(sim):
    requests.post(sim.endpoints["control"] + "/reset", timeout=5).raise_for_status()
    for path in ("/trades", "/activity", "/positions"):
        r = get(sim, path, user=SOURCE)
        assert r.status_code == 410 and "v2" in r.json()["error"], path
    assert get(sim, "/v2/trades", user=SOURCE).status_code == 200
    serve_legacy(sim, data_api_v1=True)
    assert get(sim, "/trades", user=SOURCE).status_code == 200
    requests.post(sim.endpoints["control"] + "/reset", timeout=5).raise_for_status()
    assert get(sim, "/trades", user=SOURCE).status_code == 410


def test_trades_shape_taker_only_and_order(fresh):
    first = inject(fresh, size="9.615384", price="0.52")
    inject(fresh, role="maker", side="SELL", outcome="Down", size="25", price="0.47")
    r = get(fresh, "/trades", user=SOURCE, _="123")  # cache-buster ignored
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 1  # takerOnly defaults to true
    real = sample("data_api_trades.json")
    same_shape(rows[0], real[0])
    assert rows[0]["proxyWallet"] == SOURCE  # lowercase on the Data API
    assert rows[0]["size"] == 9.615384 and rows[0]["transactionHash"] == first[0]["tx_hash"]
    both = get(fresh, "/trades", user=SOURCE, takerOnly="false").json()
    assert [r["side"] for r in both] == ["SELL", "BUY"]  # newest first
    for row in both:
        same_shape(row, real[0])
    cid = rows[0]["conditionId"]
    assert get(fresh, "/trades", user=SOURCE, market=cid, takerOnly="false").json()
    assert get(fresh, "/trades", user=SOURCE, market="0x" + "0" * 64).json() == []
    assert len(get(fresh, "/trades", user=SOURCE, takerOnly="false", limit=1,
                   offset=1).json()) == 1
    assert get(fresh, "/trades", user=SOURCE, filterType="CASH", filterAmount="6").json() == []


@pytest.mark.parametrize("params", [
    {"offset": "10001"}, {"limit": "abc"}, {"takerOnly": "maybe"}, {"filterType": "CASH"},
    {"filterType": "KG", "filterAmount": "1"}, {"side": "HOLD"}])
def test_bad_params_are_400_json(fresh, params):
    r = get(fresh, "/trades", user=SOURCE, **params)
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("application/json")
    assert set(r.json()) == {"error"} and "Traceback" not in r.text


def test_missing_user_and_unknown_route(fresh):
    assert get(fresh, "/positions").status_code == 400
    assert get(fresh, "/activity").json() == {"error": "user is required"}
    r = get(fresh, "/nope")
    assert r.status_code == 404 and "error" in r.json()


def test_lag_hides_fresh_fills(fresh):
    fault(fresh, kind="data_api_lag_ms", value=1500)
    inject(fresh)
    assert get(fresh, "/trades", user=SOURCE).json() == []
    rows = wait_for(lambda: get(fresh, "/trades", user=SOURCE).json(), 5)
    assert len(rows) == 1


def test_rate_limit_429_with_retry_after(fresh):
    fault(fresh, kind="data_api_429", for_s=30)
    r = get(fresh, "/trades", user=SOURCE)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "error" in r.json()
    requests.post(fresh.endpoints["control"] + "/reset", timeout=5)
    serve_legacy(fresh, **LEGACY)
    assert get(fresh, "/trades", user=SOURCE).status_code == 200


def test_positions_from_source_fills(fresh):
    inject(fresh, size="10", price="0.5")
    inject(fresh, size="6", price="0.6")
    inject(fresh, outcome="Down", size="0.5", price="0.4")  # under sizeThreshold 1
    rows = get(fresh, "/positions", user=SOURCE).json()
    assert len(rows) == 1
    same_shape(rows[0], sample("data_api_positions.json")[0])
    assert Decimal(str(rows[0]["size"])) == 16
    assert Decimal(str(rows[0]["avgPrice"])) == Decimal("0.5375")
    assert rows[0]["oppositeOutcome"] == "Down" and rows[0]["mergeable"] is True
    assert len(get(fresh, "/positions", user=SOURCE, sizeThreshold="0").json()) == 2


def test_activity_lists_trades_and_merges():
    scenario = small_scenario(activity=[{"at_s": 0, "type": "MERGE", "market": "btc",
                                         "size": "3"}], legacy=LEGACY)
    with Polysim(scenario) as sim:
        inject(sim)
        rows = wait_for(lambda: len(r := get(sim, "/activity", user=SOURCE).json()) == 2 and r)
        assert {r["type"] for r in rows} == {"TRADE", "MERGE"}
        merge = get(sim, "/activity", user=SOURCE, type="MERGE").json()
        assert len(merge) == 1 and merge[0]["size"] == 3
        assert set(merge[0]) == set(rows[0])
        assert get(sim, "/activity", user=SOURCE, type="BOGUS").status_code == 400


def test_own_venue_fill_shows_on_trades_and_positions(fresh):
    token = fresh.call(fresh.catalog.resolve, "btc", time.time()).market.tokens[0]
    source = inject(fresh, token=token, market=None, outcome=None)[0]
    api = fresh.call(fresh.venue.keys.derive, OURS, 0)
    body = sign_order(fresh.venue, private_key=HARDHAT_KEY, token=token, side="BUY",
                      maker_amount=5_100_000, taker_amount=10_000_000, owner=api.key)
    text = json.dumps(body)
    r = requests.post(fresh.endpoints["clob"] + "/order", data=text, timeout=5,
                      headers=l2_headers(api, "POST", "/order", text))
    assert r.status_code == 200 and r.json()["status"] == "matched", r.text
    rows = wait_for(lambda: get(fresh, "/trades", user=OURS.lower()).json())
    assert rows[0]["asset"] == token and rows[0]["side"] == "BUY" and rows[0]["size"] == 10
    positions = get(fresh, "/positions", user=OURS).json()
    assert [(p["asset"], p["size"]) for p in positions] == [(token, 10)]
    assert Decimal(str(positions[0]["avgPrice"])) == Decimal("0.51")
    delays = requests.get(fresh.endpoints["control"] + "/delays", timeout=5).json()
    assert [(d["fill_key"], d["order_id"]) for d in delays] == [
        (source["fill_key"], r.json()["orderID"])]
    assert delays[0]["delay_ms"] > 0


def test_cache_returns_the_same_body_until_busted():
    with Polysim(small_scenario(feeds={"data_api_cache_s": 60}, legacy=LEGACY)) as sim:
        assert get(sim, "/trades", user=SOURCE).json() == []
        inject(sim)
        cached = get(sim, "/trades", user=SOURCE)
        assert cached.json() == [] and cached.headers["Cache-Control"] == "public, max-age=60"
        assert len(get(sim, "/trades", user=SOURCE, _="1").json()) == 1
