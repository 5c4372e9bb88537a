"""The fast lane for hot-path messages: authenticated unix sockets between actors, watched from
each actor's Thespian loop, with Thespian as the fallback path (issue 19).

    wiring.configure(folder)            # the process that starts the system, before ActorSystem()
    lane = Lane(actor, dispatch)        # per actor
    rest = lane.receive(msg, sender)    # first thing in receiveMessage; handle `rest` if not None
    lane.send(addr, msg)                # hot-path sends
    ThespianWatch(lane.fds() + ...)     # on every return from receiveMessage

Modules: wiring (settings, folder, address -> inbox path), frames (hello, MAC, framing),
codec (msgspec / pickle), inbox (receiving), outbox (sending, fallback), lane (the facade).
"""
from polycopy.lane.lane import Lane
from polycopy.lane.messages import LaneOpen
from polycopy.lane.outbox import FLUSH
from polycopy.lane.wiring import configure, lane_folder, settings

__all__ = ["FLUSH", "Lane", "LaneOpen", "configure", "lane_folder", "settings"]
