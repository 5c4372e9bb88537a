"""The hand-written settlement decoder (polycopy.wire.abi_settlement) against eth_abi's strict decode:
same values on valid calldata, Malformed wherever eth_abi rejects mutated calldata."""
from __future__ import annotations

import json

import pytest
from eth_abi import decode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polycopy.errors import Malformed
from polycopy.wire import abi_settlement
from polycopy.wire.settlement import (ARGS, EXCHANGES, NEG_RISK_V2_EXCHANGE, V2_EXCHANGE, V3_EXCHANGE, Order,
                                      Settlement, decode_calldata, encode_calldata)
from tests.conftest import POLYMARKET

U256 = st.one_of(st.sampled_from([0, 1, 2**256 - 1]), st.integers(0, 2**256 - 1))
ADDRESS = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
EXCHANGE = st.sampled_from([V2_EXCHANGE, NEG_RISK_V2_EXCHANGE, V3_EXCHANGE])
ORDERS = st.builds(Order, salt=U256, maker=ADDRESS, signer=ADDRESS, token_id=U256, maker_amount=U256,
                   taker_amount=U256, side=st.integers(0, 255), signature_type=st.integers(0, 255), timestamp=U256,
                   metadata=st.binary(min_size=32, max_size=32), builder=st.binary(min_size=32, max_size=32),
                   signature=st.binary(max_size=130))


@st.composite
def settlements(draw) -> Settlement:
    n = draw(st.integers(1, 5))
    return Settlement(exchange=draw(EXCHANGE), condition_id="0x" + draw(st.binary(min_size=32, max_size=32)).hex(),
                      taker=draw(ORDERS), makers=tuple(draw(st.lists(ORDERS, min_size=n, max_size=n))),
                      maker_fills=tuple(draw(st.lists(U256, min_size=n, max_size=n))),
                      maker_fees=tuple(draw(st.lists(U256, min_size=n, max_size=n))),
                      taker_fill=draw(U256), taker_fee=draw(U256), taker_receive=draw(U256))


def ours(version: str, blob: bytes):
    """Our decode as decode_calldata runs it: the value, or Malformed."""
    try:
        return abi_settlement.DECODERS[version](blob)
    except Malformed as e:
        assert e.kind == "abi"
        return e


def theirs(version: str, blob: bytes):
    try:
        return decode(ARGS[version], blob)
    except Exception as e:  # noqa: BLE001 - eth_abi raises several types
        return e


@settings(max_examples=300, deadline=None)
@given(settlements())
def test_valid_settlements_decode_exactly_as_eth_abi_does(s):
    blob = bytes.fromhex(encode_calldata(s)[10:])
    got = abi_settlement.DECODERS[s.version](blob)
    assert got == decode(ARGS[s.version], blob)
    assert type(got[1]) is tuple and type(got[2]) is tuple  # arrays are tuples, as in eth_abi


@pytest.mark.parametrize("version", ["2", "3"])
def test_worked_examples_decode_exactly_as_eth_abi_does(version):
    ex = json.loads((POLYMARKET / f"mempool/matchorders_v{version}_1taker_2makers.json").read_text())
    blob = bytes.fromhex(ex["calldata"][10:])
    assert abi_settlement.DECODERS[version](blob) == decode(ARGS[version], blob)


def word(v: int) -> bytes:
    return v.to_bytes(32, "big")


HUGE = [2**256 - 1, 2**255, 2**64, 10**9, 2**32 - 1]


