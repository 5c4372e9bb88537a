"""Data API rows, the client's error mapping, and the high-watermark poller (venue/data_api.py)."""
import time
from decimal import Decimal
from email.utils import formatdate
from pathlib import Path

import pytest
import requests

from polycopy.errors import RejectedError, TemporaryError
from polycopy.venue.data_api import DataApiClient, TradesPoller, parse_trades, retry_after_s
from tests.conftest import POLYMARKET

SHARED = POLYMARKET
WALLET = "0x6031b6eed1c97e853c6e0f03ad3ce3529351f96d"


def test_v1_and_v2_samples_parse_to_the_same_fill():
    v1 = parse_trades((SHARED / "data_api_trades.json").read_text())
    v2 = parse_trades((SHARED / "data_api_v2_trades.json").read_text())
    assert v1[0]["size"] == Decimal("9.615384")  # parse_float=Decimal: no float rounding
    p = TradesPoller(WALLET, page_limit=100, lookback_s=60, start_floor_s=0)
    [a] = p._new_fills([(v1[0], 1)], floor=0)
    p2 = TradesPoller(WALLET, page_limit=100, lookback_s=60, start_floor_s=0)
    [b] = p2._new_fills([(v2[0], 1)], floor=0)
    assert a.key == b.key and a.price == b.price == Decimal("0.52") and a.size == b.size
    assert a.feed == "backstop" and a.source_ts_ms == 1787102293000 and a.envelope_ts_ms == 0


@pytest.mark.parametrize("text", ['{"error": "x"}', "<html>", "42"])
def test_bad_bodies_are_rejected(text):
    with pytest.raises(ValueError):
        parse_trades(text)


def test_retry_after():
    assert retry_after_s("7") == 7.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None
    assert 25 <= retry_after_s(formatdate(time.time() + 30, usegmt=True)) <= 31


# ---------------------------------------------------------------- client with a fake session


class FakeResponse:
    def __init__(self, status, text="[]", headers=None):
        self.status_code, self.text, self.headers = status, text, headers or {}


class FakeSession:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.calls = []

    def get(self, url, params=None, timeout=None):
        self.calls.append((url, dict(params), timeout))
        r = self.responses.pop(0)
        if isinstance(r, Exception):
            raise r
        return r

    def close(self):
        pass


def test_client_sends_cache_buster_and_maps_errors():
    s = FakeSession(FakeResponse(200, "[]"), FakeResponse(200, "[]"), FakeResponse(429, headers={"Retry-After": "3"}),
                    FakeResponse(503), FakeResponse(400), requests.Timeout(), FakeResponse(200, "<html>"))
    c = DataApiClient("http://127.0.0.1:1/", timeout_s=2.0, session=s)
    deadline = time.monotonic() + 10
    assert c.trades(WALLET, 50, 0, deadline)[0] == []
    c.trades(WALLET, 50, 0, deadline)
    (url, p1, timeout), (_, p2, _) = s.calls
    assert url == "http://127.0.0.1:1/trades" and p1["takerOnly"] == "false" and p1["user"] == WALLET
    assert p1["limit"] == 50 and p1["offset"] == 0 and 0 < timeout <= 2.0
    assert p1["_"] != p2["_"]  # a new URL each time: the CDN caches by URL
    with pytest.raises(TemporaryError) as e:
        c.trades(WALLET, 50, 0, deadline)
    assert e.value.retry_after_s == 3.0
    with pytest.raises(TemporaryError):
        c.trades(WALLET, 50, 0, deadline)
    with pytest.raises(RejectedError):
        c.trades(WALLET, 50, 0, deadline)
    with pytest.raises(TemporaryError):
        c.trades(WALLET, 50, 0, deadline)
    with pytest.raises(TemporaryError):
        c.trades(WALLET, 50, 0, deadline)


def test_client_never_waits_past_the_deadline():
    s = FakeSession(FakeResponse(200))
    c = DataApiClient("http://x", timeout_s=5.0, session=s)
    with pytest.raises(TemporaryError):
        c.trades(WALLET, 10, 0, time.monotonic() - 0.01)
    assert s.calls == []
    c.trades(WALLET, 10, 0, time.monotonic() + 0.5)
    assert s.calls[0][2] <= 0.5


