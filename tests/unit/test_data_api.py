"""Data API v2: rows and envelopes (wire/data_api.py), the kept-alive client's requests and error
mapping (clients/data_api.py, against a loopback server), and the backstop's poller
(clients/backstop.py)."""
from __future__ import annotations

import decimal
import json
import time
from decimal import Decimal
from email.utils import formatdate

import pytest

from polycopy.clients.backstop import TradesPoller
from polycopy.clients.data_api import DataApi
from polycopy.clients.positions import PositionsClient
from polycopy.errors import Malformed, RejectedError, TemporaryError
from polycopy.wire.data_api import Page, activity_row, parse_error, parse_page, parse_position, trade_row
from polycopy.wire.http import retry_after_s
from polycopy.wire.trade import Trade
from tests.conftest import POLYMARKET
from tests.unit.loopback import Loopback

WALLET = "0x6031b6eed1c97e853c6e0f03ad3ce3529351f96d"
SAMPLE_TS = 1787102293
NOW = 1_796_000_000.0


def test_the_v2_sample_parses_with_exact_decimals():
    page = parse_page((POLYMARKET / "data_api_v2_trades.json").read_text(), trade_row(SAMPLE_TS + 5))
    [t] = page.items
    assert t == Trade(wallet=WALLET, token_id="7005504798469425412012612933705503190525372485931692359699852318225666004736",
                      condition_id="0xa69236dfc8e65e15eed3a876b606aa8169e44e63f693750b9d1e83756e175150", side="BUY",
                      price=Decimal("0.52"), size=Decimal("9.615384"), ts_s=SAMPLE_TS,
                      tx_hash="0x6a1f0c3e9b2d4a5f8e7c6b5a4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c", outcome="Up",
                      slug="btc-updown-15m-1787102100")
    assert page.next_cursor == "<opaque-signed-cursor>" and page.bad == ()


@pytest.mark.parametrize("text", ['{"error": "x"}', "<html>", "42", '{"data": 5}', '{"data": [], "pagination": {}}',
                                  '{"data": [], "pagination": {"has_more": true, "next_cursor": 7}}', "[]"])
def test_bad_envelopes_are_malformed(text):
    with pytest.raises(Malformed):
        parse_page(text, trade_row(NOW))


def test_a_miss_is_an_empty_page_and_has_more_without_a_cursor_ends_paging():
    assert parse_page('{"data": null, "pagination": {"has_more": false, "next_cursor": null}}', trade_row(NOW)).items == ()
    assert parse_page('{"data": [], "pagination": {"has_more": true, "next_cursor": null}}', trade_row(NOW)).next_cursor is None


def test_a_bad_row_among_good_ones_loses_no_good_row():
    good = row("0xaa", int(NOW) - 10)
    rows = [good, {**good, "price": "1e999999999"}, {**good, "timestamp": 10**20}, "junk", {**good, "side": "??"},
            {**good, "transaction_hash": "0xbb"}]
    page = parse_page(json.dumps({"data": rows, "pagination": {"has_more": False, "next_cursor": None}}), trade_row(NOW))
    assert [t.tx_hash for t in page.items] == ["0xaa", "0xbb"]
    assert sorted(e.kind for e in page.bad) == ["price", "row", "side", "timestamp"]


def test_positions_read_current_size_never_total_size():
    p = parse_position({"token_id": "11", "condition_id": "0x" + "ab" * 31, "current_size": "3.5", "total_size": "40",
                        "avg_price": 0.5, "current_price": "0.61", "status": "OPEN", "redeemable": False})
    assert (p.size, p.cur_price, p.avg_price, p.redeemable) == (Decimal("3.5"), Decimal("0.61"), Decimal("0.5"), False)
    assert p.condition_id == "0x" + "ab" * 31 + "00"  # a V2 market's 31-byte id, padded
    assert parse_position({"token_id": "11", "condition_id": "0xc0", "current_size": 0, "status": "REDEEMABLE"}).redeemable
    with pytest.raises(Malformed) as e:
        parse_position({"token_id": "11", "condition_id": "0xc0", "total_size": "40"})
    assert e.value.kind == "current_size"


