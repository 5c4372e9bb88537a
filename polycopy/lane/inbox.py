"""The receiving half of the lane: one listening unix socket per actor, watched from its Thespian loop.

A connection is read only once it is *confirmed*: its hello verified (the key) and the sender's
`LaneOpen` marker with the same token received through Thespian. Thespian keeps one sender's
messages to one receiver in order, so everything that sender sent through Thespian before it
opened the lane has been handled when the marker arrives; only then are the lane's frames
handled. The marker's Thespian sender is the address every frame of the connection is handled
as coming from. An unconfirmed connection is not watched (its bytes wait in the kernel, which
bounds them); at most MAX_UNCONFIRMED wait, the oldest is closed first.

The other direction (a sender falls back from the lane to Thespian) is kept in order by
`drain(sender)`: before a Thespian message from a sender is handled, whatever that sender wrote
on its lane is read and handled first. Its bytes were in our socket before its Thespian send.

Thespian builds a new selector and registers every watched descriptor on each turn of its loop,
so the inbox hands it one: an epoll descriptor of its own that holds the listener and every
connection being read. A receiver with a hundred senders (risk and the coalescers) costs
Thespian's loop what one does.
"""
from __future__ import annotations

import os
import select
import socket
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from polycopy.lane import frames
from polycopy.errors import LaneCodecError, LaneFrameError
from polycopy.lane.codec import Codec

READ_BYTES = 256 * 1024
MAX_UNCONFIRMED = 64
PEERCRED = struct.Struct("3i")  # pid, uid, gid


class InConn:
    __slots__ = ("sock", "fd", "hello", "token", "reader", "sender", "sender_key")

    def __init__(self, sock: socket.socket):
        self.sock, self.fd = sock, sock.fileno()
        self.hello = b""
        self.token = b""
        self.reader: frames.FrameReader | None = None
        self.sender = None  # ActorAddress, once confirmed
        self.sender_key = None


