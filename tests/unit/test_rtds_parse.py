"""RTDS frame parsing (venue/rtds.py) and the shared fill key (venue/source_fill.py)."""
import json
from decimal import Decimal
from pathlib import Path

import pytest

from polycopy.venue.rtds import SUBSCRIBE, Malformed, frame_fill, is_from, parse_frame
from polycopy.venue.source_fill import Occurrences, canon, fill_key
from tests.conftest import POLYMARKET

SAMPLE = (POLYMARKET / "rtds_trade.json").read_text()
WALLET = "0x510f4963b66b1b18505faab74b0bb943d1dda43c"


def frame_text(kind="trades", **payload_changes):
    obj = json.loads(SAMPLE)
    obj["type"] = kind
    obj["payload"].update(payload_changes)
    return json.dumps(obj)


def test_real_frame_becomes_a_fill_with_exact_decimals():
    frame = parse_frame(SAMPLE)
    assert frame.type == "trades" and frame.envelope_ts_ms == 1787102287053
    assert is_from(frame, WALLET)  # the frame carries the checksummed address
    fill = frame_fill(frame, recv_mono_ns=123, occurrences=Occurrences())
    assert fill.size == Decimal("2.7027") and fill.price == Decimal("0.26")
    assert fill.source_ts_ms == 1787102287000 and fill.envelope_ts_ms == 1787102287053
    assert fill.token_id.startswith("72551024") and fill.side == "BUY" and fill.outcome == "No"
    assert fill.source_wallet == WALLET and fill.feed == "rtds" and fill.recv_mono_ns == 123
    assert fill.key == "0xb6acf6859bc84216f4b3e2567fb392a2eae19d275340ad96ea17218ccfec27b7|" + fill.token_id + "|BUY|0.26|2.7027|0"


def test_other_wallet_is_filtered_out():
    assert not is_from(parse_frame(SAMPLE), "0x1d0034134e339a309700ff2d34e99fa2d48b0313")


@pytest.mark.parametrize("text", ["", "   ", "PONG", "pong", b""])
def test_keepalive_text_is_ignored(text):
    assert parse_frame(text) is None


@pytest.mark.parametrize("text,kind", [
    (SAMPLE[: len(SAMPLE) // 2], "json"),  # truncated
    ("{not json", "json"),
    ("[1, 2]", "envelope"),
    ('{"topic": "activity", "type": "trades"}', "envelope"),
    ('{"topic": "crypto_prices", "type": "update", "timestamp": 1, "payload": {}}', "unknown"),
    ('{"topic": "activity", "type": "comment_created", "timestamp": 1, "payload": {}}', "unknown"),
    ('{"topic": "activity", "type": "trades", "timestamp": 1, "payload": [1]}', "payload"),
    ('{"topic": "activity", "type": "trades", "timestamp": "x", "payload": {}}', "envelope"),
    (b"\xff\xfe", "json"),
])
def test_bad_frames_raise_malformed_with_kind(text, kind):
    with pytest.raises(Malformed) as e:
        parse_frame(text)
    assert e.value.kind == kind


@pytest.mark.parametrize("change", [
    {"side": "HOLD"}, {"price": "abc"}, {"price": 0}, {"size": -1}, {"asset": ""}, {"transactionHash": None},
    {"timestamp": 1.5}, {"price": True},
])
def test_bad_payload_fields_raise(change):
    frame = parse_frame(frame_text(**change))
    with pytest.raises(Malformed) as e:
        frame_fill(frame, recv_mono_ns=0, occurrences=Occurrences())
    assert e.value.kind == "payload"


def test_identical_fills_are_numbered_per_subscription_type():
    occ = Occurrences()
    keys = [frame_fill(parse_frame(frame_text(kind)), recv_mono_ns=0, occurrences=occ).key
            for kind in ("trades", "trades", "orders_matched", "trades", "orders_matched")]
    assert [k.rsplit("|", 1)[1] for k in keys] == ["0", "1", "0", "2", "1"]


def test_different_fills_in_one_tx_do_not_share_a_counter():
    occ = Occurrences()
    a = frame_fill(parse_frame(frame_text(size=1)), recv_mono_ns=0, occurrences=occ)
    b = frame_fill(parse_frame(frame_text(size=2)), recv_mono_ns=0, occurrences=occ)
    assert a.key.endswith("|1|0") and b.key.endswith("|2|0")


def test_key_is_canonical_across_number_spellings():
    assert canon(Decimal("0.520")) == "0.52" and canon(Decimal("25.0")) == "25" and canon(Decimal("1E+1")) == "10"
    assert fill_key("0xAB", "1", "BUY", Decimal("0.5"), Decimal("10"), 2) == fill_key("0xab", "1", "BUY", Decimal("0.50"), Decimal("1E+1"), 2)


def test_subscribe_is_compact_and_asks_for_both_types():
    assert " " not in SUBSCRIBE
    subs = json.loads(SUBSCRIBE)["subscriptions"]
    assert {(s["topic"], s["type"]) for s in subs} == {("activity", "trades"), ("activity", "orders_matched")}
