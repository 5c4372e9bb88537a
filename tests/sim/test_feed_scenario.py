"""Scenario loading and validation, burst planning, the market catalog's slug rule."""
import random
from decimal import Decimal

import pytest

from polycopy.sim import scenario as sc
from polycopy.sim.markets import Catalog, window_title
from polycopy.sim.plan import plan_once


def test_default_scenario_looks_like_the_source():
    s = sc.load()
    assert s.source.wallet == sc.DEFAULT_SOURCE_WALLET
    assert {x.asset for x in s.series} == {"btc", "eth", "sol", "xrp"}
    txs = plan_once(s, random.Random(s.seed))
    fills = [f for _, tx in txs for f in tx]
    assert len(fills) > 50
    assert {f.side for f in fills} == {"BUY", "SELL"}
    assert {f.role for f in fills} == {"taker", "maker"}
    assert any(f.repeat > 1 for f in fills) and any(len(tx) > 1 for _, tx in txs)
    assert sum(f.side == "BUY" for f in fills) > 0.8 * len(fills)


def test_burst_clusters_are_400_to_500_ms_apart():
    s = sc.parse({"series": [{"asset": "btc", "title": "Bitcoin"}], "bursts": [
        {"at_s": 1, "market": "btc", "outcome": "Up", "clusters": 5,
         "fills_per_cluster": [1, 1]}]})
    times = [t for t, _ in plan_once(s, random.Random(1))]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) == 5 and all(0.4 <= g <= 0.5 for g in gaps)
    again = [t for t, _ in plan_once(s, random.Random(1))]
    assert again == times  # seeded: the same every time


def test_explicit_fills_share_a_transaction_by_label():
    s = sc.parse({"markets": [{"slug": "m"}], "fills": [
        {"at_s": 2, "market": "m", "outcome": "Yes", "price": "0.5", "size": "5", "tx": "a"},
        {"at_s": 2, "market": "m", "outcome": "Yes", "price": "0.5", "size": "7", "tx": "a"},
        {"at_s": 1, "market": "m", "outcome": "No", "price": "0.4", "size": "1"}]})
    txs = plan_once(s, random.Random(0), offset=10)
    assert [(t, len(tx)) for t, tx in txs] == [(11, 1), (12, 2)]


@pytest.mark.parametrize("data, where", [
    ({"fils": []}, "fils"),
    ({"bursts": [{"at_s": 0, "market": "btc", "outcome": "Up", "price": ["0.6", "0.5"]}]},
     "bursts.0"),
    ({"fills": [{"at_s": 0, "market": "x", "outcome": "Yes", "price": "1.5", "size": "1"}]},
     "fills.0.price"),
    ({"source": {"wallet": "0x12"}}, "source.wallet"),
    ({"faults": [{"at_s": 1, "kind": "meteor"}]}, "faults.0.kind"),
    ({"fills": [{"at_s": 0, "market": "doge", "outcome": "Up", "price": "0.5", "size": "1"}]},
     "fills.0.market"),
    ({"series": [{"asset": "btc", "title": "B"}], "bursts": [
        {"at_s": 0, "market": "btc+1", "outcome": "Yes"}]}, "bursts.0.outcome"),
])
def test_bad_scenarios_name_the_problem(data, where):
    with pytest.raises(sc.ScenarioError, match=where.replace(".", r"\.")):
        sc.parse(data)


