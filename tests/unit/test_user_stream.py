"""The user channel's frames -> typed trade events on the executor's bridge (clients/user_stream.py,
wire/clob_ws.py); the executor applies them to its journal (store/user_trades.py)."""
import json

from polycopy.clients.user_stream import UserFeed
from polycopy.clients.ws import DATA
from polycopy.wire.clob_ws import UserTrade, parse_user_frame
from tests.conftest import POLYMARKET

TRADE = json.loads((POLYMARKET / "ws_user_trade.json").read_text())


class Bridge:
    def __init__(self):
        self.items = []

    def put(self, item):
        self.items.append(item)


def test_the_docs_trade_event_parses():
    [t], bad = parse_user_frame(json.dumps(TRADE))
    assert bad == [] and t == UserTrade(trade_id=TRADE["id"], status="MATCHED", taker_order_id=TRADE["taker_order_id"],
                                        maker_order_ids=(TRADE["maker_orders"][0]["order_id"],))
    assert t.order_ids == (TRADE["taker_order_id"], TRADE["maker_orders"][0]["order_id"])
    assert parse_user_frame("PONG") is None


def test_good_events_pass_bad_ones_are_counted_order_events_are_skipped():
    bridge = Bridge()
    feed = UserFeed(bridge, "ws://unused", creds=None)
    frame = json.dumps([TRADE, {**TRADE, "id": 5}, {"event_type": "order", "id": "0x1"}, {**TRADE, "id": "t2",
                        "status": "TRADE_STATUS_CONFIRMED", "maker_orders": "x"}, {**TRADE, "id": "t3"}, 7])
    assert feed.on_text(frame, 0) == DATA and feed.on_text("PONG", 0) == DATA
    assert [e.trade_id for kind, e in bridge.items if kind == "event"] == [TRADE["id"], "t3"]
    assert feed.state.malformed == 3 and set(feed.state.malformed_kinds) == {"id", "maker_orders", "event"}
