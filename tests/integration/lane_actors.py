"""Bare actors with a lane, for tests on the real multiprocess base (tests/integration/test_lane.py).

`LaneActor` records the hot messages it handles and sends ranges of them when told; `Keeper` is
the parent of one sender and one receiver and does what the supervisor does for them: a first
message to each new child (its inbox opens), a restart when one dies, and the receiver's new
address to the sender (the supervisor's Peers).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from thespian.actors import ActorTypeDispatcher, ChildActorExited, ThespianWatch

from bench.floor_actors import hot_message
from polycopy.lane import Lane


@dataclass(frozen=True)
class Hello:
    pass


@dataclass(frozen=True)
class Target:
    addr: object


@dataclass(frozen=True)
class SendRange:
    first: int
    count: int


@dataclass(frozen=True)
class Report:
    pass


@dataclass(frozen=True)
class Reported:
    got: list
    stats: dict
    pid: int
    target: object


@dataclass(frozen=True)
class Start:
    receiver_cls: str = "lane"  # "lane" | "plain"


@dataclass(frozen=True)
class Pair:
    sender: object
    receiver: object
    restarts: int


class LaneActor(ActorTypeDispatcher):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lane = Lane(self, self._dispatch)
        self.got: list = []
        self.target = None

    def receiveMessage(self, msg, sender):
        msg = self.lane.receive(msg, sender)
        if msg is not None:
            self._dispatch(msg, sender)
        fds = self.lane.fds()
        return ThespianWatch(fds) if fds else None

    def _dispatch(self, msg, sender):
        super().receiveMessage(msg, sender)

    def receiveMsg_FillBatch(self, msg, sender):
        self.got.append(msg.sent_ns)

    def receiveMsg_Hello(self, msg, sender):
        pass

    def receiveMsg_Target(self, msg, sender):
        self.target = msg.addr
        self.lane.retain([msg.addr])

    def receiveMsg_SendRange(self, msg, sender):
        for seq in range(msg.first, msg.first + msg.count):
            self.lane.send(self.target, hot_message(seq))

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, Reported(got=list(self.got), stats=dict(self.lane.stats), pid=os.getpid(), target=self.target))

    def receiveMsg_ActorExitRequest(self, msg, sender):
        self.lane.close()


class PlainActor(ActorTypeDispatcher):
    """A receiver without a lane: what a sender falls back to Thespian for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.got: list = []

    def receiveMsg_FillBatch(self, msg, sender):
        self.got.append(msg.sent_ns)

    def receiveMsg_Hello(self, msg, sender):
        pass

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, Reported(got=list(self.got), stats={}, pid=os.getpid(), target=None))


class Keeper(ActorTypeDispatcher):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sender = self.receiver = None
        self.receiver_cls = LaneActor
        self.restarts = 0

    def receiveMsg_Start(self, msg, sender):
        self.receiver_cls = PlainActor if msg.receiver_cls == "plain" else LaneActor
        self.receiver = self._new(self.receiver_cls)
        self.sender = self._new(LaneActor)
        self.send(self.sender, Target(self.receiver))
        self.send(sender, Pair(self.sender, self.receiver, self.restarts))

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, Pair(self.sender, self.receiver, self.restarts))

    def receiveMsg_ChildActorExited(self, msg: ChildActorExited, sender):
        self.restarts += 1
        if msg.childAddress == self.receiver:
            self.receiver = self._new(self.receiver_cls)
        elif msg.childAddress == self.sender:
            self.sender = self._new(LaneActor)
        self.send(self.sender, Target(self.receiver))

    def _new(self, cls):
        addr = self.createActor(cls)
        self.send(addr, Hello())  # its first message: the inbox opens (the supervisor's Init)
        return addr
