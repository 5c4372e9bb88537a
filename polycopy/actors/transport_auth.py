"""Every message between polycopy's processes is authenticated before it is unpickled.

Thespian 4.0.1's TCP transport frames a message as `b'<len>>' + pickle.dumps((sender, message))`
and unpickles whatever reaches a port (THESPIAN.md §9): any local user could run code inside the
process tree that holds the private key. `SignedPickle` replaces the transport's module-level
`serializer`: `dumps` puts an HMAC-SHA256 of the pickled bytes, keyed with a per-run random key,
in front of them; `loads` checks it (constant time) before `pickle.loads` and refuses anything
else, so a frame without the key is dropped unread (Thespian answers ACK+DATAERR and closes that
socket), counted, and logged at most once a minute per process.

Installed before `ActorSystem()` in every process that talks to the system (`system.py`); the
admin, logger and actor processes are forks and inherit it. The key lives in a 0600 file in the
state folder, written by the process that starts the system, read by `--status`, `--shutdown`,
`--kill`. Thespian's two fixed ACK frames stay unsigned (the transport builds them at import):
they are matched byte for byte and never unpickled here.

Limits (README): no encryption, no replay protection (a captured frame can be sent again), the
ACK frames can be forged, and root or this user can read the key. The patched name is private
to Thespian: tests/unit/test_transport_auth.py fails if an upgrade moves it.
"""
from __future__ import annotations

import hmac
import os
import pickle
import secrets
import time
from pathlib import Path

from loguru import logger
from thespian.system.transport import TCPTransport
from thespian.system.transport.streamBuffer import ackDataErrMsg, ackDataErrPacket, ackMsg, ackPacket

from polycopy.errors import OperationalError, UnauthenticatedFrame

DIGEST = "sha256"
MAC_BYTES = 32
KEY_BYTES = 32
LOG_EVERY_S = 60.0
# The unsigned transport ACKs, without their length prefix -> what they decode to.
ACKS = {ackMsg[ackMsg.index(b">") + 1:]: ackPacket, ackDataErrMsg[ackDataErrMsg.index(b">") + 1:]: ackDataErrPacket}


class SignedPickle:
    """The `dumps`/`loads` pair Thespian's TCP transport calls, with a MAC in front."""

    def __init__(self, key: bytes):
        if len(key) != KEY_BYTES:
            raise ValueError("the transport key must be 32 bytes")
        self._key = key
        self.dropped = 0
        self._logged = 0  # dropped count at the last log line
        self._logged_at = float("-inf")

    def dumps(self, obj) -> bytes:
        body = pickle.dumps(obj)
        return hmac.digest(self._key, body, DIGEST) + body

    def loads(self, data: bytes):
        ack = ACKS.get(data)
        if ack is not None:
            return ack
        mac, body = data[:MAC_BYTES], data[MAC_BYTES:]
        if len(mac) < MAC_BYTES or not hmac.compare_digest(mac, hmac.digest(self._key, body, DIGEST)):
            self._count_drop()
            raise UnauthenticatedFrame("frame without a valid MAC dropped unread")
        return pickle.loads(body)  # noqa: S301 - authenticated: written by a process holding the key

    def _count_drop(self) -> None:
        self.dropped += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            logger.warning("actor transport: dropped {} unauthenticated frame(s) unread in process {} ({} since start); "
                           "another local program is writing to polycopy's ports", self.dropped - self._logged,
                           os.getpid(), self.dropped)
            self._logged, self._logged_at = self.dropped, now


def install(key: bytes) -> SignedPickle:
    """Make this process (and every process it forks from now on) sign and check every frame."""
    ser = SignedPickle(key)
    TCPTransport.serializer = ser
    return ser


def installed() -> SignedPickle | None:
    ser = TCPTransport.serializer
    return ser if isinstance(ser, SignedPickle) else None


def new_key_file(path: Path) -> bytes:
    """A fresh random key, written 0600 (create, fsync, rename: never a half-written key)."""
    key = secrets.token_bytes(KEY_BYTES)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, key.hex().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return key


def read_key_file(path: Path) -> bytes:
    """The running system's key. Refuses a key other users could read: it would not be secret."""
    try:
        st = path.stat()
        text = path.read_text().strip()
    except FileNotFoundError:
        raise OperationalError(f"no transport key at {path}: something answers on the admin port, but not a "
                               f"polycopy started with this config (its state folder holds the key)") from None
    except OSError as e:
        raise OperationalError(f"cannot read the transport key {path}: {e.strerror}") from None
    shared, foreign = st.st_mode & 0o077, os.getuid() not in (0, st.st_uid)  # root may read the bot user's key
    if shared or foreign:
        raise OperationalError(f"the transport key {path} is readable by others or not ours: refusing it")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise OperationalError(f"the transport key {path} is damaged")
    return key