def test_load_reports_bad_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [1, 2\n")
    with pytest.raises(sc.ScenarioError, match="bad.yaml"):
        sc.load(bad)
    bad.write_text("- 1\n")
    with pytest.raises(sc.ScenarioError, match="mapping"):
        sc.load(bad)


def test_series_slug_rule_titles_and_rolling():
    s = sc.parse({"series": [{"asset": "btc", "title": "Bitcoin", "lookback_windows": 0,
                              "lookahead_windows": 1}]})
    cat = Catalog(s, 1777467600 + 10)
    added = cat.ensure_windows(1777467600 + 10)
    assert [i.market.slug for i in added] == ["btc-updown-15m-1777467600",
                                              "btc-updown-15m-1777468500"]
    m = added[0].market
    assert m.end_ts == 1777467600 + 900 and m.outcomes == ["Up", "Down"]
    assert m.question == "Bitcoin Up or Down - April 29, 9:00AM-9:15AM ET"
    assert window_title("Bitcoin", 1787102100).endswith("August 18, 9:15PM-9:30PM ET")
    later = cat.ensure_windows(1777467600 + 900 + 5)
    assert [i.market.slug for i in later] == ["btc-updown-15m-1777469400"]
    info, token = cat.token("btc+1", "Down", 1777467600 + 10)
    assert info.market.slug == "btc-updown-15m-1777468500" and token == info.market.tokens[1]
    with pytest.raises(KeyError):
        cat.resolve("doge", 0)


def test_a_series_of_one_minute_windows_rolls_every_minute():
    s = sc.parse({"series": [{"asset": "eth", "title": "Ethereum", "window_s": 60, "lookback_windows": 0,
                              "lookahead_windows": 1}], "books": [{"market": "eth", "outcome": "Up",
                                                                   "bids": [{"price": "0.3", "size": "5"}]}]})
    cat = Catalog(s, 1777467600 + 10)
    added = cat.ensure_windows(1777467600 + 10)
    assert [i.market.slug for i in added] == ["eth-updown-1m-1777467600", "eth-updown-1m-1777467660"]
    assert added[0].market.end_ts == 1777467660 and added[0].market.question.endswith("9:00AM-9:01AM ET")
    assert [i.market.slug for i in cat.ensure_windows(1777467600 + 61)] == ["eth-updown-1m-1777467720"]
    assert cat.resolve("eth+1", 1777467600 + 10).market.slug == "eth-updown-1m-1777467660"
    (_, bids, _), _ = list(cat.books_for(added[0], s.books))  # a series book override still applies
    assert bids == [(Decimal("0.3"), Decimal("5"))]
    assert cat.shortest_window_s() == 60
    with pytest.raises(sc.ScenarioError, match="window_s"):
        sc.parse({"series": [{"asset": "eth", "title": "Ethereum", "window_s": 90}]})


def test_default_books_respect_tick_and_range():
    s = sc.parse({"series": [{"asset": "btc", "title": "Bitcoin"}],
                  "default_book": {"mid": "0.5", "spread": "0.02", "levels": 3, "size": "10"}})
    cat = Catalog(s, 1777467600)
    info = cat.ensure_windows(1777467600)[0]
    (t0, bids, asks), (t1, bids1, asks1) = list(cat.books_for(info, []))
    assert bids == [(Decimal("0.49"), 10), (Decimal("0.48"), 10), (Decimal("0.47"), 10)]
    assert asks[0] == (Decimal("0.51"), 10)
    assert t0 != t1 and bids1[0][0] == Decimal("0.49")


def test_copy_delay_joins_the_latest_earlier_fill_on_the_token():
    from polycopy.sim.delays import copy_delays

    fills = [{"token_id": "1", "sched_mono_ns": 1_000_000, "fill_key": "a"},
             {"token_id": "1", "sched_mono_ns": 5_000_000, "fill_key": "b"},
             {"token_id": "2", "sched_mono_ns": 2_000_000, "fill_key": "c"}]
    records = [{"method": "POST", "path": "/order", "token_id": "1", "recv_mono_ns": 6_000_000,
                "order_id": "o1", "status": 200},
               {"method": "POST", "path": "/order", "token_id": "1", "recv_mono_ns": 3_000_000},
               {"method": "POST", "path": "/order", "token_id": "2", "recv_mono_ns": 1_000_000},
               {"method": "GET", "path": "/book", "recv_mono_ns": 9_000_000}]
    got = copy_delays(fills, records)
    assert [(d["fill_key"], d["delay_ms"]) for d in got] == [("b", 1.0), ("a", 2.0)]
