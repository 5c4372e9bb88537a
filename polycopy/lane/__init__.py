"""The fast lane for hot-path messages: authenticated unix sockets between actors, watched from
each actor's Thespian loop, with Thespian as the fallback path (issue 19).

Once per system, in the process that starts it, before `ActorSystem()` (every actor is forked
from it and inherits the folder and the in-memory key; nothing else is needed, not even in Peers):

    wiring.configure(lane_folder(state_dir, admin_port))

In an actor (how ChildActor would take it):

    def __init__(self, ...):
        self.lane = Lane(self, self._handle)          # _handle(msg, sender): the one dispatch, error rule included
    def receiveMessage(self, msg, sender):
        rest = self.lane.receive(msg, sender)         # first thing, for every message Thespian hands over
        if rest is not None:
            self._handle(rest, sender)                # a WatchMessage keeps only the fds that are not the lane's
        fds = self.lane.fds() + self.watch_fds()
        return ThespianWatch(fds) if fds else None
    self.lane.send(addr, msg)                         # every send to a peer that may have a lane
    self.lane.retain(self.peers.values())             # after each Peers
    self.lane.close()                                 # on ActorExitRequest

An actor that overrides `send` to go through the lane passes `thespian_send=<the base class's send>`.
All messages for one peer must go through `lane.send` for one order per sender -> receiver;
Thespian's own messages (ActorExitRequest...) and sends to itself go through Thespian anyway.

Modules: wiring (settings, folder, address -> inbox path), frames (hello, framing, optional MAC),
codec (msgspec / pickle), inbox (receiving, ordering), outbox (sending, fallback), lane (the facade).
"""
from polycopy.lane.lane import Lane
from polycopy.lane.messages import LaneOpen
from polycopy.lane.outbox import FLUSH
from polycopy.lane.wiring import configure, lane_folder, settings

__all__ = ["FLUSH", "Lane", "LaneOpen", "configure", "lane_folder", "settings"]
