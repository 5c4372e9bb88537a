"""BookCache fed by the market channel's frames (clients/book_cache.py MarketFeed, wire/clob_ws.py)."""
import json
from decimal import Decimal as D

from polycopy.clients.book_cache import STALE_S, BookCache, MarketFeed
from polycopy.clients.ws import DATA, RESET
from polycopy.venue.orders import Level
from tests.conftest import POLYMARKET

EVENTS = json.loads((POLYMARKET / "clob_ws_market_events.json").read_text())["messages"]
A, B, Z = "111", "222", "999"


class Clock:
    t = 100.0

    def __call__(self):
        return self.t


def frame(*events):
    return json.dumps(list(events))


def _feed():
    clock = Clock()
    cache = BookCache(clock=clock)
    cache.set_connected(True)
    feed = MarketFeed("ws://unused", cache)
    assert feed.on_text(frame({"event_type": "book", "asset_id": A, "tick_size": "0.01", "min_order_size": "5",
                               "bids": [{"price": "0.01", "size": "100"}, {"price": "0.48", "size": "10"}],
                               "asks": [{"price": "0.99", "size": "100"}, {"price": "0.52", "size": "4"}]}), 0) == DATA
    return feed, cache, clock


def test_snapshot_sorted_best_first():
    _, cache, _ = _feed()
    book = cache.get(A)
    assert book.asks[0] == Level(D("0.52"), D("4")) and book.bids[0] == Level(D("0.48"), D("10"))
    assert book.tick_size == D("0.01") and book.min_order_size == D("5")
    assert cache.get(B) is None


def test_price_change_sets_totals_and_removes_levels():
    feed, cache, _ = _feed()
    feed.on_text(frame({"event_type": "price_change", "market": "m", "price_changes": [
        {"asset_id": A, "price": "0.51", "size": "7", "side": "SELL"},
        {"asset_id": A, "price": "0.52", "size": "0", "side": "SELL"},
        {"asset_id": A, "price": "0.48", "size": "3", "side": "BUY"},
        {"asset_id": Z, "price": "0.5", "size": "3", "side": "BUY"}]}), 0)
    book = cache.get(A)
    assert book.asks[:2] == (Level(D("0.51"), D("7")), Level(D("0.99"), D("100")))
    assert book.bids[0] == Level(D("0.48"), D("3"))
    feed.on_text(frame({"event_type": "tick_size_change", "asset_id": A, "old_tick_size": "0.01",
                        "new_tick_size": "0.001"}), 0)
    assert cache.get(A).tick_size == D("0.001")


def test_no_book_when_disconnected_or_silent():
    feed, cache, clock = _feed()
    clock.t += STALE_S + 1
    assert cache.get(A) is None  # nothing heard for too long
    assert feed.on_text("PONG", 0) == DATA  # PONG is life
    assert cache.get(A) is not None
    cache.set_connected(False)
    assert cache.get(A) is None
    cache.set_connected(True)
    assert cache.get(A) is None  # a new connection needs a new snapshot


def test_a_malformed_frame_or_event_drops_the_books_and_asks_for_a_new_connection():
    for bad in ("{broken", frame({"event_type": "price_change", "price_changes": [
            {"asset_id": A, "price": "1e999999999", "size": "1", "side": "SELL"}]}),
                frame({"event_type": "book", "asset_id": A, "bids": 5, "asks": []})):
        feed, cache, _ = _feed()
        assert feed.on_text(bad, 0) == RESET
        assert cache.get(A) is None and feed.state.malformed == 1


def test_sample_events_apply():
    feed, cache, _ = _feed()
    for e in EVENTS:
        assert feed.on_text(json.dumps(e), 0) == DATA
    token = EVENTS[0][0]["asset_id"]
    book = cache.get(token)
    assert book is not None and book.asks[0].price == D("0.53")  # the sample's price_change removed the 0.52 ask


def test_want_collects_tokens():
    _, cache, _ = _feed()
    cache.want(["1", "2"])
    cache.want(["2", "3"])
    assert cache.wanted_now() == {"1", "2", "3"}
