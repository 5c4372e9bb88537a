"""The lane's wire: an authenticated hello per connection, then length-prefixed frames.

    hello:  MAGIC(4) | mode(1) | token(16) | HMAC(key, "hello" | mode | token)       (53 bytes)
    frame:  length(4, big-endian) | body                                  (mode 0, the default)
    frame:  length(4) | HMAC(conn_key, seq(8) | body)(32) | body          (mode 1, a MAC per frame)

Authentication is per connection: the hello proves the key; the inbox also checks the peer's
uid (SO_PEERCRED) and binds the connection to a Thespian sender (the LaneOpen marker, inbox.py),
and the inbox lives in a 0700 folder. Nobody but the connected peer can write into an accepted
unix stream connection, so a MAC on every frame adds no protection there; it costs two HMACs a
hop, which bench.floor measures (`lane_mac`). Mode 1 stays for that measurement and for a
deployment that wants it. `conn_key = HMAC(key, "conn" | token)`; `seq` counts the connection's
frames from 0 on both sides and is not sent, so a replayed or moved frame fails the check.
"""
from __future__ import annotations

import hmac
import secrets
import struct
from polycopy.errors import LaneFrameError

DIGEST = "sha256"
MAC_BYTES = 32
TOKEN_BYTES = 16
MAGIC = b"PCL2"
HELLO_BYTES = len(MAGIC) + 1 + TOKEN_BYTES + MAC_BYTES
MAX_FRAME = 16 * 2**20  # bytes after the length; a larger length is a broken or hostile peer
LEN = struct.Struct("!I")
SEQ = struct.Struct("!Q")
PLAIN, MAC_EACH = 0, 1




def new_token() -> bytes:
    return secrets.token_bytes(TOKEN_BYTES)


def hello(key: bytes, token: bytes, mode: int = PLAIN) -> bytes:
    head = MAGIC + bytes((mode,)) + token
    return head + hmac.digest(key, b"hello" + head[len(MAGIC):], DIGEST)


def read_hello(key: bytes, data: bytes) -> tuple[bytes, int]:
    """(token, mode) of a valid hello (exactly HELLO_BYTES long); LaneFrameError otherwise."""
    body, mac = data[len(MAGIC):len(MAGIC) + 1 + TOKEN_BYTES], data[len(MAGIC) + 1 + TOKEN_BYTES:]
    if (data[:len(MAGIC)] != MAGIC or len(mac) != MAC_BYTES or body[:1] not in (b"\x00", b"\x01")
            or not hmac.compare_digest(mac, hmac.digest(key, b"hello" + body, DIGEST))):
        raise LaneFrameError("bad hello")
    return body[1:], body[0]


def conn_key(key: bytes, token: bytes, mode: int) -> bytes | None:
    """The key of each frame's MAC, or None when frames carry none (mode PLAIN)."""
    return hmac.digest(key, b"conn" + token, DIGEST) if mode == MAC_EACH else None


def seal(ckey: bytes | None, seq: int, body: bytes) -> bytes:
    if ckey is None:
        return LEN.pack(len(body)) + body
    return LEN.pack(MAC_BYTES + len(body)) + hmac.digest(ckey, SEQ.pack(seq) + body, DIGEST) + body


class FrameReader:
    """Splits a connection's bytes into bodies (verified in mode MAC_EACH); keeps a partial frame."""

    def __init__(self, ckey: bytes | None):
        self._ckey = ckey
        self._mac = MAC_BYTES if ckey is not None else 0
        self._seq = 0
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Every complete frame's body, in order. Raises LaneFrameError at the first one that fails."""
        buf = self._buf
        buf += data
        out, pos, end, mac_n = [], 0, len(buf), self._mac
        while end - pos >= LEN.size:
            (n,) = LEN.unpack_from(buf, pos)
            if n <= mac_n or n > MAX_FRAME:
                raise LaneFrameError(f"frame length {n} out of bounds")
            if end - pos - LEN.size < n:
                break
            start = pos + LEN.size
            body = bytes(buf[start + mac_n:start + n])
            if mac_n:
                mac = bytes(buf[start:start + mac_n])
                if not hmac.compare_digest(mac, hmac.digest(self._ckey, SEQ.pack(self._seq) + body, DIGEST)):
                    raise LaneFrameError("frame MAC does not verify")
            self._seq += 1
            out.append(body)
            pos = start + n
        del buf[:pos]
        return out

    @property
    def partial(self) -> int:
        """Bytes of an incomplete frame held back (dropped if the connection ends there)."""
        return len(self._buf)
