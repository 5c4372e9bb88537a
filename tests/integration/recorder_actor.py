"""A stand-in actor that records the fills it receives (for tests on a real actor system)."""
from dataclasses import dataclass

from thespian.actors import ActorTypeDispatcher


@dataclass
class GetCollected:
    pass


@dataclass
class Collected:
    keys: list


class Collector(ActorTypeDispatcher):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.keys = []

    def receiveMsg_FillBatch(self, msg, sender):
        self.keys.extend(f.key for f in msg.fills)

    def receiveMsg_GetCollected(self, msg, sender):
        self.send(sender, Collected(keys=list(self.keys)))