def test_activity_rows_split_and_merge_in_shares_of_a_full_set():
    parse = activity_row(NOW)
    split = parse({"type": "SPLIT", "condition_id": "0xc0", "usdc_size": "25", "timestamp": 1_790_000_000,
                   "transaction_hash": "0x" + "cd" * 32})
    assert (split.type, split.size, split.token_id, split.side) == ("SPLIT", Decimal(25), "", "")
    trade = parse({"type": "TRADE", "condition_id": "0xc0", "size": "4", "usdc_size": "2", "token_id": "11",
                   "side": "SELL", "price": "0.5", "timestamp": 1_790_000_000})
    assert (trade.size, trade.token_id, trade.side) == (Decimal(4), "11", "SELL")
    with pytest.raises(Malformed):
        parse({"type": "TRADE", "condition_id": "0xc0", "usdc_size": "2", "timestamp": 1_790_000_000})


def test_error_bodies_and_retry_after():
    e = parse_error(503, b'{"error": "upstream timed out", "code": "request_timeout", "retryable": true, "trace_id": "t1"}')
    assert (e.code, e.retryable, e.trace_id) == ("request_timeout", True, "t1")
    assert parse_error(500, b"<html>").retryable is None and parse_error(400, b'{"retryable": "yes"}').retryable is None
    assert retry_after_s("7") == 7.0 and retry_after_s(None) is None and retry_after_s("soon") is None
    assert retry_after_s("1e999") == 300 and retry_after_s("-3") == 0 and retry_after_s("nan") is None
    assert 25 <= retry_after_s(formatdate(time.time() + 30, usegmt=True)) <= 31


# ---------------------------------------------------------------- the client, against a loopback server


class Server(Loopback):
    """Answers each GET from `answers` (status, body, headers), then 200 with `rows` as one page."""

    def __init__(self):
        self.answers: list = []
        self.rows: list = []
        super().__init__(lambda path, q: self.answers.pop(0) if self.answers else (200, {
            "data": self.rows, "pagination": {"has_more": False, "next_cursor": None}}, {}))


@pytest.fixture
def server():
    with Server() as s:
        yield s


def test_client_sends_v2_params_with_a_cache_buster_and_maps_errors(server):
    c = DataApi(server.url + "/", timeout_s=2.0)
    deadline = time.monotonic() + 10
    server.rows = [row("0xaa", int(time.time()) - 5)]
    page, recv_ns = c.trades(WALLET, 50, None, deadline, time.time(), start_s=123)
    assert [t.tx_hash for t in page.items] == ["0xaa"] and recv_ns > 0
    c.trades(WALLET, 50, "CUR", deadline, time.time())
    (path, q1), (_, q2) = server.requests
    assert path == "/v2/trades" and q1["taker_only"] == "false" and q1["user"] == WALLET and q1["limit"] == "50"
    assert q1["start"] == "123" and "offset" not in q1 and "cursor" not in q1 and q2["cursor"] == "CUR"
    assert q1["_"] != q2["_"]  # a new URL each time: the CDN caches by URL
    server.answers = [(429, '{"error": "slow down"}', {"Retry-After": "3"}),
                      (503, '{"error": "x", "code": "request_timeout", "retryable": true}', {}),
                      (400, '{"error": "bad", "retryable": false}', {}), (410, '{"error": "gone"}', {}),
                      (500, '{"error": "no", "retryable": false}', {}), (200, "<html>", {})]
    with pytest.raises(TemporaryError) as e:
        c.trades(WALLET, 50, None, deadline, time.time())
    assert e.value.retry_after_s == 3.0
    with pytest.raises(TemporaryError, match="request_timeout"):
        c.trades(WALLET, 50, None, deadline, time.time())
    for _ in range(3):
        with pytest.raises(RejectedError):  # 400, 410 and a 500 the body calls final
            c.trades(WALLET, 50, None, deadline, time.time())
    with pytest.raises(Malformed):
        c.trades(WALLET, 50, None, deadline, time.time())
    c.close()


