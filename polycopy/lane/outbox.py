"""The sending half of the lane: one connection per receiving actor, written without ever blocking.

`send` seals the message and writes what the socket takes now; the rest waits in the
connection's queue (bounded by MAX_PENDING_BYTES) and is written on the next send, on the
flush timer the lane sets, or on any message the actor handles. A message travels through
Thespian instead (`actor.send`, the path it had before the lane) when:
- the receiver has no inbox at its address (lane off there, not yet open, or dead): ENOENT or
  ECONNREFUSED; the lane is tried again after RETRY_S;
- the connection breaks (EPIPE, ECONNRESET: the receiver died): every message not yet fully
  written goes through Thespian, in order. A message fully written to a receiver that then
  died is lost, like a Thespian message the receiver had taken in but not yet handled;
- the queue overflows (the receiver is hung or far behind): the connection is closed and
  everything unwritten goes through Thespian, in order, which queues without bound as it always
  did. The receiver handles what it had already read, and drops the cut frame.
Nothing is ever written twice, so nothing is handled twice; the receiver's ordering rules
(inbox.py) keep one sender's messages in order across the switches.
"""
from __future__ import annotations

import socket
import time
from collections import deque
from datetime import timedelta
from pathlib import Path

from polycopy.lane import frames
from polycopy.lane.codec import Codec
from polycopy.lane.messages import LaneOpen
from polycopy.lane.wiring import endpoint, inbox_path

MAX_PENDING_BYTES = 4 * 2**20
RETRY_S = 0.2  # a failed connect costs ~10-20 us: cheap enough to try five times a second
FLUSH = "lane-flush"  # the payload of the lane's own wakeups
FLUSH_AFTER = timedelta(milliseconds=1)
SEND_FLAGS = socket.MSG_NOSIGNAL  # a dead peer is EPIPE, never a SIGPIPE


class OutConn:
    __slots__ = ("addr", "sock", "ckey", "seq", "queue", "queued_bytes")

    def __init__(self, addr, sock: socket.socket, ckey: bytes):
        self.addr, self.sock, self.ckey = addr, sock, ckey
        self.seq = 0
        self.queue: deque = deque()  # [message, frame, bytes of it written]
        self.queued_bytes = 0


class Outbox:
    def __init__(self, actor, folder: Path, key: bytes, codec: Codec, stats: dict, log, frame_mac: bool = False,
                 thespian_send=None, clock=time.monotonic):
        self._actor, self._folder, self._key, self._codec = actor, folder, key, codec
        self._thespian = thespian_send or actor.send
        self._mode = frames.MAC_EACH if frame_mac else frames.PLAIN
        self.stats, self.log, self._clock = stats, log, clock
        self._conns: dict[int, OutConn] = {}  # port -> connection
        self._retry_at: dict[int, float] = {}  # port -> when to try the lane again
        self._flush_set = False

    def send(self, addr, msg) -> None:
        """Send on the lane if the receiver has one, else through Thespian."""
        port = endpoint(addr)
        conn = self._conns.get(port) if port is not None else None
        if conn is not None and conn.addr is not addr and conn.addr != addr:
            self._fail(port, "its port now belongs to another actor", retry=False)  # the old one died, port reused
            conn = None
        if conn is None and port is not None:
            conn = self._connect(addr, port)
        if conn is None:
            self.stats["fallback"] += 1
            self._thespian(addr, msg)
            return
        frame = frames.seal(conn.ckey, conn.seq, self._codec.encode(msg))
        conn.seq += 1
        conn.queue.append([msg, frame, 0])
        conn.queued_bytes += len(frame)
        self._write(conn, port)

    def flush(self) -> bool:
        """Write what waits; True while something still waits."""
        for port, conn in list(self._conns.items()):
            if conn.queue:
                self._write(conn, port)
        return any(c.queue for c in self._conns.values())

    @property
    def waiting(self) -> bool:
        """A flush timer is set: something may still wait to be written."""
        return self._flush_set

    def on_flush_timer(self) -> None:
        self._flush_set = False
        if self.flush():
            self._arm()

    def retain(self, addrs) -> None:
        """Close connections to addresses no longer among the peers (a restarted or retired receiver)."""
        keep = {endpoint(a) for a in addrs}
        for port in [p for p in self._conns if p not in keep]:
            self._fail(port, "gone from the peers", retry=False)
        self._retry_at = {p: t for p, t in self._retry_at.items() if p in keep}

    def close(self) -> None:
        for port in list(self._conns):
            self._fail(port, "closing", retry=False)

    # ------------------------------------------------------------ internals

    def _connect(self, addr, port: int) -> OutConn | None:
        if self._retry_at.get(port, 0.0) > self._clock():
            return None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        token = frames.new_token()
        try:
            sock.connect(str(inbox_path(self._folder, port)))
            sock.send(frames.hello(self._key, token, self._mode), SEND_FLAGS)  # 53 bytes, fresh socket: never partial
        except OSError:  # no inbox there (ENOENT, ECONNREFUSED), or its backlog is full (EAGAIN)
            sock.close()
            self._retry_at[port] = self._clock() + RETRY_S
            return None
        self._thespian(addr, LaneOpen(token=token))  # through Thespian, after all we sent it there
        conn = self._conns[port] = OutConn(addr, sock, frames.conn_key(self._key, token, self._mode))
        self.stats["connects"] += 1
        return conn

    def _write(self, conn: OutConn, port: int) -> None:
        q = conn.queue
        while q:
            item = q[0]
            msg, frame, done = item
            try:
                n = conn.sock.send(memoryview(frame)[done:], SEND_FLAGS)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self._fail(port, f"{type(e).__name__}")
                return
            conn.queued_bytes -= n
            if done + n < len(frame):
                item[2] = done + n
                break
            q.popleft()
            self.stats["sent"] += 1
        if conn.queued_bytes > MAX_PENDING_BYTES:
            self.stats["overflows"] += 1
            self._fail(port, f"receiver {conn.queued_bytes} bytes behind")
        elif q:
            self._arm()

    def _fail(self, port: int, why: str, retry: bool = True) -> None:
        """Close one connection; what it has not fully written goes through Thespian, in order.
        `retry`: the receiver broke or lagged, so wait RETRY_S before connecting to that port again."""
        conn = self._conns.pop(port)
        conn.sock.close()
        if retry:
            self._retry_at[port] = self._clock() + RETRY_S
        if conn.queue:
            self.log.warning("lane to {}: {}; {} message(s) go through Thespian", conn.addr, why, len(conn.queue))
        for msg, _, _ in conn.queue:
            self.stats["fallback"] += 1
            self._thespian(conn.addr, msg)
        conn.queue.clear()

    def _arm(self) -> None:
        if not self._flush_set:
            self._flush_set = True
            self._actor.wakeupAfter(FLUSH_AFTER, payload=FLUSH)
