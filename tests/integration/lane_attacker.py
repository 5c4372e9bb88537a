"""Another local program writing to an actor's lane inbox, run as its own process (no key):

    python -m tests.integration.lane_attacker INBOX_PATH MARKER_PATH

Three connections, each carrying a pickle that would create MARKER_PATH when unpickled: frames
with no hello; a hello keyed with a random key; a hello of the right shape with a MAC of zeros.
Prints how many connections the inbox closed on it.
"""
from __future__ import annotations

import os
import pickle
import socket
import struct
import sys

from polycopy.lane import frames


class Marker:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def attempt(path: str, prelude: bytes, body: bytes) -> bool:
    """True if the inbox closed the connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        try:
            frame = struct.pack("!I", len(body)) + body
            s.sendall(prelude + frame + frame)
            return s.recv(1) == b""
        except (BrokenPipeError, ConnectionResetError):
            return True


def main(path: str, marker: str) -> None:
    body = bytes((0,)) + pickle.dumps(Marker(marker))
    token = os.urandom(frames.TOKEN_BYTES)
    closed = [
        attempt(path, b"", body),
        attempt(path, frames.hello(os.urandom(32), token), body),
        attempt(path, frames.MAGIC + b"\x00" + token + bytes(frames.MAC_BYTES), body),
    ]
    print(sum(closed))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
