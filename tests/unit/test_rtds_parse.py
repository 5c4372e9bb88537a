"""RTDS frame parsing (wire/rtds.py) and the shared fill key (wire/source_fill.py)."""
import json
from decimal import Decimal

import pytest

from polycopy.errors import Malformed
from polycopy.wire.source_fill import Occurrences, canon, fill_from_trade, fill_key
from polycopy.wire.rtds import SUBSCRIBE, frame_trade, parse_frame, wallet_of
from tests.conftest import POLYMARKET

SAMPLE = (POLYMARKET / "rtds_trade.json").read_text()
WALLET = "0x510f4963b66b1b18505faab74b0bb943d1dda43c"
NOW = 1787102287 + 2  # the sample's block time, two seconds later


def frame_text(kind="trades", **payload_changes):
    obj = json.loads(SAMPLE)
    obj["type"] = kind
    obj["payload"].update(payload_changes)
    return json.dumps(obj)


def fill(text, occurrences=None, now=NOW, recv_ns=0):
    frame = parse_frame(text, now)
    occ = occurrences or Occurrences()
    return fill_from_trade(frame_trade(frame, now), feed="rtds", recv_mono_ns=recv_ns,
                           envelope_ts_ms=frame.envelope_ts_ms, occurrence=lambda b: occ.next(frame.type, b))


def test_real_frame_becomes_a_fill_with_exact_decimals():
    frame = parse_frame(SAMPLE, NOW)
    assert frame.type == "trades" and frame.envelope_ts_ms == 1787102287053
    assert wallet_of(frame) == WALLET  # the frame carries the checksummed address
    f = fill(SAMPLE, recv_ns=123)
    assert f.size == Decimal("2.7027") and f.price == Decimal("0.26")
    assert f.source_ts_ms == 1787102287000 and f.envelope_ts_ms == 1787102287053
    assert f.token_id.startswith("72551024") and f.side == "BUY" and f.outcome == "No"
    assert f.source_wallet == WALLET and f.feed == "rtds" and f.recv_mono_ns == 123
    assert f.key == "0xb6acf6859bc84216f4b3e2567fb392a2eae19d275340ad96ea17218ccfec27b7|" + f.token_id + "|BUY|0.26|2.7027|0"


def test_other_wallet_is_told_apart_by_one_key():
    frame = parse_frame(frame_text(proxyWallet=None, side="??", price="x"), NOW)  # the rest is not read
    assert wallet_of(frame) == "" and wallet_of(parse_frame(SAMPLE, NOW)) != "0x1d0034134e339a309700ff2d34e99fa2d48b0313"


@pytest.mark.parametrize("text", ["", "   ", "PONG", "pong"])
def test_keepalive_text_is_ignored(text):
    assert parse_frame(text, NOW) is None


@pytest.mark.parametrize("text,kind", [
    (SAMPLE[: len(SAMPLE) // 2], "json"),  # truncated
    ("{not json", "json"),
    ("[1, 2]", "envelope"),
    ('{"topic": "activity", "type": "trades"}', "envelope"),
    ('{"topic": "crypto_prices", "type": "update", "timestamp": 1, "payload": {}}', "unknown"),
    ('{"topic": "activity", "type": "comment_created", "timestamp": 1, "payload": {}}', "unknown"),
    ('{"topic": "activity", "type": "trades", "timestamp": 1787102287053, "payload": [1]}', "envelope"),
    ('{"topic": "activity", "type": "trades", "timestamp": "x", "payload": {}}', "envelope"),
    ('{"topic": "activity", "type": "trades", "timestamp": 100000000000000000000, "payload": {}}', "envelope"),
    (b"\xff\xfe", "binary"),
    (b'{"topic": "activity"}', "binary"),
    ("[" * 100_000 + "]" * 100_000, "depth"),
    ('{"payload": {"size": ' + "[" * 50 + "]" * 50 + "}}", "depth"),
    ('{"payload": {"size": 1e999999999}, "topic": "activity", "type": "trades"}', "number"),
    ('{"payload": {"size": NaN}, "topic": "activity", "type": "trades"}', "number"),
    ('{"payload": {"x": ' + "9" * 5000 + "}}", "number"),
    ("{" + " " * 300_000 + "}", "size"),
])
def test_bad_frames_raise_malformed_with_kind(text, kind):
    with pytest.raises(Malformed) as e:
        parse_frame(text, NOW)
    assert e.value.kind == kind and e.value.excerpt


@pytest.mark.parametrize("change,kind", [
    ({"side": "HOLD"}, "side"), ({"price": "abc"}, "price"), ({"price": 0}, "price"), ({"size": -1}, "size"),
    ({"asset": ""}, "asset"), ({"transactionHash": None}, "transactionHash"), ({"timestamp": 1.5}, "timestamp"),
    ({"price": True}, "price"), ({"size": "1e999999999"}, "size"), ({"timestamp": 10**20}, "timestamp"),
    ({"timestamp": NOW - 8 * 86_400}, "timestamp"), ({"timestamp": NOW + 600}, "timestamp"),
    ({"price": "1.01"}, "price"), ({"conditionId": "nope"}, "conditionId"), ({"proxyWallet": "0x12"}, "proxyWallet"),
    ({"asset": {"a": 1}}, "asset"), ({"slug": ["x"]}, "slug"),
])
def test_bad_payload_fields_raise_malformed_naming_the_key(change, kind):
    frame = parse_frame(frame_text(**change), NOW)
    with pytest.raises(Malformed) as e:
        frame_trade(frame, NOW)
    assert e.value.kind == kind and e.value.excerpt


def test_a_31_byte_condition_id_is_padded_like_every_other():
    frame = parse_frame(frame_text(conditionId="0x" + "ab" * 31), NOW)
    assert frame_trade(frame, NOW).condition_id == "0x" + "ab" * 31 + "00"


def test_identical_fills_are_numbered_per_subscription_type():
    occ = Occurrences()
    keys = [fill(frame_text(kind), occ).key for kind in ("trades", "trades", "orders_matched", "trades", "orders_matched")]
    assert [k.rsplit("|", 1)[1] for k in keys] == ["0", "1", "0", "2", "1"]


def test_different_fills_in_one_tx_do_not_share_a_counter():
    occ = Occurrences()
    a, b = fill(frame_text(size=1), occ), fill(frame_text(size=2), occ)
    assert a.key.endswith("|1|0") and b.key.endswith("|2|0")


def test_key_is_canonical_across_number_spellings():
    assert canon(Decimal("0.520")) == "0.52" and canon(Decimal("25.0")) == "25" and canon(Decimal("1E+1")) == "10"
    assert fill_key("0xAB", "1", "BUY", Decimal("0.5"), Decimal("10"), 2) == fill_key("0xab", "1", "BUY", Decimal("0.50"), Decimal("1E+1"), 2)
    assert fill(frame_text(size="2.70270")).key == fill(SAMPLE).key  # a string amount, trailing zero


def test_subscribe_is_compact_and_asks_for_both_types():
    assert " " not in SUBSCRIBE
    subs = json.loads(SUBSCRIBE)["subscriptions"]
    assert {(s["topic"], s["type"]) for s in subs} == {("activity", "trades"), ("activity", "orders_matched")}
