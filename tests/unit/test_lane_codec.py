"""The lane's codec (polycopy/lane/codec.py): every registered hot-path type comes back equal and of
the same types all the way down (Decimal stays exact); other types ride pickle; a bad body is a
LaneCodecError and nothing else."""
from __future__ import annotations

import pickle
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.floor_codec import samples
from polycopy.errors import LaneCodecError as CodecError
from polycopy.lane.codec import HOT_TYPES, PICKLE, Codec
from polycopy.messages import ApprovedIntent, FillBatch, Ping, SourceFill

CODEC = Codec()
SAMPLES = samples()
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=Decimal("-1e12"),
                       max_value=Decimal("1e12"))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_hot_messages_round_trip_exactly(name):
    msg = SAMPLES[name]
    body = CODEC.encode(msg)
    assert body[0] != PICKLE
    back = CODEC.decode(body)
    assert back == msg and type(back) is type(msg)
    assert pickle.loads(pickle.dumps(back)) == msg  # still a plain message for Thespian


def test_every_registered_type_is_covered_by_the_samples():
    kinds = {type(m) for m in SAMPLES.values()} | {SourceFill}
    assert set(HOT_TYPES) <= kinds


def test_nested_fills_come_back_as_source_fills_not_dicts():
    back = CODEC.decode(CODEC.encode(SAMPLES["FillBatch_16"]))
    assert len(back.fills) == 16 and all(type(f) is SourceFill for f in back.fills)
    assert type(back.fills[0].price) is Decimal and isinstance(back.fills, tuple)
    approved = CODEC.decode(CODEC.encode(SAMPLES["ApprovedIntent"]))
    assert type(approved) is ApprovedIntent and type(approved.intent.market.tick_size) is Decimal


@given(price=decimals, size=decimals)
@settings(max_examples=200, deadline=None)
def test_decimals_keep_their_exact_digits(price, size):
    fill = SAMPLES["FillBatch_1"].fills[0]
    msg = FillBatch(fills=(SourceFill(**{**{f: getattr(fill, f) for f in fill.__dataclass_fields__},
                                          "price": price, "size": size}),), sent_ns=7)
    back = CODEC.decode(CODEC.encode(msg)).fills[0]
    assert (back.price, back.size) == (price, size)
    assert str(back.price) == str(price) and str(back.size) == str(size)


def test_other_types_ride_pickle():
    body = CODEC.encode(Ping(nonce=3))
    assert body[0] == PICKLE and CODEC.decode(body) == Ping(nonce=3)
    plain = Codec(use_msgspec=False)
    assert plain.encode(SAMPLES["CopyIntent"])[0] == PICKLE


@pytest.mark.parametrize("code", [1, 2, 3, 4, 9, 255])
@given(data=st.binary(max_size=200))
@settings(max_examples=100, deadline=None)
def test_a_bad_body_is_a_codec_error(code, data):
    try:
        CODEC.decode(bytes((code,)) + data)
    except CodecError:
        pass


def test_an_empty_body_is_a_codec_error():
    with pytest.raises(CodecError):
        CODEC.decode(b"")
