"""Gamma market records -> Market, and the catalog's lookups against a fake HTTP session."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests

from polycopy.errors import TemporaryError
from polycopy.venue.gamma import fetch_market_by_slug, fetch_market_by_token, fetch_tick_size, parse_market

UP = "7005504798469425412012612933705503190525372485931692359699852318225666004736"
DOWN = "909448278114396783571878505665430662117711139470803521219680339596626167810"


@pytest.fixture
def sample(shared_dir):
    return json.loads((shared_dir / "polymarket" / "gamma_market.json").read_text(), parse_float=Decimal)


def test_parse_sample_market(sample):
    f = parse_market(sample)
    assert f.condition_id == "0xa69236dfc8e65e15eed3a876b606aa8169e44e63f693750b9d1e83756e175150"
    assert f.token_ids == (UP, DOWN)
    assert f.outcomes == ("Up", "Down")
    assert f.end_ts == 1787102100 + 900  # endDate 2026-08-19T01:30:00Z = window start + 900
    assert f.tick_size == Decimal("0.01") and isinstance(f.tick_size, Decimal)
    assert f.min_order_size == Decimal("5")
    assert (f.neg_risk, f.version, f.slug, f.accepting_orders) == (False, "v1", "btc-updown-15m-1787102100", True)


def test_v2_market_uses_position_ids(sample):
    m = {**sample, "version": "v2", "positionIds": ["11", "22"], "clobTokenIds": "[\"1\", \"2\"]"}
    assert parse_market(m).token_ids == ("11", "22")
    assert parse_market(m).version == "v2"


def test_closed_market_is_not_accepting_orders(sample):
    assert parse_market({**sample, "closed": True}).accepting_orders is False
    assert parse_market({**sample, "acceptingOrders": False}).accepting_orders is False


def test_market_without_tokens_is_an_error(sample):
    with pytest.raises(ValueError):
        parse_market({**sample, "clobTokenIds": "[]"})


class FakeResponse:
    def __init__(self, status: int, body, headers=None):
        self.status_code, self.headers = status, headers or {}
        self.text = body if isinstance(body, str) else json.dumps(body, default=str)


class FakeSession:
    """Answers by (path, first query item); records every call."""

    def __init__(self, routes: dict):
        self.routes, self.calls = routes, []

    def get(self, url, params=None, timeout=None):
        path = "/" + url.split("/", 3)[3]
        key = (path, next(iter(params.items())) if params else None)
        self.calls.append((key, timeout))
        answer = self.routes.get(key, FakeResponse(200, []))
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_fetch_by_token_falls_back_to_position_ids(sample):
    v2 = {**sample, "version": "v2", "positionIds": ["77", "88"]}
    s = FakeSession({("/markets", ("position_ids", "88")): FakeResponse(200, [v2])})
    f = fetch_market_by_token(s, "http://g", "88", timeout_s=1.5)
    assert f.token_ids == ("77", "88")
    assert [k for k, _ in s.calls] == [("/markets", ("clob_token_ids", "88")), ("/markets", ("position_ids", "88"))]
    assert all(t == 1.5 for _, t in s.calls)


def test_fetch_by_token_unknown_is_none():
    assert fetch_market_by_token(FakeSession({}), "http://g", "1") is None


def test_fetch_by_token_retryable_errors():
    s = FakeSession({("/markets", ("clob_token_ids", "1")): FakeResponse(429, {"error": "slow"}, {"Retry-After": "3"})})
    with pytest.raises(TemporaryError) as e:
        fetch_market_by_token(s, "http://g", "1")
    assert e.value.retry_after_s == 3.0
    s = FakeSession({("/markets", ("clob_token_ids", "1")): requests.ConnectTimeout("boom")})
    with pytest.raises(TemporaryError):
        fetch_market_by_token(s, "http://g", "1")
    s = FakeSession({("/markets", ("clob_token_ids", "1")): FakeResponse(200, "<html>")})
    with pytest.raises(TemporaryError):
        fetch_market_by_token(s, "http://g", "1")


def test_fetch_by_slug_uses_events_when_markets_is_empty(sample):
    slug = sample["slug"]
    event = {"slug": slug, "markets": [{**sample, "slug": "other"}, sample]}
    s = FakeSession({("/events", ("slug", slug)): FakeResponse(200, [event])})
    f = fetch_market_by_slug(s, "http://g", slug)
    assert f.slug == slug and f.token_ids == (UP, DOWN)
    assert fetch_market_by_slug(FakeSession({}), "http://g", "nope-updown-15m-900") is None


def test_tick_size():
    s = FakeSession({("/tick-size", ("token_id", "5")): FakeResponse(200, '{"minimum_tick_size": 0.001}')})
    assert fetch_tick_size(s, "http://c", "5") == Decimal("0.001")
    s = FakeSession({("/tick-size", ("token_id", "5")): FakeResponse(404, {"error": "No orderbook"})})
    assert fetch_tick_size(s, "http://c", "5") is None
    s = FakeSession({("/tick-size", ("token_id", "5")): FakeResponse(200, '{"minimum_tick_size": 5}')})
    with pytest.raises(TemporaryError):
        fetch_tick_size(s, "http://c", "5")