@st.composite
def mutations(draw):
    """(version, calldata bytes after the selector) with one or two random mutations."""
    s = draw(settlements())
    blob = bytearray.fromhex(encode_calldata(s)[10:])
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["flip", "truncate", "extend", "word", "small_word"]))
        if kind == "flip" and blob:
            i = draw(st.integers(0, len(blob) - 1))
            blob[i] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del blob[draw(st.integers(0, len(blob))):]
        elif kind == "extend":
            blob += draw(st.binary(min_size=1, max_size=70))
        elif kind in ("word", "small_word") and len(blob) >= 32:
            # rewrite a whole word (an offset, a length, a padded field): huge, odd, around the data size
            i = draw(st.integers(0, len(blob) // 32 - 1)) * 32
            n = len(blob)
            if kind == "word":
                v = draw(st.sampled_from(HUGE + [n, n - 1, n + 32, n - 32, n // 2 + 1]))
            else:
                v = draw(st.integers(0, n + 64))
            blob[i:i + 32] = word(v)
    return s.version, bytes(blob)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_calldata_is_rejected_wherever_eth_abi_rejects_it(case):
    version, blob = case
    got, want = ours(version, blob), theirs(version, blob)
    if isinstance(want, Exception):
        assert isinstance(got, Malformed), f"eth_abi raised {want!r}, we decoded"
    elif isinstance(got, Malformed):
        # the one documented extra rejection: a V3 offset into the static amounts tuple (head words 5-6)
        assert version == "3" and "outside [224," in str(got), got
        assert any(160 <= int.from_bytes(blob[i:i + 32], "big") < 224 for i in (0, 32, 64, 96))
    else:
        assert got == want


def test_the_v3_offset_into_the_static_tuple_is_ours_alone_to_reject():
    s = Settlement(exchange=V3_EXCHANGE, condition_id="0x" + "00" * 32, taker=Order(1, "0x" + "11" * 20,
                   "0x" + "11" * 20, 5, 6, 7, 0, 0, 8), makers=(Order(2, "0x" + "22" * 20, "0x" + "22" * 20, 5, 6, 7,
                   1, 0, 8),), maker_fills=(3,), maker_fees=(0,), taker_fill=3, taker_fee=0, taker_receive=0)
    blob = bytearray.fromhex(encode_calldata(s)[10:])
    # point the fees array at word 6 (takerFee = 0): eth_abi reads an empty array there
    blob[96:128] = word(192)
    assert decode(ARGS["3"], bytes(blob))[3] == ()
    with pytest.raises(Malformed, match="outside"):
        abi_settlement.decode_v3(bytes(blob))


@pytest.mark.parametrize("version", ["2", "3"])
@pytest.mark.parametrize("length", [2**256 - 1, 2**64, 10**12])
def test_a_huge_claimed_array_length_fails_fast(version, length):
    s = next(iter(_one(version)))
    blob = bytearray.fromhex(encode_calldata(s)[10:])
    makers_at = int.from_bytes(blob[64:96] if version == "2" else blob[32:64], "big")
    blob[makers_at:makers_at + 32] = word(length)
    with pytest.raises(Malformed, match="abi: .*runs past the data"):
        decode_calldata(s.exchange, "0x" + encode_calldata(s)[2:10] + bytes(blob).hex())


@pytest.mark.parametrize("field, at, value", [
    ("address padding", 32 + 0, 1),  # first byte of the taker's maker word
    ("uint8 padding", 6 * 32 + 0, 1),  # first byte of the taker's side word
])
def test_dirty_padding_is_malformed_like_eth_abi(field, at, value):
    s = next(iter(_one("2")))
    blob = bytearray.fromhex(encode_calldata(s)[10:])
    taker_at = int.from_bytes(blob[32:64], "big")
    blob[taker_at + at] = value
    assert isinstance(theirs("2", bytes(blob)), Exception)
    with pytest.raises(Malformed, match="padding"):
        decode_calldata(s.exchange, "0x" + encode_calldata(s)[2:10] + bytes(blob).hex())


def test_dirty_bytes_padding_and_non_hex_input_are_malformed():
    s = next(iter(_one("2")))
    data = encode_calldata(s)
    blob = bytearray.fromhex(data[10:])
    taker_at = int.from_bytes(blob[32:64], "big")
    sig_at = taker_at + int.from_bytes(blob[taker_at + 352:taker_at + 384], "big")
    assert blob[sig_at:sig_at + 33] == word(1) + b"\x01"
    blob[sig_at + 33] = 1  # the byte after the taker's 1-byte signature: padding
    assert isinstance(theirs("2", bytes(blob)), Exception)
    for bad in (data[:10] + bytes(blob).hex(), data + "0", data[:-2] + "zz"):
        with pytest.raises(Malformed) as e:
            decode_calldata(s.exchange, bad)
        assert e.value.kind == "abi"


def _one(version):
    """A valid settlement whose last order has a 1-byte signature."""
    order = Order(7, "0x" + "ab" * 20, "0x" + "ab" * 20, 9, 10, 20, 0, 0, 1, signature=b"\x01")
    exchange = next(x for x, v in EXCHANGES.items() if v == version)
    yield Settlement(exchange=exchange, condition_id="0x" + "cd" * 32, taker=order, makers=(order,),
                     maker_fills=(1,), maker_fees=(0,), taker_fill=1, taker_fee=0, taker_receive=0)


def test_an_unaligned_offset_is_accepted_as_eth_abi_and_solidity_accept_it():
    s = next(iter(_one("3")))
    blob = bytearray.fromhex(encode_calldata(s)[10:])
    taker_at = int.from_bytes(blob[0:32], "big")
    copy = blob[taker_at:taker_at + 384 + 64]  # the taker's head and its 1-byte signature's tail
    copy[20] ^= 0xFF  # a different salt, so the copy is what gets decoded
    blob[0:32] = word(len(blob) + 1)
    blob += b"\x00" + copy
    got = abi_settlement.decode_v3(bytes(blob))
    assert got == decode(ARGS["3"], bytes(blob))
    assert got[0][0] == 7 ^ (0xFF << 8 * 11) and got[0][11] == b"\x01"