class Inbox:
    def __init__(self, path: Path, key: bytes, codec: Codec, deliver: Callable, stats: dict, log):
        self.path, self._key, self._codec, self._deliver, self.stats, self.log = path, key, codec, deliver, stats, log
        path.unlink(missing_ok=True)  # a file at our port's path is a dead actor's: the port is ours now
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.setblocking(False)
        self._listener.bind(str(path))
        os.chmod(path, 0o600)
        self._listener.listen(128)
        self._ep = select.epoll()
        self._ep.register(self._listener.fileno(), select.EPOLLIN)
        self._conns: dict[int, InConn] = {}  # fd -> connection being read (hello or confirmed), in _ep
        self._parked: OrderedDict[bytes, InConn] = OrderedDict()  # token -> hello read, marker not yet
        self._expected: OrderedDict[bytes, tuple] = OrderedDict()  # token -> (sender, key): marker first
        self._by_sender: dict = {}  # sender key -> confirmed connection

    def fds(self) -> list[int]:
        return [self._ep.fileno()]

    # ------------------------------------------------------------ Thespian loop events

    def on_ready(self, ready) -> set:
        """Handle the inbox's events if its fd is among `ready`; returns the fds that were ours."""
        if self._ep.fileno() not in ready:
            return set()
        for fd, _ in self._ep.poll(0):
            if fd == self._listener.fileno():
                self._accept()
            elif fd in self._conns:
                self._read(self._conns[fd])
        return {self._ep.fileno()}

    def confirm(self, token: bytes, sender, sender_key) -> None:
        """The sender's LaneOpen marker arrived through Thespian."""
        self._accept()  # its connection and hello reached us before the marker: take them now
        conn = self._parked.pop(token, None)
        if conn is None:
            self._expected[token] = (sender, sender_key)
            while len(self._expected) > MAX_UNCONFIRMED:
                self._expected.popitem(last=False)
            return
        self._open(conn, sender, sender_key)

    def drain(self, sender_key) -> None:
        """Handle what this sender already wrote on the lane (before its Thespian message)."""
        if self._expected:  # a marker waits for its connection, which may not be accepted yet
            self._accept()
        conn = self._by_sender.get(sender_key)
        if conn is not None:
            self._read(conn)

    def close(self) -> None:
        for conn in [*self._conns.values(), *self._parked.values()]:
            conn.sock.close()
        self._conns.clear()
        self._parked.clear()
        self._by_sender.clear()
        self._ep.close()
        self._listener.close()
        self.path.unlink(missing_ok=True)

    # ------------------------------------------------------------ internals

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # EMFILE and the like: leave it queued, say so
                self.log.warning("lane: accept failed: {}", e)
                return
            sock.setblocking(False)
            _, uid, _ = PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEERCRED.size))
            if uid != os.getuid():
                self._reject(InConn(sock), f"peer uid {uid}")
                continue
            conn = InConn(sock)
            self._watch(conn)
            self._read(conn)

    def _read(self, conn: InConn) -> None:
        while conn.fd in self._conns:
            want = frames.HELLO_BYTES - len(conn.hello) if conn.reader is None else READ_BYTES
            try:
                data = conn.sock.recv(want)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._end(conn)
                return
            if conn.reader is None:
                self._read_hello(conn, data)
                if conn.reader is None or conn.sender is None:
                    return  # hello incomplete, rejected, or parked until its marker
                continue
            try:
                bodies = conn.reader.feed(data)
            except LaneFrameError as e:
                self._reject(conn, str(e))
                return
            for body in bodies:
                self._handle(conn, body)
            if len(data) < want:
                return  # the kernel had no more (one recv, not a second that fails: a hop's cost counts)

    def _read_hello(self, conn: InConn, data: bytes) -> None:
        conn.hello += data
        if len(conn.hello) < frames.HELLO_BYTES:
            return
        try:
            conn.token, mode = frames.read_hello(self._key, conn.hello)
        except LaneFrameError as e:
            self._reject(conn, str(e))
            return
        conn.reader = frames.FrameReader(frames.conn_key(self._key, conn.token, mode))
        expected = self._expected.pop(conn.token, None)
        if expected is not None:
            conn.sender, conn.sender_key = expected
            self._by_sender[conn.sender_key] = conn
            return
        self._unwatch(conn)  # parked: not read until the marker comes
        self._parked[conn.token] = conn
        while len(self._parked) > MAX_UNCONFIRMED:
            self._parked.popitem(last=False)[1].sock.close()

    def _open(self, conn: InConn, sender, sender_key) -> None:
        conn.sender, conn.sender_key = sender, sender_key
        old = self._by_sender.get(sender_key)
        if old is not None and old is not conn:
            self._read(old)  # a sender that reconnected: its older connection's frames come first
        self._by_sender[sender_key] = conn
        self._watch(conn)
        self._read(conn)

    def _handle(self, conn: InConn, body: bytes) -> None:
        try:
            msg = self._codec.decode(body)
        except LaneCodecError as e:
            self.stats["decode_errors"] += 1
            self.log.error("lane: a frame from {} could not be decoded ({}); it is lost", conn.sender, e)
            return
        self.stats["received"] += 1
        try:
            self._deliver(msg, conn.sender)
        except Exception as e:  # noqa: BLE001 - raising here would lose the frames read after this one
            self.stats["handler_errors"] += 1
            self.log.exception("lane: the handler for {} failed: {}", type(msg).__name__, e)

    def _end(self, conn: InConn) -> None:
        if conn.reader is not None and conn.reader.partial:
            self.stats["partial_dropped"] += 1  # the sender sent that message again through Thespian
        self._drop(conn)

    def _reject(self, conn: InConn, why: str) -> None:
        self.stats["rejected"] += 1
        self.log.warning("lane: closed a connection to {} ({})", self.path.name, why)
        self._drop(conn)

    def _watch(self, conn: InConn) -> None:
        self._conns[conn.fd] = conn
        self._ep.register(conn.fd, select.EPOLLIN)

    def _unwatch(self, conn: InConn) -> None:
        if self._conns.pop(conn.fd, None) is not None:
            self._ep.unregister(conn.fd)

    def _drop(self, conn: InConn) -> None:
        self._unwatch(conn)
        if conn.sender_key is not None and self._by_sender.get(conn.sender_key) is conn:
            del self._by_sender[conn.sender_key]
        conn.sock.close()