def test_client_never_waits_past_the_deadline(server):
    c = DataApi(server.url, timeout_s=5.0)
    with pytest.raises(TemporaryError, match="deadline"):
        c.trades(WALLET, 10, None, time.monotonic() - 0.01, time.time())
    assert server.requests == []


def test_positions_page_through_the_cursor_and_refuse_an_incomplete_listing(server):
    pos = {"token_id": "11", "condition_id": "0xc0", "current_size": "2", "total_size": "9"}
    server.answers = [(200, json.dumps({"data": [pos], "pagination": {"has_more": True, "next_cursor": "p2"}}), {}),
                      (200, json.dumps({"data": [dict(pos, token_id="12")], "pagination": {"has_more": False,
                                                                                         "next_cursor": None}}), {})]
    client = PositionsClient(server.url, 2.0)
    assert [p.token_id for p in client.positions(WALLET)] == ["11", "12"]
    (path, q1), (_, q2) = server.requests
    assert path == "/v2/positions" and q1["filter_amount"] == "0" and "cursor" not in q1 and q2["cursor"] == "p2"
    server.answers = [(200, json.dumps({"data": [pos, dict(pos, current_size="lots")],
                                        "pagination": {"has_more": False, "next_cursor": None}}), {})]
    with pytest.raises(TemporaryError, match="1 malformed rows"):  # acting on part of the listing would be a guess
        client.positions(WALLET)
    client.close()


# ---------------------------------------------------------------- the poller


def row(tx, ts, size="1", price="0.5", token="11", side="BUY", wallet=WALLET):
    return {"proxy_wallet": wallet, "side": side, "token_id": token, "condition_id": "0xc0", "size": size,
            "price": price, "timestamp": ts, "transaction_hash": tx, "outcome": "Up", "slug": "s"}


class Listing:
    """A newest-first listing served in pages of `limit` through an offset cursor (like polysim's)."""

    def __init__(self, rows, limit=10, now=NOW):
        self.rows, self.limit, self.now = rows, limit, now
        self.calls = []
        self.on_call = None

    def __call__(self, cursor):
        self.calls.append(cursor)
        if self.on_call:
            self.on_call(len(self.calls))
        start = int(cursor or 0)
        more = start + self.limit < len(self.rows)
        body = json.dumps({"data": self.rows[start:start + self.limit],
                           "pagination": {"has_more": more, "next_cursor": str(start + self.limit) if more else None}})
        return parse_page(body, trade_row(self.now, self.now - 1_577_836_800)), 5


def poller(floor=0, lookback=60, **kw):
    return TradesPoller(WALLET, lookback, floor, clock=lambda: NOW, **kw)


T = int(NOW) - 100


def test_three_identical_fills_in_one_tx_give_three_keys_once():
    feed = Listing([row("0xaa", T)] * 3)
    p = poller()
    assert [f.key.rsplit("|", 1)[1] for f in p.poll(feed)] == ["0", "1", "2"]
    assert p.poll(feed) == []  # the next poll lists them again: nothing new


def test_a_tx_listed_partly_then_fully_adds_only_the_missing_fill():
    feed = Listing([row("0xaa", T)] * 2)
    p = poller()
    assert len(p.poll(feed)) == 2
    feed.rows = [row("0xaa", T)] * 3
    [f] = p.poll(feed)
    assert f.key.endswith("|2")


