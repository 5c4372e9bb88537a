"""Gamma: market shape, the sunset list routes (410 unless served), lookups, v2 positionIds,
events, errors. `/markets/keyset` is in test_gamma_keyset.py."""
import json
import time
from datetime import datetime

import pytest
import requests

from tests.sim.simkit import same_shape, sample, serve_legacy, sim

__all__ = ["sim"]


@pytest.fixture
def lists(sim):
    """The list routes served again, as for an old recording."""
    serve_legacy(sim, gamma_lists=True)
    yield sim
    requests.post(sim.endpoints["control"] + "/reset", timeout=5).raise_for_status()


def test_list_routes_are_sunset_by_default_and_lookups_stay(sim):
    for path in ("/markets", "/events"):
        r = get(sim, path, {"slug": current_btc_slug()})
        assert r.status_code == 410 and "keyset" in r.json()["error"], path
        assert r.headers["sunset"].startswith("Fri, 01 May 2026")
    m = get(sim, f"/markets/slug/{current_btc_slug()}").json()
    assert get(sim, f"/markets/{m['id']}").json()["slug"] == m["slug"]
    assert get(sim, f"/events/{m['events'][0]['id']}").json()["slug"] == m["slug"]
    assert get(sim, f"/events/slug/{m['slug']}").status_code == 200
    serve_legacy(sim, gamma_lists=True)
    try:
        served = get(sim, "/markets", {"slug": current_btc_slug()})
        assert served.status_code == 200 and served.headers["deprecation"] == "true"
        assert served.json()[0]["id"] == m["id"]
    finally:
        serve_legacy(sim, gamma_lists=False)
    assert get(sim, "/markets").status_code == 410


def get(sim, path, params=None):
    return requests.get(sim.endpoints["gamma"] + path, params=params, timeout=5)


def current_btc_slug() -> str:
    return f"btc-updown-15m-{int(time.time()) // 900 * 900}"


def test_updown_market_has_the_sample_shape_and_slug_rule(lists):
    sim, slug = lists, current_btc_slug()
    rows = get(sim, "/markets", {"slug": slug}).json()
    assert len(rows) == 1
    m = rows[0]
    real = sample("gamma_market.json")
    same_shape(m, real)
    same_shape(m["events"][0], real["events"][0])
    start = int(slug.rsplit("-", 1)[1])
    assert datetime.fromisoformat(m["endDate"]).timestamp() == start + 900
    assert json.loads(m["outcomes"]) == ["Up", "Down"]
    tokens = json.loads(m["clobTokenIds"])
    assert len(tokens) == 2 and all(t.isdigit() for t in tokens)
    assert [type(p) for p in json.loads(m["outcomePrices"])] == [str, str]
    assert m["version"] == "v1" and "positionIds" not in m
    assert m["closed"] is False and m["acceptingOrders"] is True
    assert "Up or Down" in m["question"] and m["question"].endswith("ET")


def test_filters_by_condition_and_token_and_closed(lists):
    sim = lists
    m = get(sim, "/markets", {"slug": current_btc_slug()}).json()[0]
    token = json.loads(m["clobTokenIds"])[1]
    by_cid = get(sim, "/markets", [("condition_ids", m["conditionId"]),
                                   ("condition_ids", "0x" + "1" * 64)]).json()
    assert [x["slug"] for x in by_cid] == [m["slug"]]
    assert [x["slug"] for x in get(sim, "/markets", {"clob_token_ids": token}).json()] == [
        m["slug"]]
    closed = get(sim, "/markets", {"closed": "true"}).json()
    assert closed and all(x["closed"] for x in closed)  # the previous window
    assert all(not x["closed"] for x in get(sim, "/markets", {"closed": "false"}).json())
    assert get(sim, f"/markets/{m['id']}").json()["slug"] == m["slug"]
    assert get(sim, f"/markets/slug/{m['slug']}").json()["id"] == m["id"]


def test_v2_market_has_position_ids_and_events_resolve(lists):
    sim = lists
    m = get(sim, "/markets/slug/will-it-rain").json()
    assert m["version"] == "v2" and m["positionIds"] == json.loads(m["clobTokenIds"])
    events = get(sim, "/events", {"slug": "will-it-rain"}).json()
    assert len(events) == 1 and events[0]["markets"][0]["slug"] == "will-it-rain"
    assert get(sim, "/events/slug/will-it-rain").json()["slug"] == "will-it-rain"


def test_errors_are_json(lists):
    sim = lists
    for path, params in (("/markets/slug/nope", None), ("/markets/999", None),
                         ("/events/slug/nope", None)):
        r = get(sim, path, params)
        assert r.status_code == 404 and "error" in r.json()
    r = get(sim, "/markets", {"closed": "perhaps"})
    assert r.status_code == 400 and "error" in r.json()
    assert get(sim, "/markets", {"whatever": "1", "limit": "2"}).status_code == 200


def test_an_unexpected_error_is_a_json_500_without_trace():
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from polycopy.sim.httputil import app_with_errors

    async def boom(_request):
        raise RuntimeError("secret detail")

    async def run():
        app = app_with_errors()
        app.router.add_get("/boom", boom)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            r = await client.get("/boom")
            return r.status, await r.text(), (await client.get("/missing")).status

    status, text, missing = asyncio.run(run())
    assert status == 500 and json.loads(text) == {"error": "internal server error"}
    assert "secret" not in text and "Traceback" not in text and missing == 404
