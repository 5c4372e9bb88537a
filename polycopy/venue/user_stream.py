"""Fills and settlement from the authenticated user websocket (PROTOCOL.md §2.3).

The socket runs in a thread behind `polycopy.actors.watcher_io.ThreadBridge` (the watchers'
thread -> actor bridge): the thread only parses frames and queues ("event", dict) and
("connected", bool); the executor drains them and calls `apply_trade` on its own thread.
A trade goes MATCHED -> MINED (RETRYING) -> CONFIRMED | FAILED; MATCHED is provisional.
"""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from websockets.asyncio.client import connect
from loguru import logger

from polycopy.store import journal
from polycopy.venue.responses import trade_status

PING_EVERY_S = 10.0
RANK = {"": 0, "MATCHED": 1, "RETRYING": 2, "MINED": 3, "CONFIRMED": 4, "FAILED": 4}


def subscribe_frame(creds) -> str:
    return json.dumps({"auth": {"apiKey": creds.key, "secret": creds.secret, "passphrase": creds.passphrase},
                       "type": "user"})


async def run_user_stream(bridge, url: str, creds, backoff) -> None:
    """Connect, subscribe, queue events; reconnect with back-off until the bridge stops."""
    attempt = 0
    while not bridge.stop_event.is_set():
        try:
            async with connect(url, ping_interval=None, open_timeout=5, close_timeout=1) as ws:
                await ws.send(subscribe_frame(creds))
                bridge.put(("connected", True))
                attempt = 0
                pinger = asyncio.create_task(_ping(ws))
                try:
                    async for frame in ws:
                        for event in _events(frame):
                            bridge.put(("event", event))
                finally:
                    pinger.cancel()
        except asyncio.CancelledError:
            return
        except Exception as e:  # noqa: BLE001 - any socket failure: report and reconnect
            logger.warning("user stream: {}", type(e).__name__)
        bridge.put(("connected", False))
        attempt += 1
        await asyncio.sleep(backoff.delay(attempt))


async def _ping(ws) -> None:
    while True:
        await asyncio.sleep(PING_EVERY_S)
        await ws.send("PING")


def _events(frame) -> list[dict]:
    if not isinstance(frame, str) or frame.strip().upper() == "PONG":
        return []
    try:
        data = json.loads(frame)
    except ValueError:
        return []
    items = data if isinstance(data, list) else [data]
    return [e for e in items if isinstance(e, dict) and e.get("event_type") in ("trade", "order")]


def apply_trade(db, event: dict, now: float) -> tuple[dict, str] | None:
    """Update our order from a `trade` event; (order row, new status) if it changed one of ours."""
    if event.get("event_type") != "trade":
        return None
    status = trade_status(event.get("status"))
    ids = [event.get("taker_order_id")] + [m.get("order_id") for m in event.get("maker_orders") or ()]
    for oid in ids:
        row = journal.get_order(db, oid) if oid else None
        if row is None:
            continue
        trades = tuple(dict.fromkeys(row["trade_ids"] + (str(event.get("id", "")),)))
        fields = {"trade_ids": trades}
        if RANK.get(status, 0) >= RANK.get(row["settlement"], 0):  # never step back (events may reorder)
            fields["settlement"] = status
        if status == "MATCHED" and not row["matched_ts"]:
            fields["matched_ts"] = now
        journal.update_order(db, oid, **fields)
        return journal.get_order(db, oid), status
    return None


def unconfirmed(db, now: float, after_s: float) -> list[dict]:
    """Orders matched more than `after_s` ago whose trades are not CONFIRMED (or FAILED) yet."""
    return [r for r in journal.unsettled_orders(db) if r["matched_ts"] and now - r["matched_ts"] > after_s]