def test_pages_down_to_the_floor_and_no_further():
    rows = [row(f"0x{i:04x}", T - i) for i in range(25)]  # newest first
    feed = Listing(rows)
    p = poller(floor=T - 10, lookback=5)
    fills = p.poll(feed)
    assert {f.source_ts_ms // 1000 for f in fills} == set(range(T - 10, T + 1))
    assert feed.calls == [None, "10", None]  # page 2 reached the floor; page 1 re-checked
    feed.calls.clear()
    assert p.poll(feed) == [] and feed.calls == [None]  # floor is now newest - 5


def test_pages_per_poll_are_bounded():
    feed = Listing([row(f"0x{i:04x}", T) for i in range(100)])
    p = poller(max_pages=3)
    assert len(p.poll(feed)) == 30 and p.truncated == 1 and feed.calls == [None, "10", "20", None]


def test_rows_shifting_while_paging_keep_only_the_first_page():
    rows = [row(f"0x{i:04x}", T - i) for i in range(15)]
    feed = Listing(rows)

    def insert_on_second_call(n):
        if n == 2:  # a new fill lands at the top: page 2 now repeats the last row of page 1
            feed.rows = [row("0xnew", T + 1)] + feed.rows

    feed.on_call = insert_on_second_call
    p = poller()
    fills = p.poll(feed)
    assert len(fills) == 10 and len({f.key for f in fills}) == 10 and p.unstable == 1
    feed.on_call = None
    fills = p.poll(feed)  # the next poll is stable: the rest, each once
    assert len(fills) == 6 and all(f.key.endswith("|0") for f in fills)


def test_other_wallets_and_bad_rows_are_skipped_and_counted():
    feed = Listing([row("0xaa", T, wallet="0x" + "1" * 40), {"junk": 1}, row("0xbb", T, side="?"), row("0xcc", T)])
    p = TradesPoller(WALLET.upper().replace("0X", "0x"), 60, 0, clock=lambda: NOW)
    [f] = p.poll(feed)
    assert f.tx_hash == "0xcc" and p.malformed == 2 and [e.kind for e in p.last_bad] == ["price", "side"]


def test_string_and_number_amounts_and_mixed_case_wallet_are_one_key():
    r = row("0xAA", T)
    r.update(price=Decimal("0.50"), size="3.0", proxy_wallet=WALLET.upper().replace("0X", "0x"))
    [f] = poller().poll(Listing([json.loads(json.dumps(r, default=float))]))
    assert f.price == Decimal("0.5") and f.size == Decimal(3) and f.key == "0xaa|11|BUY|0.5|3|0"


def test_a_row_dated_in_the_future_does_not_hide_later_fills():
    future = row("0xf0", int(NOW) + 240)  # within the parse window (now + 5 min), far past the clock
    feed = Listing([future])
    p = poller(lookback=30)
    assert [f.tx_hash for f in p.poll(feed)] == ["0xf0"]
    assert p.newest_s == int(NOW) + 5  # the watermark stops at now + skew
    feed.rows = [future, row("0xlate", int(NOW) - 10)]  # a fill that happened after, dated now - 10 s
    assert [f.tx_hash for f in p.poll(feed)] == ["0xlate"]


def test_an_empty_page_is_no_fill():
    assert poller().poll(lambda cursor: (Page(items=(), bad=(), next_cursor=None), 1)) == []


def test_why_the_backstop_does_not_read_through_the_sdk():
    """The premise of clients/data_api.py's choice, pinned: the SDK (0.14.0) drops a whole page for
    one bad row, and takes a size that overflows later. Ours keeps the good row and refuses the size."""
    from polymarket.errors import UnexpectedResponseError
    from polymarket.models.data import Trade

    good = json.loads((POLYMARKET / "data_api_v2_trades.json").read_text())["data"][0]
    with pytest.raises(UnexpectedResponseError):
        Trade.parse_response_list([good, dict(good, side="HOLD")])
    huge = Trade.parse_response_list([dict(good, size="1e999999999")])[0].size
    with pytest.raises(decimal.Overflow):
        huge * 2
    body = json.dumps({"data": [good, dict(good, side="HOLD"), dict(good, size="1e999999999")],
                       "pagination": {"has_more": False, "next_cursor": None}})
    page = parse_page(body, trade_row(SAMPLE_TS + 5))
    assert len(page.items) == 1 and sorted(e.kind for e in page.bad) == ["side", "size"]
