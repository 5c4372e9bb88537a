"""The actor transport's MAC: checked before anything is unpickled; the key file is private."""
from __future__ import annotations

import inspect
import os
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from thespian.system.transport import TCPTransport, streamBuffer

from polycopy.actors import transport_auth
from polycopy.actors.transport_auth import SignedPickle, UnauthenticatedFrame
from polycopy.errors import OperationalError

KEY = bytes(range(32))


class Marker:
    """Unpickling this creates a file: what an attacker's pickle would do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_thespian_still_calls_the_name_we_replace():
    """An upgrade that stops reading the module global would silently unauthenticate everything."""
    assert TCPTransport.serializer is pickle or isinstance(TCPTransport.serializer, SignedPickle)
    assert "serializer.dumps" in inspect.getsource(TCPTransport.TCPTransport.serializer)
    assert "ReceiveBuffer(serializer.loads)" in inspect.getsource(TCPTransport.TCPIncoming_Common.__init__)
    assert "ReceiveBuffer(serializer.loads)" in inspect.getsource(TCPTransport.TCPTransport._next_XMIT_3)


def test_a_signed_message_round_trips_and_any_change_is_refused():
    ser = SignedPickle(KEY)
    frame = ser.dumps(("sender", {"a": 1}))
    assert ser.loads(frame) == ("sender", {"a": 1})
    for i in (0, 31, 32, len(frame) - 1):  # the MAC and the body
        bad = bytearray(frame)
        bad[i] ^= 1
        with pytest.raises(UnauthenticatedFrame):
            ser.loads(bytes(bad))
    with pytest.raises(UnauthenticatedFrame):
        SignedPickle(bytes(32)).loads(frame)  # another run's key
    assert ser.dropped == 4


def test_a_plain_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "marker"
    payload = pickle.dumps(Marker(marker))
    with pytest.raises(UnauthenticatedFrame):
        SignedPickle(KEY).loads(payload)
    with pytest.raises(UnauthenticatedFrame):
        SignedPickle(KEY).loads(b"\0" * 32 + payload)  # behind a made-up MAC
    assert not marker.exists()
    pickle.loads(payload)  # the control: the payload is real
    assert marker.exists()


def test_the_fixed_ack_frames_pass_unsigned_and_are_not_unpickled(monkeypatch):
    ser = SignedPickle(KEY)
    monkeypatch.setattr(transport_auth.pickle, "loads", lambda _b: pytest.fail("unpickled"))
    for frame, value in ((streamBuffer.ackMsg, streamBuffer.ackPacket), (streamBuffer.ackDataErrMsg, streamBuffer.ackDataErrPacket)):
        assert ser.loads(frame[frame.index(b">") + 1:]) == value


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_are_refused_before_pickle_sees_them(data):
    ser = SignedPickle(KEY)
    real_loads = pickle.loads
    try:
        transport_auth.pickle.loads = lambda _b: pytest.fail("unpickled")
        with pytest.raises(UnauthenticatedFrame):
            ser.loads(data)
    finally:
        transport_auth.pickle.loads = real_loads


def test_drops_are_counted_and_logged_at_most_once_a_minute(monkeypatch):
    from loguru import logger

    lines = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    now = [1000.0]
    monkeypatch.setattr(transport_auth.time, "monotonic", lambda: now[0])
    ser = SignedPickle(KEY)
    try:
        for t in (1000.0, 1001.0, 1030.0, 1059.9, 1060.5, 1061.0):
            now[0] = t
            with pytest.raises(UnauthenticatedFrame):
                ser.loads(b"x" * 40)
    finally:
        logger.remove(sink)
    assert ser.dropped == 6
    assert len(lines) == 2
    assert "dropped 1 unauthenticated" in lines[0] and "dropped 4 unauthenticated" in lines[1] and "(5 since start)" in lines[1]


def test_the_key_file_is_private_and_a_shared_or_damaged_one_is_refused(tmp_path):
    path = tmp_path / "actors-1.key"
    key = transport_auth.new_key_file(path)
    assert len(key) == 32 and oct(path.stat().st_mode & 0o777) == "0o600"
    assert transport_auth.read_key_file(path) == key
    assert transport_auth.new_key_file(path) != key  # a new run, a new key
    os.chmod(path, 0o644)
    with pytest.raises(OperationalError, match="readable by others"):
        transport_auth.read_key_file(path)
    os.chmod(path, 0o600)
    path.write_text("not hex\n")
    with pytest.raises(OperationalError, match="damaged"):
        transport_auth.read_key_file(path)
    with pytest.raises(OperationalError, match="no transport key"):
        transport_auth.read_key_file(tmp_path / "missing.key")
