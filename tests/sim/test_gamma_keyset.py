"""Gamma `/markets/keyset`: filters, limit, cursor, resolution fields, and the SDK's lookups."""
import json
import time

import pytest
import requests
from polymarket import PublicClient

from polycopy.sim.server import Polysim
from polycopy.sim.venue.sdk_env import polysim_environment
from tests.sim.simkit import control, same_shape, sample, sim, small_scenario  # noqa: F401


def keyset(sim, params=None):
    return requests.get(sim.endpoints["gamma"] + "/markets/keyset", params=params, timeout=5)


def current_btc(sim):
    return sim.call(sim.catalog.resolve, "btc", time.time())


def test_filters_find_one_market_each(sim):
    info = current_btc(sim)
    m = info.market
    rain = sim.catalog.by_slug["will-it-rain"].market
    for params in ({"condition_ids": m.condition_id}, {"clob_token_ids": m.tokens[1]},
                   {"slug": m.slug}, {"id": info.gamma_id},
                   [("condition_ids", m.condition_id), ("condition_ids", "0x" + "1" * 64)],
                   {"condition_ids": f"{m.condition_id},{'0x' + '2' * 64}"}):
        body = keyset(sim, params).json()
        assert [x["slug"] for x in body["markets"]] == [m.slug], params
        assert "next_cursor" not in body
    [row] = keyset(sim, {"slug": m.slug}).json()["markets"]
    same_shape(row, sample("gamma_market.json"))
    assert row["version"] == "v1" and row["negRisk"] is False
    assert json.loads(row["clobTokenIds"]) == m.tokens
    assert [x["slug"] for x in keyset(sim, {"position_ids": rain.tokens[0]}).json()["markets"]] == [
        "will-it-rain"]
    assert keyset(sim, {"position_ids": m.tokens[0]}).json()["markets"] == []  # v1: no positionIds
    v2 = keyset(sim, {"version": "v2"}).json()["markets"]
    assert [x["slug"] for x in v2] == ["will-it-rain"] and v2[0]["resolutionStatus"] == "inactive"
    assert all(x["version"] == "v1" for x in keyset(sim, {"version": "v1"}).json()["markets"])


def test_limit_cursor_and_errors(sim):
    everything = keyset(sim, {"limit": 100}).json()["markets"]
    assert len(everything) >= 4
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"after_cursor": cursor} if cursor else {})}
        body = keyset(sim, params).json()
        seen += [x["id"] for x in body["markets"]]
        cursor = body.get("next_cursor")
        if cursor is None:
            break
    assert seen == [x["id"] for x in everything]
    for params in ({"limit": 101}, {"limit": 0}, {"after_cursor": "!!"}, {"version": "v3"},
                   {"closed": "perhaps"}, {"resolution_status": "done"}):
        r = keyset(sim, params)
        assert r.status_code == 400 and "error" in r.json(), params


def test_closed_and_resolution_fields():
    with Polysim(small_scenario(resolution={"winners": {"will-it-rain": "No"}})) as sim:
        info = current_btc(sim)
        before = keyset(sim, {"slug": info.market.slug, "closed": "false"}).json()["markets"]
        assert before[0]["umaResolutionStatus"] == "" and before[0]["acceptingOrders"] is True
        control(sim, "/resolve", {"market": info.market.slug, "winner": "Down"})
        assert keyset(sim, {"slug": info.market.slug, "closed": "false"}).json()["markets"] == []
        [row] = keyset(sim, {"condition_ids": info.market.condition_id, "closed": "true"}).json()[
            "markets"]
        assert row["closed"] is True and row["acceptingOrders"] is False
        assert json.loads(row["outcomePrices"]) == ["0", "1"]
        assert row["umaResolutionStatus"] == "resolved" and "closedTime" in row
        control(sim, "/resolve", {"market": "will-it-rain"})  # the scenario's winner
        [rain] = keyset(sim, {"slug": "will-it-rain"}).json()["markets"]
        assert rain["resolutionStatus"] == "resolved"
        assert json.loads(rain["outcomePrices"]) == ["0", "1"]
        resolved = keyset(sim, {"resolution_status": "resolved"}).json()["markets"]
        assert {x["slug"] for x in resolved} >= {info.market.slug, "will-it-rain"}


def test_the_sdk_looks_markets_up_by_keyset(sim):
    info = current_btc(sim)
    m = info.market
    with PublicClient(polysim_environment(sim.endpoints)) as client:
        [found] = client.list_markets(condition_ids=[m.condition_id], page_size=1).first_page().items
        assert found.id == info.gamma_id and found.version == "v1"
        assert (found.outcomes.yes.token_id, found.outcomes.no.token_id) == tuple(m.tokens)
        assert found.state.neg_risk is False and found.state.closed is False
        [by_token] = client.list_markets(clob_token_ids=[m.tokens[1]]).first_page().items
        assert by_token.slug == m.slug
        [rain] = client.list_markets(slug=["will-it-rain"]).first_page().items
        assert rain.version == "v2" and rain.outcomes.yes.position_id is not None
        pages = client.list_markets(page_size=2)
        first = pages.first_page()
        assert len(first.items) == 2 and first.has_more
        assert client.get_market(slug=m.slug).id == info.gamma_id


@pytest.mark.parametrize("status", ["active", "inactive"])
def test_resolution_status_filter_before_resolution(sim, status):
    rows = keyset(sim, {"resolution_status": status, "version": "v2"}).json()["markets"]
    assert [x["slug"] for x in rows] == (["will-it-rain"] if status == "inactive" else [])
