"""CLOB websockets: /ws/market (public) and /ws/user (auth in the subscribe frame).

Frames are flat JSON with `event_type`; the first market dump is an array of `book`
objects; text `PING` gets `PONG` (PROTOCOL.md §2).
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json

from aiohttp import WSMsgType, web

from polycopy.sim.venue.state import Venue
from polycopy.sim.venue.wire import ws_book_event

WS_VENUE = web.AppKey("ws_venue", Venue)


async def _pump(ws: web.WebSocketResponse, q: asyncio.Queue) -> None:
    while True:
        event = await q.get()
        await ws.send_str(json.dumps(event))


async def _frames(ws: web.WebSocketResponse):
    """JSON frames from the client; answers PING itself, skips junk."""
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        if msg.data.strip().upper() == "PING":
            await ws.send_str("PONG")
            continue
        try:
            frame = json.loads(msg.data)
        except ValueError:
            continue
        if isinstance(frame, dict):
            yield frame


def _ids(frame: dict, *names: str) -> set[str]:
    for name in names:
        if isinstance(frame.get(name), list):
            return {str(x) for x in frame[name]}
    return set()


async def market_ws(request: web.Request) -> web.WebSocketResponse:
    venue = request.app[WS_VENUE]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    q: asyncio.Queue = asyncio.Queue()
    assets: set[str] = set()
    sub = (q, assets)
    venue.market_subs.append(sub)
    pump = asyncio.create_task(_pump(ws, q))
    try:
        async for frame in _frames(ws):
            ids = _ids(frame, "assets_ids", "asset_ids")
            if frame.get("operation") == "unsubscribe":
                assets.difference_update(ids)
                continue
            new = [a for a in ids if a not in assets and venue.market_for_token(a)]
            assets.update(ids)
            if new and frame.get("initial_dump", True):
                q.put_nowait([ws_book_event(venue.book(a)) for a in new])
    finally:
        venue.market_subs.remove(sub)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
    return ws


def _user_key(venue: Venue, frame: dict) -> str | None:
    auth = frame.get("auth")
    if not isinstance(auth, dict):
        return None
    api = venue.keys.by_key.get(str(auth.get("apiKey", "")))
    if api is None:
        return None
    ok = hmac.compare_digest(str(auth.get("secret", "")), api.secret) and hmac.compare_digest(
        str(auth.get("passphrase", "")), api.passphrase)
    return api.key if ok else None


async def user_ws(request: web.Request) -> web.WebSocketResponse:
    venue = request.app[WS_VENUE]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    q: asyncio.Queue = asyncio.Queue()
    markets: set[str] = set()
    sub = None
    pump = asyncio.create_task(_pump(ws, q))
    try:
        async for frame in _frames(ws):
            if sub is None:
                key = _user_key(venue, frame)
                if key is None:
                    await ws.close(code=4001, message=b"Unauthorized/Invalid api key")
                    break
                markets.update(_ids(frame, "markets"))
                sub = (q, key, markets)
                venue.user_subs.append(sub)
            elif frame.get("operation") == "subscribe":
                markets.update(_ids(frame, "markets"))
            elif frame.get("operation") == "unsubscribe":
                markets.difference_update(_ids(frame, "markets"))
    finally:
        if sub is not None:
            venue.user_subs.remove(sub)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
    return ws


def build_clob_ws_app(venue: Venue) -> web.Application:
    app = web.Application()
    app[WS_VENUE] = venue
    app.router.add_get("/ws/market", market_ws)
    app.router.add_get("/ws/user", user_ws)
    return app