# ---------------------------------------------------------------- poller


def row(tx, ts, size="1", price="0.5", token="11", side="BUY", wallet=WALLET):
    return {"proxyWallet": wallet, "side": side, "asset": token, "conditionId": "0xc0", "size": Decimal(size),
            "price": Decimal(price), "timestamp": ts, "transactionHash": tx, "outcome": "Up", "slug": "s"}


class Feed:
    """A newest-first listing served with limit/offset, like /trades."""

    def __init__(self, rows):
        self.rows = rows
        self.calls = []
        self.on_call = None

    def __call__(self, limit, offset):
        self.calls.append((limit, offset))
        if self.on_call:
            self.on_call(len(self.calls))
        return self.rows[offset: offset + limit], 5


def test_three_identical_fills_in_one_tx_give_three_keys_once():
    feed = Feed([row("0xaa", 100)] * 3)
    p = TradesPoller(WALLET, page_limit=10, lookback_s=60, start_floor_s=0)
    fills = p.poll(feed)
    assert [f.key.rsplit("|", 1)[1] for f in fills] == ["0", "1", "2"]
    assert p.poll(feed) == []  # the next poll lists them again: nothing new


def test_a_tx_listed_partly_then_fully_adds_only_the_missing_fill():
    feed = Feed([row("0xaa", 100)] * 2)
    p = TradesPoller(WALLET, page_limit=10, lookback_s=60, start_floor_s=0)
    assert len(p.poll(feed)) == 2
    feed.rows = [row("0xaa", 100)] * 3
    [f] = p.poll(feed)
    assert f.key.endswith("|2")


def test_pages_down_to_the_floor_and_no_further():
    rows = [row(f"0x{i:04x}", 1000 - i) for i in range(25)]  # newest first
    feed = Feed(rows)
    p = TradesPoller(WALLET, page_limit=10, lookback_s=5, start_floor_s=990)
    fills = p.poll(feed)
    assert {f.source_ts_ms // 1000 for f in fills} == set(range(990, 1001))
    assert feed.calls == [(10, 0), (10, 10), (10, 0)]  # page 2 reached the floor; page 0 re-checked
    feed.calls.clear()
    assert p.poll(feed) == [] and feed.calls == [(10, 0)]  # floor is now newest - 5 = 995


def test_rows_shifting_while_paging_keep_only_the_first_page():
    rows = [row(f"0x{i:04x}", 1000 - i) for i in range(15)]
    feed = Feed(rows)

    def insert_on_second_call(n):
        if n == 2:  # a new fill lands at the top: page 2 now repeats the last row of page 1
            feed.rows = [row("0xnew", 1001)] + feed.rows

    feed.on_call = insert_on_second_call
    p = TradesPoller(WALLET, page_limit=10, lookback_s=60, start_floor_s=0)
    fills = p.poll(feed)
    assert len(fills) == 10 and len({f.key for f in fills}) == 10 and p.unstable == 1
    feed.on_call = None
    fills = p.poll(feed)  # the next poll is stable: the rest, each once
    assert len(fills) == 6 and all(f.key.endswith("|0") for f in fills)


def test_other_wallets_and_bad_rows_are_skipped_and_counted():
    feed = Feed([row("0xaa", 100, wallet="0x" + "1" * 40), {"junk": 1}, row("0xbb", 100, side="?"), row("0xcc", 100)])
    p = TradesPoller(WALLET.upper().replace("0X", "0x"), page_limit=10, lookback_s=60, start_floor_s=0)
    [f] = p.poll(feed)
    assert f.tx_hash == "0xcc" and p.malformed == 2


def test_string_numbers_and_mixed_case_wallet_are_accepted():
    r = row("0xAA", 100)
    r.update(price="0.50", size="3.0", proxyWallet=WALLET.upper().replace("0X", "0x"))
    [f] = TradesPoller(WALLET, 10, 60, 0).poll(Feed([r]))
    assert f.price == Decimal("0.5") and f.size == Decimal(3) and f.key == "0xaa|11|BUY|0.5|3|0"
