"""Settlement calldata -> fills (polycopy.wire.settlement, polycopy.venue.mempool), on the worked examples of
shared/polymarket/mempool/, on hand-built matches, and on malformed and foreign input."""
from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from eth_abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from polycopy.actors.mempool_watcher import PendingFilter
from polycopy.messages import SourceFill
from polycopy.errors import Malformed, NotSettlement
from polycopy.venue.mempool import MAX_TAKER_AGE_MS, confirms, legs, order_hash, signature_ok, source_fills
from polycopy.wire.settlement import (ARGS, NEG_RISK_V2_EXCHANGE, SELECTORS, V2_EXCHANGE, Order, Settlement,
                                      decode_calldata, encode_calldata)
from tests.conftest import POLYMARKET

EXAMPLES = (POLYMARKET / "mempool")


def example(name):
    return json.loads((EXAMPLES / f"matchorders_{name}_1taker_2makers.json").read_text())


def pending_tx(ex):
    return ex["pending_tx_notification"]["params"]["result"]


@pytest.mark.parametrize("name", ["v2", "v3"])
def test_worked_examples_decode_to_the_fills_they_state(name):
    ex = example(name)
    tx = pending_tx(ex)
    assert tx["input"][:10] == SELECTORS[ex["decoded"]["version"]] == ex["contract"]["selector"]
    s = decode_calldata(tx["to"], tx["input"])
    assert s.condition_id == ex["decoded"]["conditionId"] and s.exchange == tx["to"].lower()
    got = legs(s)
    want = ex["decoded"]["fills"]
    want = [w for w in want if w["role"] == "maker"] + [w for w in want if w["role"] == "taker"]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (g.role, g.wallet, g.side, g.token_id) == (w["role"], w["wallet"].lower(), w["side"], w["tokenId"])
        assert (g.shares_raw, g.pusd_raw, g.fee_raw) == (w["shares_raw"], w["pusd_raw"], w["fee_raw"])
        assert g.price == Decimal(w["price"])
    hashes = [m["orderHash"] for m in ex["arguments"]["makerOrders"]] + [ex["arguments"]["takerOrder"]["orderHash"]]
    assert [g.order_hash for g in got] == hashes
    if name == "v3":
        assert s.taker_receive == int(ex["arguments"]["takerAmounts"]["takerReceiveAmount"]) == got[-1].shares_raw


@pytest.mark.parametrize("name", ["v2", "v3"])
def test_encoding_the_decoded_structs_gives_the_calldata_byte_for_byte(name):
    ex = example(name)
    tx = pending_tx(ex)
    assert encode_calldata(decode_calldata(tx["to"], tx["input"])) == ex["calldata"] == tx["input"]


def test_source_fill_of_the_taker_and_of_a_maker():
    ex = example("v2")
    tx = pending_tx(ex)
    s = decode_calldata(tx["to"], tx["input"])
    mixed_case = ex["wallets"]["source_wallet_taker"].upper().replace("0X", "0x")
    [taker] = source_fills(s, tx_hash=tx["hash"], wallet=mixed_case, recv_mono_ns=11, seen_ts_ms=1_795_000_001_000)
    stated = ex["decoded"]["source_wallet_fills"][0]
    assert (taker.side, taker.token_id, taker.size) == ("BUY", stated["tokenId"], Decimal(stated["shares"]))
    assert taker.price == Decimal("0.636")
    assert taker.provisional and taker.feed == "mempool" and taker.tx_hash == tx["hash"]
    assert taker.key == f"pending|{ex['arguments']['takerOrder']['orderHash']}|{ex['arguments']['takerFillAmount']}"
    assert taker.source_ts_ms == 1_795_000_001_000 and taker.recv_mono_ns == 11
    [maker_a] = source_fills(s, tx_hash=tx["hash"], wallet=ex["wallets"]["maker_A"], recv_mono_ns=0, seen_ts_ms=0)
    assert (maker_a.side, maker_a.size, maker_a.price) == ("SELL", Decimal(10), Decimal("0.63"))  # 10 of its 40
    assert source_fills(s, tx_hash=tx["hash"], wallet="0x" + "12" * 20, recv_mono_ns=0, seen_ts_ms=0) == []


def test_a_retry_under_a_new_hash_keeps_the_key():
    ex = example("v2")
    tx = pending_tx(ex)
    s = decode_calldata(tx["to"], tx["input"])
    wallet = ex["wallets"]["source_wallet_taker"]
    [a] = source_fills(s, tx_hash=tx["hash"], wallet=wallet, recv_mono_ns=0, seen_ts_ms=0)
    [b] = source_fills(s, tx_hash="0x" + "ab" * 32, wallet=wallet, recv_mono_ns=0, seen_ts_ms=0)
    assert a.key == b.key and a.tx_hash != b.tx_hash


