"""Gamma market objects (wire/gamma.py) and the catalog's lookups (clients/gamma.py, to Market)
against a loopback Gamma that serves `/markets/keyset` and `/markets/slug/{slug}` only."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from polycopy.clients.gamma import MarketsApi
from polycopy.errors import Malformed, TemporaryError
from polycopy.wire.gamma import parse_keyset, parse_market
from tests.unit.loopback import Loopback

UP = "7005504798469425412012612933705503190525372485931692359699852318225666004736"
DOWN = "909448278114396783571878505665430662117711139470803521219680339596626167810"


@pytest.fixture
def sample(shared_dir):
    return json.loads((shared_dir / "polymarket" / "gamma_market.json").read_text(), parse_float=Decimal)


def test_parse_sample_market(sample):
    m = parse_market(sample)
    assert m.condition_id == "0xa69236dfc8e65e15eed3a876b606aa8169e44e63f693750b9d1e83756e175150"
    assert m.token_ids == (UP, DOWN)
    assert m.outcomes == ("Up", "Down")
    assert m.end_ts == 1787102100 + 900  # endDate 2026-08-19T01:30:00Z = window start + 900
    assert m.tick_size == Decimal("0.01") and isinstance(m.tick_size, Decimal)
    assert m.min_order_size == Decimal("5")
    assert (m.neg_risk, m.version, m.slug, m.accepting_orders) == (False, "v1", "btc-updown-15m-1787102100", True)


def test_v2_market_uses_position_ids_and_a_padded_31_byte_condition(sample):
    m = {**sample, "version": "v2", "positionIds": ["11", "22"], "clobTokenIds": None, "conditionId": "0x01" + "ab" * 30}
    assert parse_market(m).token_ids == ("11", "22")
    assert parse_market(m).version == "v2" and parse_market(m).condition_id == "0x01" + "ab" * 30 + "00"


def test_closed_market_is_not_accepting_orders(sample):
    assert parse_market({**sample, "closed": True}).accepting_orders is False
    assert parse_market({**sample, "acceptingOrders": False}).accepting_orders is False


@pytest.mark.parametrize("change,kind", [
    ({"clobTokenIds": "[]"}, "clobTokenIds"), ({"clobTokenIds": "[1.5]"}, "clobTokenIds"),
    ({"version": "v9"}, "version"), ({"orderPriceMinTickSize": "1e999999999"}, "orderPriceMinTickSize"),
    ({"endDate": "tomorrow"}, "endDate"), ({"conditionId": 5}, "conditionId"), ({"negRisk": "yes"}, "negRisk"),
    ({"outcomes": '["Up", '}, "json"),
])
def test_a_malformed_market_names_the_key(sample, change, kind):
    with pytest.raises(Malformed) as e:
        parse_market({**sample, **change})
    assert e.value.kind == kind


def test_a_keyset_page_keeps_good_markets_beside_a_bad_one(sample):
    page = parse_keyset(json.dumps({"markets": [sample, {**sample, "clobTokenIds": None}], "next_cursor": "n"},
                                   default=str))
    assert [m.slug for m in page.markets] == [sample["slug"]] and len(page.bad) == 1 and page.next_cursor == "n"


class Gamma(Loopback):
    """Keyset filtered by one id, the slug route, the CLOB's /tick-size; the list routes are gone (410)."""

    def __init__(self, markets, ticks=None):
        self.markets, self.ticks, self.fail = markets, ticks or {}, []

        def answer(path, q):
            if self.fail:
                return self.fail.pop(0)
            if path == "/markets/keyset":
                (key, value), = [(k, v) for k, v in q.items() if k != "limit"]
                field = {"clob_token_ids": "clobTokenIds", "position_ids": "positionIds", "condition_ids": "conditionId"}[key]
                hit = [m for m in self.markets if value in str(m.get(field))]
                return 200, json.dumps({"markets": hit}, default=str), {}
            if path.startswith("/markets/slug/"):
                hit = [m for m in self.markets if m["slug"] == path.rsplit("/", 1)[1]]
                return (200, json.dumps(hit[0], default=str), {}) if hit else (404, {"error": "not found"}, {})
            if path == "/tick-size":
                tick = self.ticks.get(q["token_id"])
                return (200, {"minimum_tick_size": tick}, {}) if tick is not None else (404, {"error": "No orderbook"}, {})
            return 410, {"error": "gone"}, {}

        super().__init__(answer)


def test_by_token_tries_clob_token_ids_then_position_ids(sample):
    v2 = {**sample, "version": "v2", "positionIds": ["77", "88"], "clobTokenIds": None, "slug": "v2-market"}
    with Gamma([sample, v2]) as g:
        api = MarketsApi(g.url, g.url, timeout_s=1.5)
        assert api.market_by_token(UP).token_ids == (UP, DOWN)
        assert api.market_by_token("88").token_ids == ("77", "88")
        assert api.market_by_token("999") is None
        assert [(p, tuple(k for k in q if k != "limit")) for p, q in g.requests] == [
            ("/markets/keyset", ("clob_token_ids",)), ("/markets/keyset", ("clob_token_ids",)),
            ("/markets/keyset", ("position_ids",)), ("/markets/keyset", ("clob_token_ids",)),
            ("/markets/keyset", ("position_ids",))]
        assert api.market_by_condition(sample["conditionId"]).slug == sample["slug"]
        api.close()


def test_by_slug_through_the_single_market_route(sample):
    with Gamma([{**sample, "closed": True}]) as g:
        api = MarketsApi(g.url, g.url)
        f = api.market_by_slug(sample["slug"])
        assert f.slug == sample["slug"] and f.token_ids == (UP, DOWN) and not f.accepting_orders
        assert api.market_by_slug("nope-updown-15m-900") is None
        assert [p for p, _ in g.requests] == [f"/markets/slug/{sample['slug']}", "/markets/slug/nope-updown-15m-900"]


def test_retryable_and_unreadable_answers_are_temporary(sample):
    with Gamma([sample]) as g:
        api = MarketsApi(g.url, g.url)
        g.fail = [(429, {"error": "slow"}, {"Retry-After": "3"})]
        with pytest.raises(TemporaryError) as e:
            api.market_by_token(UP)
        assert e.value.retry_after_s == 3.0
        g.fail = [(200, "<html>", {})]
        with pytest.raises(TemporaryError):
            api.market_by_token(UP)
        g.fail = [(200, json.dumps({**sample, "endDate": "soon"}, default=str), {})]
        with pytest.raises(TemporaryError, match="malformed"):
            api.market_by_slug(sample["slug"])


def test_tick_size():
    with Gamma([], ticks={"5": 0.001, "6": 5}) as g:
        api = MarketsApi(g.url, g.url)
        assert api.tick_size("5") == Decimal("0.001")
        assert api.tick_size("7") is None  # 404: no such book
        with pytest.raises(TemporaryError):
            api.tick_size("6")  # no market has a tick of 5
