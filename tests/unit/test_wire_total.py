"""Every wire parser is total: arbitrary JSON-like input, random text and bytes, and mutated real
samples either parse or raise `Malformed` — never KeyError, TypeError, decimal.Overflow,
RecursionError, ... (hypothesis). The CLOB answer parsers never raise at all."""
from __future__ import annotations

import copy
import json
import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polycopy.errors import Malformed, NotSettlement
from polycopy.wire import clob, clob_ws, data_api, gamma, jsontext, node, rtds, settlement
from polycopy.wire.http import retry_after_s, should_retry
from tests.conftest import POLYMARKET

NOW = 1787102290
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOSTILE = ["1e999999999", "-1e999999999", "NaN", "Infinity", 10**20, -1, 0, "", None, True, [], {}, "0x",
           "9" * 100, 1.5, "1.5", "\x00", "é" * 3000, [[[[[]]]]], {"a": {"b": {"c": {}}}}]
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=False),
                   st.text(max_size=30), st.sampled_from(HOSTILE).map(copy.deepcopy))
JSONISH = st.recursive(SCALAR, lambda kids: st.one_of(st.lists(kids, max_size=5),
                                                      st.dictionaries(st.text(max_size=12), kids, max_size=6)),
                       max_leaves=30)


def sample(name: str):
    return json.loads((POLYMARKET / name).read_text(), parse_float=Decimal)


def dumps(obj) -> str:
    return json.dumps(obj, default=str)


RTDS = sample("rtds_trade.json")
V2_TRADES = sample("data_api_v2_trades.json")
GAMMA = sample("gamma_market.json")
BOOK = sample("clob_book.json")
POST = sample("clob_post_order_response.json")
USER_TRADE = sample("ws_user_trade.json")
MARKET_EVENTS = sample("clob_ws_market_events.json")["messages"]
NODE = sample("mempool/matchorders_v2_1taker_2makers.json")["pending_tx_notification"]
POSITION = {  # /v2/positions, in the SDK's model (models/data/portfolio.py Position)
    "proxy_wallet": "0x6031b6eed1c97e853c6e0f03ad3ce3529351f96d", "token_id": "7005504798469425412012612933705503190525372485931692359699852318225666004736",
    "condition_id": "0xa69236dfc8e65e15eed3a876b606aa8169e44e63f693750b9d1e83756e175150", "current_size": "12.5",
    "avg_price": "0.52", "current_price": "0.55", "total_size": "40", "status": "OPEN", "redeemable": False,
    "mergeable": False, "slug": "btc-updown-15m-1787102100", "outcome": "Up"}
ACTIVITY = {"proxy_wallet": POSITION["proxy_wallet"], "type": "TRADE", "condition_id": POSITION["condition_id"],
            "token_id": POSITION["token_id"], "size": "9.6", "usdc_size": "5", "price": "0.52", "side": "BUY",
            "timestamp": NOW - 60, "transaction_hash": "0x" + "ab" * 32, "slug": "s"}
RESOLUTION = {"condition_id": POSITION["condition_id"], "status": "resolved", "payouts": ["1000000", "0"],
              "extended_review": False, "was_disputed": False, "new_version_q": False, "last_update_timestamp": NOW}


def envelope(rows, more=True):
    return {"data": rows, "pagination": {"has_more": more, "next_cursor": "c1" if more else None}}


# ---------------------------------------------------------------- the parsers, each as text -> result

TEXT_PARSERS = {
    "rtds": lambda t: _rtds(t),
    "v2 trades": lambda t: data_api.parse_page(t, data_api.trade_row(NOW)),
    "v2 positions": lambda t: data_api.parse_page(t, data_api.parse_position),
    "v2 activity": lambda t: data_api.parse_page(t, data_api.activity_row(NOW)),
    "v2 resolutions": lambda t: data_api.parse_page(t, data_api.parse_resolution, paged=False),
    "gamma keyset": gamma.parse_keyset,
    "gamma single": gamma.parse_single,
    "user ws": clob_ws.parse_user_frame,
    "market ws": clob_ws.parse_market_frame,
    "node": node.parse_node_frame,
    "json": lambda t: jsontext.loads(t, max_bytes=1 << 20, max_depth=16),
}
DICT_PARSERS = {  # CLOB answers arrive decoded; these never raise
    "post": lambda b: clob.parse_post(200, {"Retry-After": b}, b),
    "post 429": lambda b: clob.parse_post(429, b if isinstance(b, dict) else {}, b),
    "order": clob.parse_order,
    "book": clob.parse_book,
    "midpoint": clob.parse_midpoint,
}
SAMPLES = {
    "rtds": RTDS, "v2 trades": V2_TRADES, "v2 positions": envelope([POSITION] * 2),
    "v2 activity": envelope([ACTIVITY, dict(ACTIVITY, type="SPLIT", size=None, token_id="")]),
    "v2 resolutions": {"data": [RESOLUTION]}, "gamma keyset": {"markets": [GAMMA], "next_cursor": "x"},
    "gamma single": GAMMA, "user ws": [USER_TRADE], "market ws": MARKET_EVENTS[0], "node": NODE,
    "json": RTDS,
}


def _rtds(text):
    frame = rtds.parse_frame(text, NOW)
    return frame if frame is None else rtds.frame_trade(frame, NOW)


def only_malformed(fn, arg):
    try:
        fn(arg)
    except Malformed:
        pass