def test_the_neg_risk_exchange_decodes_the_same_call_under_its_own_domain():
    tx = pending_tx(example("v2"))
    plain = decode_calldata(tx["to"], tx["input"])
    neg = decode_calldata(NEG_RISK_V2_EXCHANGE, tx["input"])
    assert neg.taker == plain.taker
    assert order_hash(neg.taker, neg.exchange) != order_hash(plain.taker, plain.exchange)


def order(side, token, maker_amount, taker_amount, wallet="0x" + "aa" * 20):
    return Order(salt=1, maker=wallet, signer=wallet, token_id=token, maker_amount=maker_amount,
                 taker_amount=taker_amount, side=side, signature_type=0, timestamp=1)


UP, DOWN, SRC = 11, 22, "0x" + "1d" * 20


def sell_taker_settlement(**over):
    """Source SELLs 10 Up: maker A BUYs 5 Up @0.40 (complementary), maker B SELLs 5 Down @0.55 (merge)."""
    s = Settlement(exchange=V2_EXCHANGE, condition_id="0x" + "cd" * 32,
                   taker=order(1, UP, 10_000_000, 3_500_000, SRC),
                   makers=(order(0, UP, 4_000_000, 10_000_000), order(1, DOWN, 20_000_000, 11_000_000)),
                   maker_fills=(2_000_000, 5_000_000), maker_fees=(0, 0), taker_fill=10_000_000, taker_fee=0)
    return replace(s, **over)


def test_a_sell_taker_across_a_complementary_and_a_merge_maker():
    s = decode_calldata(V2_EXCHANGE, encode_calldata(sell_taker_settlement()))
    a, b, taker = legs(s)
    assert (a.side, a.shares_raw, a.pusd_raw, a.price) == ("BUY", 5_000_000, 2_000_000, Decimal("0.4"))
    assert (b.side, b.shares_raw, b.pusd_raw, b.price) == ("SELL", 5_000_000, 2_750_000, Decimal("0.55"))
    # 5 shares sold to A for 2.00 and 5 merged with B's Down for 5.00 - 2.75 = 2.25
    assert (taker.side, taker.shares_raw, taker.pusd_raw, taker.price) == ("SELL", 10_000_000, 4_250_000,
                                                                           Decimal("0.425"))


@pytest.mark.parametrize("bad, kind", [
    (dict(maker_fills=(2_000_000,)), "shape"),
    (dict(taker=order(1, UP, 0, 3_500_000, SRC)), "order"),
    (dict(maker_fills=(0, 5_000_000)), "fill"),
    (dict(makers=(order(1, UP, 4_000_000, 10_000_000), order(1, DOWN, 20_000_000, 11_000_000))), "match"),
])
def test_impossible_matches_are_malformed(bad, kind):
    with pytest.raises(Malformed) as e:
        legs(decode_calldata(V2_EXCHANGE, encode_calldata(sell_taker_settlement(**bad))))
    assert e.value.kind == kind


def test_truncated_and_foreign_calldata():
    tx = pending_tx(example("v2"))
    with pytest.raises(Malformed) as e:
        decode_calldata(tx["to"], tx["input"][:400])
    assert e.value.kind == "abi"
    for to, data in [("0x" + "12" * 20, tx["input"]), (tx["to"], "0xe3a5ced5" + tx["input"][10:]),
                     (tx["to"], "0x"), (None, tx["input"]), (tx["to"], None)]:
        with pytest.raises(NotSettlement):
            decode_calldata(to, data)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=1200))
def test_random_bytes_after_the_selector_never_raise_anything_but_malformed(blob):
    try:
        s = decode_calldata(V2_EXCHANGE, SELECTORS["2"] + blob.hex())
        legs(s)
    except Malformed:
        pass


def test_a_valid_abi_with_wrong_array_lengths_is_malformed_not_a_crash():
    s = sell_taker_settlement()
    data = encode(ARGS["2"], [bytes(32), s.taker.as_tuple(), [m.as_tuple() for m in s.makers], 1, [1, 2, 3], 0, []])
    with pytest.raises(Malformed):
        decode_calldata(V2_EXCHANGE, SELECTORS["2"] + data.hex())


def note(result):
    params = {"subscription": "0x1", "result": result}
    return json.dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": params})


