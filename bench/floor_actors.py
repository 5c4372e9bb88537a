"""The bare actors of bench.floor: a chain link that stamps each message's arrival and forwards it
at once, over one transport per chain. No work, so a chain's four hops are the transport alone.

Transports (`KINDS`): Thespian's TCP (`self.send`); the lane (polycopy.lane: unix socket
authenticated per connection, msgspec; `lane_mac` adds a MAC to every frame, `lane_pickle` uses
pickle instead of msgspec); `mpconn`, multiprocessing.connection over
AF_UNIX with `authkey` (a blocking HMAC handshake per connection, pickle); `zmq`, pyzmq PUSH/PULL
over ipc:// (no authentication but the folder's permissions, msgspec). The last two are here to
be measured, not used: their sends and handshakes can block the actor.
"""
from __future__ import annotations

import time
from decimal import Decimal

from thespian.actors import ActorTypeDispatcher, ThespianWatch, WatchMessage

from polycopy.lane import Lane, wiring
from polycopy.lane.codec import Codec
from polycopy.messages import FillBatch, Market, SourceFill

KINDS = ("thespian", "lane", "lane_mac", "lane_pickle", "mpconn", "zmq")
MARKET = Market(condition_id="0x" + "c" * 64, token_ids=("1" * 77, "2" * 77), outcomes=("Up", "Down"),
                end_ts=1_800_000_900, tick_size=Decimal("0.01"), min_order_size=Decimal("5"), neg_risk=False,
                slug="btc-updown-15m-1800000000", title="Bitcoin Up or Down")
FILL = SourceFill(key=f"0x{'a' * 64}|{'1' * 77}|BUY|0.53|12.5|0", source_wallet="0x" + "d" * 40,
                  condition_id=MARKET.condition_id, token_id="1" * 77, outcome="Up", side="BUY", price=Decimal("0.53"),
                  size=Decimal("12.5"), tx_hash="0x" + "a" * 64, source_ts_ms=1_800_000_123_456, feed="rtds",
                  recv_mono_ns=1, slug=MARKET.slug)


def hot_message(seq: int) -> FillBatch:
    """What intake sends a coalescer for one fill (about 1 KB); `sent_ns` carries the sequence number."""
    return FillBatch(fills=(FILL,), sent_ns=seq, market=MARKET)


class Hop(ActorTypeDispatcher):
    """Control through Thespian: ("setup", kind, next address or None), ("one", seq),
    ("burst", first seq, count), ("dump",) -> [(seq, arrival ns)]."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.link = None
        self.lane: Lane | None = None
        self.arrivals: list = []

    def receiveMessage(self, msg, sender):
        if self.lane is not None:
            msg = self.lane.receive(msg, sender)
        if isinstance(msg, WatchMessage) and self.link is not None:
            for m in self.link.read(msg.ready):
                self.receiveMsg_FillBatch(m, None)
        elif msg is not None:
            super().receiveMessage(msg, sender)
        fds = (self.lane.fds() if self.lane is not None else []) + (self.link.fds() if self.link is not None else [])
        return ThespianWatch(fds) if fds else None

    def _dispatch(self, msg, sender):
        super().receiveMessage(msg, sender)

    def receiveMsg_FillBatch(self, msg, sender):
        self.arrivals.append((msg.sent_ns, time.monotonic_ns()))
        if self.link is not None and self.link.next is not None:
            self.link.send(msg)

    def receiveMsg_tuple(self, msg, sender):
        kind = msg[0]
        if kind == "setup":
            self.link = make_link(self, msg[1], msg[2])
            self.send(sender, "ok")
        elif kind == "one":
            self.arrivals.append((msg[1], time.monotonic_ns()))
            self.link.send(hot_message(msg[1]))
        elif kind == "burst":
            first, count = msg[1], msg[2]
            t0 = time.monotonic_ns()  # the frames of one transaction, all here at once
            for seq in range(first, first + count):
                self.arrivals.append((seq, t0))
                self.link.send(hot_message(seq))
        elif kind == "dump":
            self.send(sender, list(self.arrivals))


def make_link(actor: Hop, kind: str, nxt):
    if kind == "thespian":
        return ThespianLink(actor, nxt)
    if kind in ("lane", "lane_mac", "lane_pickle"):
        actor.lane = Lane(actor, actor._dispatch, codec=Codec(use_msgspec=kind != "lane_pickle"), frame_mac=kind == "lane_mac")
        actor.lane.open()  # normally: on the actor's first message
        return LaneLink(actor, nxt)
    if kind == "mpconn":
        return MpConnLink(actor, nxt)
    if kind == "zmq":
        return ZmqLink(actor, nxt)
    raise ValueError(kind)


class ThespianLink:
    def __init__(self, actor, nxt):
        self.actor, self.next = actor, nxt

    def send(self, msg):
        self.actor.send(self.next, msg)

    def fds(self):
        return []

    def read(self, ready):
        return []


class LaneLink(ThespianLink):
    def send(self, msg):
        self.actor.lane.send(self.next, msg)


def _path(name: str, addr):
    return str(wiring.settings().folder / f"{name}-{wiring.endpoint(addr)}.sock")


class MpConnLink(ThespianLink):
    def __init__(self, actor, nxt):
        from multiprocessing.connection import Client, Listener

        super().__init__(actor, nxt)
        key = wiring.settings().key
        self.listener = Listener(_path("mp", actor.myAddress), family="AF_UNIX", authkey=key)
        self.lfd = self.listener._listener._socket.fileno()
        self.conns: dict = {}
        self.out = Client(_path("mp", nxt), family="AF_UNIX", authkey=key) if nxt is not None else None

    def send(self, msg):
        self.out.send(msg)

    def fds(self):
        return [self.lfd, *self.conns]

    def read(self, ready):
        out = []
        for fd in ready:
            if fd == self.lfd:
                conn = self.listener.accept()  # blocks for the HMAC handshake
                self.conns[conn.fileno()] = conn
            elif fd in self.conns:
                conn = self.conns[fd]
                try:
                    while conn.poll():
                        out.append(conn.recv())
                except EOFError:
                    del self.conns[fd]
        return out


class ZmqLink(ThespianLink):
    def __init__(self, actor, nxt):
        import zmq

        super().__init__(actor, nxt)
        self.zmq, self.codec = zmq, Codec()
        ctx = zmq.Context.instance()
        self.pull = ctx.socket(zmq.PULL)
        self.pull.bind("ipc://" + _path("zmq", actor.myAddress))
        self.fd = self.pull.getsockopt(zmq.FD)
        self.push = None
        if nxt is not None:
            self.push = ctx.socket(zmq.PUSH)
            self.push.connect("ipc://" + _path("zmq", nxt))

    def send(self, msg):
        self.push.send(self.codec.encode(msg), self.zmq.NOBLOCK)

    def fds(self):
        return [self.fd]

    def read(self, ready):
        out = []
        while self.pull.getsockopt(self.zmq.EVENTS) & self.zmq.POLLIN:  # the FD is edge-triggered: drain
            out.append(self.codec.decode(self.pull.recv(self.zmq.NOBLOCK)))
        return out
