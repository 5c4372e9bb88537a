import json
from decimal import Decimal as D
from pathlib import Path

from polycopy.venue.book_cache import STALE_S, BookCache
from polycopy.venue.orders import Level
from tests.conftest import POLYMARKET

EVENTS = json.loads((POLYMARKET / "clob_ws_market_events.json").read_text())


class Clock:
    t = 100.0

    def __call__(self):
        return self.t


def _cache():
    clock = Clock()
    cache = BookCache(clock=clock)
    cache.set_connected(True)
    cache.apply({"event_type": "book", "asset_id": "A", "tick_size": "0.01", "min_order_size": "5",
                 "bids": [{"price": "0.01", "size": "100"}, {"price": "0.48", "size": "10"}],
                 "asks": [{"price": "0.99", "size": "100"}, {"price": "0.52", "size": "4"}]})
    return cache, clock


def test_snapshot_sorted_best_first():
    cache, _ = _cache()
    book = cache.get("A")
    assert book.asks[0] == Level(D("0.52"), D("4")) and book.bids[0] == Level(D("0.48"), D("10"))
    assert book.tick_size == D("0.01") and book.min_order_size == D("5")
    assert cache.get("B") is None


def test_price_change_sets_totals_and_removes_levels():
    cache, _ = _cache()
    cache.apply({"event_type": "price_change", "market": "m", "price_changes": [
        {"asset_id": "A", "price": "0.51", "size": "7", "side": "SELL"},
        {"asset_id": "A", "price": "0.52", "size": "0", "side": "SELL"},
        {"asset_id": "A", "price": "0.48", "size": "3", "side": "BUY"},
        {"asset_id": "Z", "price": "0.5", "size": "3", "side": "BUY"}]})
    book = cache.get("A")
    assert book.asks[:2] == (Level(D("0.51"), D("7")), Level(D("0.99"), D("100")))
    assert book.bids[0] == Level(D("0.48"), D("3"))
    cache.apply({"event_type": "tick_size_change", "asset_id": "A", "old_tick_size": "0.01", "new_tick_size": "0.001"})
    assert cache.get("A").tick_size == D("0.001")


def test_no_book_when_disconnected_or_silent():
    cache, clock = _cache()
    clock.t += STALE_S + 1
    assert cache.get("A") is None  # nothing heard for too long
    cache.touch()
    assert cache.get("A") is not None
    cache.set_connected(False)
    assert cache.get("A") is None
    cache.set_connected(True)
    assert cache.get("A") is None  # a new connection needs a new snapshot


def test_sample_events_apply():
    cache, _ = _cache()
    events = EVENTS if isinstance(EVENTS, list) else [v for v in EVENTS.values() if isinstance(v, (dict, list))]
    for e in events:
        for ev in e if isinstance(e, list) else [e]:
            if isinstance(ev, dict):
                cache.apply(ev)
    assert cache.get("A") is not None


def test_want_collects_tokens():
    cache, _ = _cache()
    cache.want(["1", "2"])
    cache.want(["2", "3"])
    assert cache.wanted_now() == {"1", "2", "3"}
