"""Our trades' settlement from the authenticated user websocket (PROTOCOL.md §2.3).

`UserFeed` (the websocket runner's feed, clients/ws.py) only parses: each trade event goes
on the bridge as ("event", UserTrade), and ("connected", bool) when the socket opens and
closes. The executor drains the bridge and applies the events to its journal on its own
thread (store/user_trades.py). A trade goes MATCHED -> MINED (RETRYING) -> CONFIRMED | FAILED;
MATCHED is provisional.
"""
from __future__ import annotations

import json

from polycopy.clients.ws import DATA, Feed, SocketPolicy, run_socket
from polycopy.wire.clob_ws import parse_user_frame

PING_EVERY_S = 10.0
STALE_S = 30.0  # PING every 10 s is answered PONG: 30 s of nothing is a dead socket (SDK heartbeat.py)


def subscribe_frame(creds) -> str:
    return json.dumps({"auth": {"apiKey": creds.key, "secret": creds.secret, "passphrase": creds.passphrase},
                       "type": "user"})


class UserFeed(Feed):
    name = "user-ws"

    def __init__(self, bridge, url: str, creds):
        super().__init__(url)
        self.bridge, self.creds = bridge, creds

    async def on_open(self, ws) -> None:
        await ws.send(subscribe_frame(self.creds))
        self.bridge.put(("connected", True))

    def on_text(self, text, recv_ns: int) -> str:
        """Any frame, PONG included, is life; each trade event goes to the executor."""
        parsed = parse_user_frame(text)
        if parsed is not None:
            events, bad = parsed
            for e in bad:
                self.bad.count(e, text)
            for event in events:
                self.bridge.put(("event", event))
        return DATA

    def on_close(self, reason: str) -> None:
        self.bridge.put(("connected", False))


async def run_user_stream(bridge, url: str, creds, policy: SocketPolicy) -> None:
    """Connect, subscribe, queue events; reconnect with back-off until the bridge stops."""
    await run_socket(bridge, UserFeed(bridge, url, creds), policy)