def test_the_samples_parse():
    for name, obj in SAMPLES.items():
        TEXT_PARSERS[name](dumps(obj))
    assert data_api.parse_page(dumps(SAMPLES["v2 positions"]), data_api.parse_position).items[0].size == Decimal("12.5")


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
@SETTINGS
@given(value=JSONISH)
def test_arbitrary_json_is_parsed_or_malformed(name, value):
    only_malformed(TEXT_PARSERS[name], dumps(value))


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
@SETTINGS
@given(raw=st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_arbitrary_text_and_bytes_are_parsed_or_malformed(name, raw):
    only_malformed(TEXT_PARSERS[name], raw)


def _paths(obj, prefix=()):
    """Every (container, key) inside a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield obj, k
            yield from _paths(v)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield obj, i
            yield from _paths(v)


@st.composite
def mutated(draw, obj):
    """A real sample with 1-3 values replaced (by anything, hostile numbers included) or keys removed;
    half the time at the top level, where a parser reads first."""
    obj = copy.deepcopy(obj)
    for _ in range(draw(st.integers(1, 3))):
        top = [(obj, k) for k in (obj if isinstance(obj, dict) else range(len(obj)) if isinstance(obj, list) else ())]
        spots = top if top and draw(st.booleans()) else list(_paths(obj))
        if not spots:
            break
        container, key = spots[draw(st.integers(0, len(spots) - 1))]
        if isinstance(container, dict) and draw(st.booleans()):
            container.pop(key, None)
        else:
            container[key] = copy.deepcopy(draw(JSONISH))
    return obj


@pytest.mark.parametrize("name", sorted(SAMPLES))
@SETTINGS
@given(data=st.data())
def test_mutated_samples_are_parsed_or_malformed(name, data):
    only_malformed(TEXT_PARSERS[name], dumps(data.draw(mutated(SAMPLES[name]))))


@pytest.mark.parametrize("name", sorted(SAMPLES))
@SETTINGS
@given(data=st.data())
def test_mutated_sample_text_is_parsed_or_malformed(name, data):
    text = dumps(SAMPLES[name])
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 8))):
        at = rng.randrange(len(chars))
        op = rng.choice(["del", "ins", "rep"])
        ch = rng.choice('{}[]",:0123456789e-.\\ aZ\x00')
        if op == "del":
            del chars[at]
        elif op == "ins":
            chars.insert(at, ch)
        else:
            chars[at] = ch
    only_malformed(TEXT_PARSERS[name], "".join(chars))


CLOB_KEYS = sorted({*POST, *BOOK, "id", "status", "original_size", "size_matched", "price", "associate_trades", "mid",
                    "error", "errorMsg", "retry_after_seconds", "code", "tradeIDs"})


@pytest.mark.parametrize("name", sorted(DICT_PARSERS))
@SETTINGS
@given(value=st.one_of(JSONISH, st.dictionaries(st.sampled_from(CLOB_KEYS), JSONISH, max_size=8)))
def test_clob_answer_parsers_never_raise(name, value):
    DICT_PARSERS[name](value)


@SETTINGS
@given(data=st.data())
def test_clob_answers_mutated_never_raise(data):
    clob.parse_post(200, {}, data.draw(mutated(POST)))
    clob.parse_book(data.draw(mutated(BOOK)))
    clob.parse_order(data.draw(mutated({"id": "0x1", "status": "MATCHED", "original_size": "10",
                                        "size_matched": "10", "price": "0.5", "associate_trades": ["t"]})))
    only_malformed(clob.parse_tick_size, data.draw(JSONISH))


@SETTINGS
@given(to=st.one_of(st.sampled_from(sorted(settlement.EXCHANGES)), st.text(max_size=50), JSONISH),
       data=st.one_of(st.text(max_size=400), JSONISH, st.binary(max_size=200).map(lambda b: "0x3c2b4399" + b.hex())))
def test_settlement_calldata_is_decoded_malformed_or_not_a_settlement(to, data):
    try:
        settlement.decode_calldata(to, data)
    except (Malformed, NotSettlement):
        pass


@SETTINGS
@given(value=st.one_of(JSONISH, st.text(max_size=60)))
def test_retry_after_is_none_or_bounded_seconds(value):
    s = retry_after_s(value)
    assert s is None or 0 <= s <= 300


def test_the_one_retry_rule():
    assert [should_retry(s) for s in (425, 429, 500, 503, 599, 400, 403, 404, 410, 200)] == [True] * 5 + [False] * 5
    assert should_retry(400, retryable=True) and not should_retry(503, retryable=False)


def test_hostile_numbers_and_nesting_are_malformed_before_they_cost_anything():
    for text, kind in [('{"a": 1e999999999}', "number"), ('{"a": -1E+999999999}', "number"), ('[NaN]', "number"),
                       ("[" * 100_000 + "]" * 100_000, "depth"), ('"' + "x" * 2_000_000 + '"', "size")]:
        with pytest.raises(Malformed) as e:
            jsontext.loads(text, max_bytes=1 << 20, max_depth=32)
        assert e.value.kind == kind
    assert jsontext.loads('["[[[[[[", {"k": "]]]]"}]', max_bytes=100, max_depth=2) == ["[[[[[[", {"k": "]]]]"}]


def _true_depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_true_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_true_depth, value), default=0)
    return 0


TRICKY_TEXT = st.text(alphabet='[]{}"\\,:ab', max_size=12)


@SETTINGS
@given(value=st.recursive(st.one_of(SCALAR, TRICKY_TEXT), lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(TRICKY_TEXT, kids, max_size=4)), max_leaves=40))
def test_the_depth_scan_is_exact_whatever_the_strings_hold(value):
    assert jsontext.depth(dumps(value)) == _true_depth(value)
