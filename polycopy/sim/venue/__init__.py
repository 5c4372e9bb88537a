"""polysim's venue: CLOB REST, V2 order verification, matching, CLOB websockets."""
from polycopy.sim.venue.rest import build_clob_app
from polycopy.sim.venue.state import Venue
from polycopy.sim.venue.ws import build_clob_ws_app

__all__ = ["Venue", "build_clob_app", "build_clob_ws_app"]
