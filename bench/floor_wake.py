"""What one wake-up costs, the part of a lane hop that is not the lane's: the time from a byte
written to a watched file descriptor to the actor's receiveMessage (Thespian's receive loop,
multiprocTCPBase), against a plain process blocked in select() on the same kind of descriptor;
and four hops through plain processes over unix sockets with the lane's codec (no Thespian at
all). Microseconds / milliseconds; the writer stamps CLOCK_MONOTONIC just before its write.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import select
import socket
import struct
import tempfile
import time
from pathlib import Path

from thespian.actors import ActorTypeDispatcher, ThespianWatch, WatchMessage

from bench.floor_actors import hot_message
from bench.machine import free_port, quantiles
from polycopy.actors.system import start_system
from polycopy.lane.codec import Codec

STAMP = struct.Struct("!Q")


class Watcher(ActorTypeDispatcher):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fd = None
        self.rows: list = []

    def receiveMessage(self, msg, sender):
        t = time.monotonic_ns()
        if isinstance(msg, WatchMessage):
            data = os.read(self.fd, 4096)
            self.rows.extend((STAMP.unpack_from(data, i)[0], t) for i in range(0, len(data) - 7, STAMP.size))
        elif isinstance(msg, tuple) and msg[0] == "open":
            self.fd = os.open(msg[1], os.O_RDONLY | os.O_NONBLOCK)
            self.send(sender, "ok")
        elif isinstance(msg, tuple) and msg[0] == "dump":
            self.send(sender, self.rows)
        return ThespianWatch([self.fd]) if self.fd is not None else None


def _write_stamps(path: Path, n: int, rate: float) -> int:
    w = os.open(path, os.O_WRONLY)
    t = time.monotonic()
    for _ in range(n):
        os.write(w, STAMP.pack(time.monotonic_ns()))
        t += 1 / rate
        time.sleep(max(0.0, t - time.monotonic()))
    return w


def _plain(path: str, q) -> None:
    fd, rows = os.open(path, os.O_RDONLY | os.O_NONBLOCK), []
    while True:
        select.select([fd], [], [])
        t, data = time.monotonic_ns(), os.read(fd, 4096)
        if data == b"q" * 8:
            q.put(rows)
            return
        rows.extend((STAMP.unpack_from(data, i)[0], t) for i in range(0, len(data) - 7, STAMP.size))


def _hop(rx, tx, q) -> None:
    codec, rows = Codec(), []
    while True:
        select.select([rx], [], [])
        data, t = rx.recv(1 << 20), time.monotonic_ns()
        if data == b"q":
            q.put(rows)
            return
        msg = codec.decode(data)
        rows.append((msg.sent_ns, t))
        if tx is not None:
            tx.send(codec.encode(msg))


def measure(n: int = 400, rate: float = 200.0) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-wake-"))
    out = {}
    asys = start_system(free_port(), tmp / "state")
    try:
        fifo = tmp / "fifo-actor"
        os.mkfifo(fifo)
        actor = asys.createActor(Watcher)
        asys.ask(actor, ("open", str(fifo)), 10)
        os.close(_write_stamps(fifo, n, rate))
        time.sleep(0.2)
        rows = asys.ask(actor, ("dump",), 10)[20:]
        out["thespian_watch_us"] = quantiles((t - s) / 1e3 for s, t in rows)
    finally:
        asys.shutdown()
    fifo, q = tmp / "fifo-plain", mp.Queue()
    os.mkfifo(fifo)
    p = mp.Process(target=_plain, args=(str(fifo), q))
    p.start()
    w = _write_stamps(fifo, n, rate)
    os.write(w, b"q" * 8)
    out["plain_select_us"] = quantiles((t - s) / 1e3 for s, t in q.get(timeout=30)[20:])
    p.join()
    os.close(w)
    out["raw_chain_four_hops_ms"] = raw_chain(n, rate)
    return out


def raw_chain(n: int, rate: float) -> dict:
    """Five plain processes, four hops over unix sockets, the lane's codec, no Thespian."""
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(5)]
    q = mp.Queue()
    procs = [mp.Process(target=_hop, args=(pairs[i][1], pairs[i + 1][0] if i < 4 else None, q)) for i in range(5)]
    for p in procs:
        p.start()
    codec, t = Codec(), time.monotonic()
    for seq in range(n):
        pairs[0][0].send(codec.encode(hot_message(seq)))
        t += 1 / rate
        time.sleep(max(0.0, t - time.monotonic()))
    time.sleep(0.2)
    for a, _ in pairs:
        a.send(b"q")
    per_seq: dict = {}
    for _ in procs:
        for seq, stamp in q.get(timeout=30):
            per_seq.setdefault(seq, []).append(stamp)
    for p in procs:
        p.join()
    return quantiles((max(v) - min(v)) / 1e6 for s, v in per_seq.items() if len(v) == 5 and s >= 20)


if __name__ == "__main__":
    print(measure())
