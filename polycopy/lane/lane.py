"""One actor's lane: its inbox, and its connections to other actors' inboxes.

The actor calls `receive(msg, sender)` first thing for every message Thespian hands it and
handles only what it returns; `fds()` go into the ThespianWatch it returns; hot-path messages
leave with `lane.send(addr, msg)` instead of `self.send(addr, msg)`. Lane frames are handed to
`dispatch(msg, sender)`, the same function that handles Thespian messages, with the sender's
Thespian address: a handler cannot tell which way a message came, and its answer can go either
way. With no lane configured (`wiring.configure`) or a receiver without an inbox, `send` is
`actor.send`, exactly the path the message had before. A handler that raises on a lane message
is logged and counted, never re-raised: Thespian would retry the WatchMessage, and the frames
read after that one would be lost (ChildActor's dispatch catches everything anyway).
"""
from __future__ import annotations

from collections import Counter
from typing import Callable

from loguru import logger
from thespian.actors import ActorSystemMessage, WakeupMessage, WatchMessage

from polycopy.lane import wiring
from polycopy.lane.codec import Codec
from polycopy.lane.inbox import Inbox
from polycopy.lane.messages import LaneOpen
from polycopy.lane.outbox import FLUSH, Outbox

# sent/received: messages over the lane; fallback: messages `send` passed to Thespian, for any reason
STATS = ("sent", "received", "fallback", "connects", "overflows", "rejected", "decode_errors", "partial_dropped",
         "handler_errors")


class Lane:
    def __init__(self, actor, dispatch: Callable, settings: wiring.LaneSettings | None = None, codec: Codec | None = None,
                 frame_mac: bool | None = None, thespian_send: Callable | None = None):
        self._actor, self._dispatch = actor, dispatch
        self._thespian = thespian_send or actor.send  # Thespian's own send: an actor that routes its
        # `send` through the lane passes the base class's here (the marker and fallbacks use it)
        self._settings = settings if settings is not None else wiring.settings()
        self._frame_mac = frame_mac
        self._codec = codec
        self.stats: Counter = Counter({k: 0 for k in STATS})
        self.log = getattr(actor, "log", logger)
        self.inbox: Inbox | None = None
        self.outbox: Outbox | None = None
        self._started = False
        self._port = None  # our own Thespian port, once started

    def _start(self) -> None:
        """Open the inbox at the actor's own address (its first message: myAddress is known by then)."""
        self._started = True
        self._port = port = wiring.endpoint(self._actor.myAddress)
        if self._settings is None or port is None:
            return
        folder, key = self._settings.folder, self._settings.key
        codec = self._codec or Codec()
        frame_mac = self._settings.frame_mac if self._frame_mac is None else self._frame_mac
        self.outbox = Outbox(self._actor, folder, key, codec, self.stats, self.log, frame_mac=frame_mac,
                             thespian_send=self._thespian)
        try:
            self.inbox = Inbox(wiring.inbox_path(folder, port), key, codec, self._dispatch, self.stats, self.log)
        except OSError as e:  # senders find no inbox and use Thespian
            self.log.warning("lane: no inbox for this actor ({}); its messages come through Thespian", e)

    def open(self) -> None:
        """Open the inbox now if not yet (any first `receive` or `send` does it too)."""
        if not self._started:
            self._start()

    def receive(self, msg, sender):
        """Take the lane's own messages and hand over the lane's frames; returns what the actor
        still has to handle (None, `msg`, or a WatchMessage with the fds that are not the lane's)."""
        if not self._started:
            self._start()
        if self.outbox is not None:
            if isinstance(msg, WakeupMessage) and msg.payload == FLUSH:
                self.outbox.on_flush_timer()
                return None
            if self.outbox.waiting:
                self.outbox.flush()
        if self.inbox is None:
            return None if isinstance(msg, LaneOpen) else msg
        if isinstance(msg, LaneOpen):
            self.inbox.confirm(msg.token, sender, wiring.endpoint(sender))
            return None
        if isinstance(msg, WatchMessage):
            mine = self.inbox.on_ready(msg.ready)
            rest = [fd for fd in msg.ready if fd not in mine]
            return WatchMessage(rest) if rest else None
        key = wiring.endpoint(sender)
        if key is not None:
            self.inbox.drain(key)  # what this sender wrote on the lane before this message comes first
        return msg

    def send(self, addr, msg) -> None:
        """On the lane when the receiver has an inbox; otherwise, and for Thespian's own messages
        (ActorExitRequest and the like: Thespian must act on them) or the actor itself, Thespian."""
        if not self._started:
            self._start()
        if self.outbox is None or isinstance(msg, ActorSystemMessage) or wiring.endpoint(addr) == self._port:
            self.stats["fallback"] += 1
            self._thespian(addr, msg)
        else:
            self.outbox.send(addr, msg)

    def fds(self) -> list[int]:
        return self.inbox.fds() if self.inbox is not None else []

    def retain(self, addrs) -> None:
        """Call with the peers' addresses after each Peers: connections to others are closed."""
        if self.outbox is not None:
            self.outbox.retain(list(addrs))

    def close(self) -> None:
        """On exit: what waits to be written goes through Thespian; the inbox file is removed."""
        if self.outbox is not None:
            self.outbox.close()
        if self.inbox is not None:
            self.inbox.close()
            self.inbox = None
