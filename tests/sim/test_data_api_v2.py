"""Data API v2: envelope, cursor paging, params, errors, positions' status filters and sizes,
activity, resolutions, and the SDK's own reads against polysim."""
import time
from decimal import Decimal

import pytest
import requests
from polymarket import PublicClient

from polycopy.sim.server import Polysim
from polycopy.sim.venue.sdk_env import polysim_environment
from tests.sim.simkit import (SOURCE, control, fault, fresh, inject, same_shape, sample, sim,  # noqa: F401
                              small_scenario)


@pytest.fixture
def own():
    """A sim of the test's own: resolving a market cannot be undone by /reset."""
    with Polysim(small_scenario()) as running:
        yield running


def get(sim, path, **params):
    return requests.get(sim.endpoints["data_api"] + path, params=params, timeout=5)


def current_btc(sim):
    return sim.call(sim.catalog.resolve, "btc", time.time())


def test_envelope_shape_cursor_and_trace_id(fresh):
    for size in ("1", "2", "3"):
        inject(fresh, size=size)
    r = get(fresh, "/v2/trades", user=SOURCE, limit=2)
    page = r.json()
    assert len(r.headers["x-trace-id"]) == 32
    assert set(page) == {"data", "pagination"} and page["pagination"]["has_more"] is True
    same_shape(page["data"][0], sample("data_api_v2_trades.json")["data"][0])
    assert [row["size"] for row in page["data"]] == ["3", "2"]
    inject(fresh, size="4")  # arrives between the pages: the next page neither repeats nor skips
    rest = get(fresh, "/v2/trades", user=SOURCE, cursor=page["pagination"]["next_cursor"]).json()
    assert [row["size"] for row in rest["data"]] == ["1"]
    assert rest["pagination"] == {"has_more": False, "next_cursor": None}


@pytest.mark.parametrize("params", [
    {"offset": "0"}, {"cursor": "@@"}, {"limit": "1001"}, {"limit": "0"}, {"side": "HOLD"},
    {"taker_only": "maybe"}, {"filter_type": "CASH"}, {"user": "0x12"},
    {"condition": ",".join("0x%064x" % i for i in range(21))}, {"condition": "0xzz"}])
def test_bad_params_are_400_with_the_v2_error_body(fresh, params):
    r = get(fresh, "/v2/trades", **{"user": SOURCE, **params})
    assert r.status_code == 400, params
    body = r.json()
    assert set(body) == {"error", "code", "retryable", "trace_id"} and body["retryable"] is False
    assert r.headers["x-trace-id"] == body["trace_id"] and "Traceback" not in r.text


def test_a_forged_cursor_is_refused(fresh):
    for size in ("1", "2"):
        inject(fresh, size=size)
    cursor = get(fresh, "/v2/trades", user=SOURCE, limit=1).json()["pagination"]["next_cursor"]
    assert get(fresh, "/v2/trades", user=SOURCE, cursor=cursor).status_code == 200
    assert get(fresh, "/v2/activity", user=SOURCE, cursor=cursor).status_code == 400  # other route
    assert get(fresh, "/v2/trades", user=SOURCE, cursor=cursor[:-2] + "AA").status_code == 400


def test_condition_filter_snake_and_camel_case(fresh):
    inject(fresh)
    cid = current_btc(fresh).market.condition_id
    other = "0x" + "1" * 64
    for params in ({"condition": cid}, {"condition_id": cid}, {"conditionId": f"{other},{cid}"},
                   {"condition": cid.upper().replace("0X", "0x")}):
        assert len(get(fresh, "/v2/trades", user=SOURCE, **params).json()["data"]) == 1, params
    assert get(fresh, "/v2/trades", user=SOURCE, condition=other).json()["data"] == []
    inject(fresh, role="maker", side="SELL")
    assert len(get(fresh, "/v2/trades", user=SOURCE, takerOnly="false").json()["data"]) == 2
    assert len(get(fresh, "/v2/trades", user=SOURCE, taker_only="false").json()["data"]) == 2
    assert len(get(fresh, "/v2/trades", user=SOURCE).json()["data"]) == 1


def test_429_and_503_carry_the_v2_body(fresh):
    fault(fresh, kind="data_api_429", for_s=30)
    r = get(fresh, "/v2/positions", user=SOURCE)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["code"] == "rate_limited" and r.json()["retryable"] is True
    requests.post(fresh.endpoints["control"] + "/reset", timeout=5)
    fault(fresh, kind="data_api_503", for_s=30)
    r = get(fresh, "/v2/trades", user=SOURCE)
    assert r.status_code == 503 and r.json()["code"] == "request_timeout"
    assert r.json()["retryable"] is True


def position(rows, outcome):
    return next(r for r in rows if r["outcome"] == outcome)


