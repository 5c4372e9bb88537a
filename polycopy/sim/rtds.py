"""RTDS: the real-time data socket (`wss://ws-live-data.polymarket.com`, no path), §1.

Clients send `{"action": "subscribe"|"unsubscribe", "subscriptions": [{topic, type,
filters?}]}` and text `PING` (answered `PONG`). Frames are `{topic, type, timestamp (ms),
payload, connection_id}`. Like the real server, a socket that has not sent a PING for
`idle_timeout_s` goes silent for good without closing; `FeedFaults.rtds_stalled` silences
every socket; `rtds_drop_now` closes them all once.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from polycopy.sim.model import FeedFaults
from polycopy.sim.wire import dumps

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    id: str
    last_ping: float
    subs: set = field(default_factory=set)  # (topic, type, filters as a dict or None)
    silent: bool = False
    greeted: bool = False
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


class Rtds:
    def __init__(self, faults: FeedFaults, idle_timeout_s: float, empty_first_frame: bool):
        self.faults = faults
        self.idle_timeout_s = idle_timeout_s
        self.empty_first_frame = empty_first_frame
        self.conns: set[Conn] = set()
        self.sent = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.handle)
        app.on_shutdown.append(self._close_all)
        return app

    def _alive(self, conn: Conn) -> bool:
        if not conn.silent and time.monotonic() - conn.last_ping > self.idle_timeout_s:
            conn.silent = True
            log.info("rtds %s: no PING for %.0fs, going silent", conn.id, self.idle_timeout_s)
        return not conn.silent

    def broadcast(self, topic: str, kind: str, payload: dict) -> None:
        if self.faults.rtds_stalled:
            return
        text = None
        for conn in list(self.conns):
            if self._alive(conn) and _wanted(conn.subs, topic, kind, payload):
                if text is None:
                    frame = {"topic": topic, "type": kind,
                             "timestamp": time.time_ns() // 1_000_000, "payload": payload}
                    text = dumps(frame)[:-1]  # connection_id is per socket
                conn.queue.put_nowait(f'{text},"connection_id":"{conn.id}"}}')
                self.sent += 1

    def broadcast_text(self, topic: str, kind: str, payload: dict, text: str) -> None:
        """Send a prepared frame `text` (without its closing connection_id) to the sockets a
        frame of `payload` would reach: the hostile-frames knob (hostile.py)."""
        if self.faults.rtds_stalled:
            return
        for conn in list(self.conns):
            if self._alive(conn) and _wanted(conn.subs, topic, kind, payload):
                tail = f',"connection_id":"{conn.id}"}}' if text.endswith("}") else ""
                conn.queue.put_nowait(text[:-1] + tail if tail else text)
                self.sent += 1

    async def drop_all(self) -> None:
        await asyncio.gather(*(c.ws.close() for c in list(self.conns)), return_exceptions=True)

    async def watch_drops(self) -> None:
        """Honour `rtds_drop_now`: close every socket once, then clear the flag."""
        while True:
            if self.faults.rtds_drop_now:
                self.faults.rtds_drop_now = False
                await self.drop_all()
            await asyncio.sleep(0.05)

    async def _close_all(self, _app) -> None:
        await self.drop_all()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=1.0, compress=False)
        await ws.prepare(request)
        conn = Conn(ws, base64.b64encode(os.urandom(14)).decode(), time.monotonic())
        self.conns.add(conn)
        writer = asyncio.create_task(self._write(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.conns.discard(conn)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    async def _write(self, conn: Conn) -> None:
        while True:
            text = await conn.queue.get()
            if not conn.ws.closed:
                try:
                    await conn.ws.send_str(text)
                except ConnectionError:
                    return

    def _on_text(self, conn: Conn, text: str) -> None:
        if text.strip().upper() == "PING":
            if self._alive(conn):
                conn.last_ping = time.monotonic()
                if not self.faults.rtds_stalled:
                    conn.queue.put_nowait("PONG")
            return
        try:
            msg = json.loads(text)
            action = msg["action"]
            subs = [(s["topic"], s.get("type", "*"), _filters(s.get("filters")))
                    for s in msg.get("subscriptions") or []]
            if action not in ("subscribe", "unsubscribe") or not all(
                    isinstance(t, str) and isinstance(k, str) for t, k, _ in subs):
                raise ValueError(action)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.info("rtds %s: ignoring malformed frame %.80r", conn.id, text)
            return  # the real server ignores what it cannot parse; keep the socket
        if action == "subscribe":
            conn.subs.update((t, k, f) for t, k, f in subs)
            if self.empty_first_frame and not conn.greeted and self._alive(conn):
                conn.queue.put_nowait("")
            conn.greeted = True
        else:
            conn.subs.difference_update((t, k, f) for t, k, f in subs)


def _filters(raw) -> tuple | None:
    """`filters` is a JSON string, e.g. '{"event_slug":"..."}'; None or unparsable = none."""
    if not raw:
        return None
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
        return tuple(sorted((str(k), str(v)) for k, v in parsed.items()))
    except (ValueError, AttributeError):
        return None


def _wanted(subs: set, topic: str, kind: str, payload: dict) -> bool:
    for t, k, filters in subs:
        if t == topic and k in (kind, "*"):
            wanted = dict(filters or ())
            if ("event_slug" in wanted and wanted["event_slug"] != payload.get("eventSlug")) or (
                    "market_slug" in wanted and wanted["market_slug"] != payload.get("slug")):
                continue
            return True
    return False