def test_the_pending_filter_counts_and_ignores_what_it_cannot_use():
    ex = example("v2")
    tx = pending_tx(ex)
    f = PendingFilter(ex["wallets"]["source_wallet_taker"])
    frames = [
        json.dumps({"jsonrpc": "2.0", "id": 1, "result": "0x5a1e"}),  # our subscription's reply
        note("0x" + "ab" * 32),  # hash-only stream
        note(dict(tx, to="0x" + "12" * 20, input="0x")),  # a transfer elsewhere
        note(dict(tx, input="0xe3a5ced5" + "00" * 64)),  # preapproveOrder: foreign call to the exchange
        note(dict(tx, input=tx["input"][:300])),  # truncated settlement
        note(["not", "a", "tx"]),
        "{broken",
        note(tx),
    ]
    out = []
    for text in frames:
        try:
            out += f.on_text(text, 5, 6)
        except Malformed:
            pass
    assert [x.key.split("|")[1] for x in out] == [ex["arguments"]["takerOrder"]["orderHash"]]
    c = f.counts
    assert (c["txs"], c["hashes"], c["other"], c["foreign"], c["malformed"], c["settlements"], c["source"]) == \
        (6, 1, 1, 1, 3, 1, 1)


def settled(pending: SourceFill, **over) -> SourceFill:
    base = dict(key="x", feed="rtds", provisional=False, order_hash="")
    return replace(pending, **{**base, **over})


def test_confirms_matches_a_settled_row_to_its_provisional_fill():
    tx = pending_tx(example("v2"))
    s = decode_calldata(tx["to"], tx["input"])
    [p] = source_fills(s, tx_hash=tx["hash"], wallet=example("v2")["wallets"]["source_wallet_taker"],
                       recv_mono_ns=0, seen_ts_ms=0)
    assert confirms(p, settled(p, tx_hash=tx["hash"].upper().replace("0X", "0x")))
    assert confirms(p, settled(p, size=Decimal(10)))  # one of several rows a feed may list for the taker
    assert confirms(p, settled(p, tx_hash="0x" + "77" * 32), tx_hashes=["0x" + "77" * 32])  # a retry seen pending
    assert not confirms(p, settled(p, tx_hash="0x" + "77" * 32))
    assert not confirms(p, settled(p, side="SELL"))
    assert not confirms(p, settled(p, size=Decimal("25.001")))
    assert not confirms(p, settled(p, token_id="1"))


def test_signatures_of_the_worked_example_check_and_tampering_fails():
    tx = pending_tx(example("v2"))
    s = decode_calldata(tx["to"], tx["input"])
    for o in (s.taker, *s.makers):
        assert signature_ok(o, order_hash(o, s.exchange)) is True
    tampered = replace(s.taker, taker_amount=s.taker.taker_amount + 1)  # new digest, old signature
    assert signature_ok(tampered, order_hash(tampered, s.exchange)) is False
    assert signature_ok(s.taker, order_hash(s.taker, NEG_RISK_V2_EXCHANGE)) is False  # signed for the other domain
    assert signature_ok(replace(s.taker, signer="0x" + "12" * 20), order_hash(s.taker, s.exchange)) is False
    assert signature_ok(replace(s.taker, signature=b""), "0x" + "00" * 32) is None  # preapproved
    assert signature_ok(replace(s.taker, signature_type=3, signature=b"\x01" * 317), "0x" + "00" * 32) is None


def test_the_source_must_have_signed_its_order_and_a_taker_order_must_be_fresh():
    ex = example("v2")
    tx = pending_tx(ex)
    s = decode_calldata(tx["to"], tx["input"])
    taker, signed_at = ex["wallets"]["source_wallet_taker"], s.taker.timestamp
    kw = dict(tx_hash=tx["hash"], recv_mono_ns=0)
    assert source_fills(s, wallet=taker, seen_ts_ms=signed_at + MAX_TAKER_AGE_MS, **kw)
    with pytest.raises(Malformed) as e:
        source_fills(s, wallet=taker, seen_ts_ms=signed_at + MAX_TAKER_AGE_MS + 1, **kw)
    assert e.value.kind == "stale_order"
    # a maker order may rest for days: maker A's was signed long before the match
    assert source_fills(s, wallet=ex["wallets"]["maker_A"], seen_ts_ms=signed_at + 10**9, **kw)
    forged = replace(s, taker=replace(s.taker, taker_amount=s.taker.taker_amount - 1))
    with pytest.raises(Malformed) as e:
        source_fills(forged, wallet=taker, seen_ts_ms=signed_at, **kw)
    assert e.value.kind == "signature"