def test_positions_current_vs_total_size_and_status_filters(own):
    fresh = own
    info = current_btc(fresh)
    cid = info.market.condition_id
    inject(fresh, size="10", price="0.5")
    inject(fresh, side="SELL", size="4", price="0.6")
    inject(fresh, outcome="Down", size="3", price="0.4")
    rows = get(fresh, "/v2/positions", user=SOURCE, condition=cid).json()["data"]
    up = position(rows, "Up")
    assert (up["current_size"], up["total_size"]) == ("6", "10")  # total = bought, not held
    assert up["status"] == "OPEN" and up["redeemable"] is False and up["mergeable"] is True
    assert Decimal(up["realized_pnl"]) == Decimal("0.4")  # sold 4 at 0.6 bought at 0.5
    mergeable = get(fresh, "/v2/positions", user=SOURCE, status="MERGEABLE").json()["data"]
    assert {r["outcome"] for r in mergeable} == {"Up", "Down"}
    control(fresh, "/resolve", {"market": cid, "winner": "Up"})
    rows = get(fresh, "/v2/positions", user=SOURCE, condition=cid).json()["data"]
    assert {r["status"] for r in rows} == {"REDEEMABLE"} and all(r["redeemable"] for r in rows)
    assert position(rows, "Up")["current_price"] == "1"
    assert position(rows, "Down")["current_value"] == "0.0000"  # a lost position: REDEEMABLE at 0
    lost = get(fresh, "/v2/positions", user=SOURCE, status="REDEEMABLE_LOST").json()["data"]
    assert [r["outcome"] for r in lost] == ["Down"]
    assert get(fresh, "/v2/positions", user=SOURCE, status="OPEN", condition=cid).json()["data"] == []
    assert get(fresh, "/v2/positions", user=SOURCE, status="MERGEABLE").json()["data"] == []
    assert get(fresh, "/v2/positions", status="MERGEABLE", condition=cid).status_code == 400
    assert get(fresh, "/v2/positions", user=SOURCE, status="SOLD").status_code == 400


def test_a_position_sold_out_is_closed(fresh):
    inject(fresh, size="5", price="0.5")
    inject(fresh, side="SELL", size="5", price="0.55")
    assert get(fresh, "/v2/positions", user=SOURCE).json()["data"] == []
    closed = get(fresh, "/v2/positions", user=SOURCE, status="CLOSED").json()["data"]
    assert [(r["current_size"], r["total_size"], r["status"]) for r in closed] == [
        ("0", "5", "CLOSED")]


def test_activity_types_and_sort_direction(fresh):
    for size in ("1", "2"):
        inject(fresh, size=size)
        time.sleep(1.05)  # whole-second timestamps: make their order visible
    rows = get(fresh, "/v2/activity", user=SOURCE, type="TRADE").json()["data"]
    assert [r["size"] for r in rows] == ["2", "1"] and rows[0]["usdc_size"] == "1.06"
    ascending = get(fresh, "/v2/activity", user=SOURCE, sortDirection="ASC").json()["data"]
    assert [r["size"] for r in ascending] == ["1", "2"]
    assert get(fresh, "/v2/activity", user=SOURCE, type="MERGE").json()["data"] == []
    assert get(fresh, "/v2/activity", user=SOURCE, type="BOGUS").status_code == 400
    assert get(fresh, "/v2/activity").status_code == 400


def test_resolutions_and_value(own):
    fresh = own
    info = current_btc(fresh)
    cid = info.market.condition_id
    before = get(fresh, "/v2/resolutions", condition=cid).json()["data"]
    assert [(r["status"], r["payouts"]) for r in before] == [("initialized", None)]
    inject(fresh, size="10", price="0.5")
    control(fresh, "/resolve", {"market": info.market.slug, "winner": "Down"})
    after = get(fresh, "/v2/resolutions", conditionId=cid).json()["data"]
    assert [(r["status"], r["payouts"]) for r in after] == [("resolved", [0, 1_000_000])]
    assert get(fresh, "/v2/resolutions").status_code == 400
    assert get(fresh, "/v2/value", user=SOURCE).json()["data"] == {
        "proxy_wallet": SOURCE, "value": "0.0000"}


def test_the_sdk_reads_polysims_rows(own):
    fresh = own
    info = current_btc(fresh)
    cid = info.market.condition_id
    records = inject(fresh, size="9.615384", price="0.52")
    inject(fresh, outcome="Down", size="2", price="0.47")
    with PublicClient(polysim_environment(fresh.endpoints)) as client:
        trades = list(client.list_trades(user=SOURCE, condition_id=cid).first_page().items)
        assert [(t.side, t.size, t.asset_id) for t in trades][-1] == (
            "BUY", Decimal("9.615384"), info.market.tokens[0])
        assert trades[-1].transaction_hash == records[0]["tx_hash"]
        positions = list(client.list_positions(user=SOURCE).first_page().items)
        assert sorted((p.outcome, p.current_size, p.status) for p in positions) == [
            ("Down", Decimal("2"), "OPEN"), ("Up", Decimal("9.615384"), "OPEN")]
        activity = list(client.list_activity(user=SOURCE).first_page().items)
        assert {type(a).__name__ for a in activity} == {"TradeActivity"}
        control(fresh, "/resolve", {"market": cid, "winner": "Up"})
        [resolution] = client.get_resolutions(condition_ids=[cid])
        assert resolution.payouts == (Decimal(1), Decimal(0))
        lost = list(client.list_positions(user=SOURCE, status="REDEEMABLE_LOST").first_page().items)
        assert [(p.outcome, p.redeemable) for p in lost] == [("Down", True)]
        paged = client.list_trades(user=SOURCE, page_size=1)
        assert len(list(paged.first_page().items)) == 1
