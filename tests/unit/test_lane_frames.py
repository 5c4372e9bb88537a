"""The lane's wire (polycopy/lane/frames.py): frames survive any split of the byte stream; a hello
or a MAC'd frame that does not verify is refused; hostile bytes only ever raise LaneFrameError."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polycopy.errors import LaneFrameError
from polycopy.lane import frames

KEY = b"k" * 32
TOKEN = b"t" * 16


def stream(ckey, bodies) -> bytes:
    return b"".join(frames.seal(ckey, i, b) for i, b in enumerate(bodies))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


@pytest.mark.parametrize("mode", [frames.PLAIN, frames.MAC_EACH])
@given(bodies=st.lists(st.binary(min_size=1, max_size=300), max_size=20), cuts=st.lists(st.integers(0, 10_000), max_size=12))
@settings(max_examples=200, deadline=None)
def test_every_frame_comes_out_once_in_order_whatever_the_reads(mode, bodies, cuts):
    ckey = frames.conn_key(KEY, TOKEN, mode)
    reader = frames.FrameReader(ckey)
    out = []
    for chunk in split(stream(ckey, bodies), cuts):
        out.extend(reader.feed(chunk))
    assert out == bodies and reader.partial == 0


def test_a_partial_frame_is_held_back_until_its_last_byte():
    data = stream(None, [b"abc", b"defg"])
    reader = frames.FrameReader(None)
    assert reader.feed(data[:-1]) == [b"abc"] and reader.partial == len(data) - 1 - 7
    assert reader.feed(data[-1:]) == [b"defg"] and reader.partial == 0


@given(pos=st.integers(0, 10_000), flip=st.integers(1, 255))
@settings(max_examples=200, deadline=None)
def test_a_changed_byte_in_a_macd_stream_is_refused(pos, flip):
    ckey = frames.conn_key(KEY, TOKEN, frames.MAC_EACH)
    data = bytearray(stream(ckey, [b"first", b"second"]))
    pos %= len(data)
    data[pos] ^= flip
    reader = frames.FrameReader(ckey)
    try:
        out = reader.feed(bytes(data))
    except LaneFrameError:
        return
    # a changed length byte may only make the reader wait for more: it never yields a changed body
    assert all(b in (b"first", b"second") for b in out) and out != [b"first", b"second"]


def test_frames_replayed_or_reordered_or_keyed_otherwise_are_refused():
    ckey = frames.conn_key(KEY, TOKEN, frames.MAC_EACH)
    a, b = frames.seal(ckey, 0, b"a"), frames.seal(ckey, 1, b"b")
    with pytest.raises(LaneFrameError):
        frames.FrameReader(ckey).feed(a + a)  # the same frame twice
    with pytest.raises(LaneFrameError):
        frames.FrameReader(ckey).feed(b + a)
    other = frames.conn_key(KEY, b"u" * 16, frames.MAC_EACH)
    with pytest.raises(LaneFrameError):
        frames.FrameReader(other).feed(a)


@pytest.mark.parametrize("mode", [frames.PLAIN, frames.MAC_EACH])
@given(data=st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_bytes_give_bodies_or_badframe_and_nothing_else(mode, data):
    reader = frames.FrameReader(frames.conn_key(KEY, TOKEN, mode))
    try:
        reader.feed(data)
    except LaneFrameError:
        pass


def test_a_length_out_of_bounds_is_refused_before_waiting_for_it():
    with pytest.raises(LaneFrameError):
        frames.FrameReader(None).feed(frames.LEN.pack(frames.MAX_FRAME + 1))
    with pytest.raises(LaneFrameError):
        frames.FrameReader(None).feed(frames.LEN.pack(0))


def test_hello_round_trips_and_refuses_another_key_or_a_changed_byte():
    h = frames.hello(KEY, TOKEN, frames.MAC_EACH)
    assert len(h) == frames.HELLO_BYTES
    assert frames.read_hello(KEY, h) == (TOKEN, frames.MAC_EACH)
    with pytest.raises(LaneFrameError):
        frames.read_hello(b"x" * 32, h)
    for i in range(len(h)):
        bad = bytearray(h)
        bad[i] ^= 1
        with pytest.raises(LaneFrameError):
            frames.read_hello(KEY, bytes(bad))


@given(data=st.binary(min_size=frames.HELLO_BYTES, max_size=frames.HELLO_BYTES))
def test_random_hellos_are_refused(data):
    with pytest.raises(LaneFrameError):
        frames.read_hello(KEY, data)
