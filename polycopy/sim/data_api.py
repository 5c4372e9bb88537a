"""Data API (`https://data-api.polymarket.com`): the app, its fault middlewares, the fills a
wallet shows, and the retired v1 routes `/trades`, `/activity`, `/positions` (§3).

The v1 routes answer 410 Gone unless `legacy.data_api_v1` serves them again (old recordings);
the current contract is `/v2/...` (data_api_v2.py). Rows appear `data_api_lag_ms` after the
fill; until `data_api_rate_limit_until` every call is a 429 with Retry-After. With `cache_s` > 0
the same URL returns the same body for that long, like the real CDN (clients bust it with a
changing dummy parameter, §3.3). Our own account's fills come from the venue's trades.
"""
from __future__ import annotations

import math
import time

from aiohttp import web

from polycopy.sim.data_api_v2 import DataApiV2, v2_error
from polycopy.sim.feed import Feed
from polycopy.sim.hostile import hostile_rows
from polycopy.sim.httputil import (BadRequest, app_with_errors, get_bool, get_decimal,
                                   get_int, get_list, reply)
from polycopy.sim.markets import Catalog
from polycopy.sim.positions import position_rows
from polycopy.sim.venue_rows import venue_fills
from polycopy.sim.wire import activity_row, trade_row

ACTIVITY_TYPES = {"TRADE", "SPLIT", "MERGE", "REDEEM", "REWARD", "CONVERSION"}
V1_GONE = "Data API v1 is retired: use /v2 (VENUE-2026-12.md §1)"


class DataApi:
    def __init__(self, feed: Feed, catalog: Catalog, venue, clock, cache_s: float = 0,
                 legacy=None):
        self.feed, self.catalog, self.venue, self.clock = feed, catalog, venue, clock
        self.cache_s = cache_s
        self.cache: dict[str, tuple[float, str]] = {}
        self.legacy = legacy  # has .data_api_v1 (bool), flipped by the control API
        self.v2 = DataApiV2(self)

    def app(self) -> web.Application:
        app = app_with_errors()
        app.middlewares.append(self._faults)
        app.middlewares.append(self._cached)
        for path, rows_of in (("/trades", self.trades), ("/activity", self.activity),
                              ("/positions", self.positions)):
            app.router.add_get(path, self._v1(rows_of))
        self.v2.add_routes(app)
        return app

    @web.middleware
    async def _faults(self, request, handler):
        v2 = request.path.startswith("/v2/")
        now, faults = time.monotonic(), self.feed.faults
        left = faults.data_api_rate_limit_until - now
        if left > 0:
            headers = {"Retry-After": str(max(1, math.ceil(left)))}
            if v2:
                return v2_error(429, "rate limited", "rate_limited", True, headers)
            return reply({"error": "Too Many Requests"}, 429, headers=headers)
        if v2 and faults.data_api_timeout_until > now:
            return v2_error(503, "request timed out", "request_timeout", True)
        if not v2 and not (self.legacy and self.legacy.data_api_v1) and request.path in (
                "/trades", "/activity", "/positions"):
            return reply({"error": V1_GONE}, 410)
        return await handler(request)

    @web.middleware
    async def _cached(self, request, handler):
        key, now = str(request.rel_url), time.monotonic()
        hit = self.cache.get(key)
        if hit and hit[0] > now:
            return reply_text(hit[1], self.cache_s)
        response = await handler(request)
        if self.cache_s > 0 and response.status == 200:
            self.cache = {k: v for k, v in self.cache.items() if v[0] > now}
            self.cache[key] = (now + self.cache_s, response.text)
        response.headers["Cache-Control"] = f"public, max-age={int(self.cache_s) or 300}"
        return response

    def _v1(self, rows_of):
        async def handler(request: web.Request) -> web.Response:
            q = request.query
            start = get_int(q, "offset", 0, 0, 10_000)
            limit = get_int(q, "limit", 100, 0, 10_000, clamp=True)
            return reply(rows_of(q)[start:start + limit])
        return handler

    # -- what a wallet shows (shared with v2) --------------------------------------------
    def fills(self, user: str, markets: set[str], side: str | None, start: int, end: int,
              events: set[str] = frozenset()):
        """Visible fills, newest first: one wallet's (its venue fills included) or everyone's."""
        fills = self.feed.by_wallet.get(user, []) if user else self.feed.rows
        fills = self.feed.visible(fills)
        if user:
            fills = sorted(fills + self.venue_fills(user), key=lambda f: -f.sched_mono_ns)
        return [f for f in fills if (not markets or f.info.market.condition_id in markets)
                and (not events or f.info.event_id in events)
                and (not side or f.side == side) and start <= f.unix_ts <= end]

    def venue_fills(self, user: str):
        return self.feed.visible(venue_fills(self.venue, user, self.catalog, self.clock))

    def venue_positions(self, user: str):
        try:
            return self.venue.positions(user) if self.venue is not None else None
        except (KeyError, AttributeError, ValueError):
            return None

    def hostile(self, user: str, rows: list[dict], v2: bool) -> list[dict]:
        """The hostile-rows knob: bad rows among the source wallet's good ones (hostile.py)."""
        kinds = self.feed.faults.data_api_hostile
        if not kinds or user != self.feed.source_wallet:
            return rows
        return hostile_rows(rows, kinds, self.clock, v2)

    # -- v1 rows -------------------------------------------------------------------------
    def _v1_fills(self, q):
        user = (q.get("user") or "").lower()
        markets = set(get_list(q, "market"))
        side = q.get("side")
        if side and side not in ("BUY", "SELL"):
            raise BadRequest(f"invalid side: {side!r}")
        start, end = get_int(q, "start", 0, 0, 2**40), get_int(q, "end", 2**40, 0, 2**40)
        return user, self.fills(user, markets, side, start, end)

    def trades(self, q) -> list[dict]:
        taker_only = get_bool(q, "takerOnly", True)
        kind, amount = q.get("filterType"), get_decimal(q, "filterAmount")
        if kind not in (None, "CASH", "TOKENS") or (kind is None) != (amount is None):
            raise BadRequest("filterType and filterAmount go together; type CASH or TOKENS")
        user, fills = self._v1_fills(q)
        rows = [trade_row(f) for f in fills if not (taker_only and f.role != "taker") and (
            amount is None or (f.size * f.price if kind == "CASH" else f.size) >= amount)]
        return self.hostile(user, rows, False)

    def activity(self, q) -> list[dict]:
        user = (q.get("user") or "").lower()
        if not user:
            raise BadRequest("user is required")
        types = set(get_list(q, "type")) or ACTIVITY_TYPES
        if types - ACTIVITY_TYPES:
            raise BadRequest(f"invalid type: {sorted(types - ACTIVITY_TYPES)}")
        rows = [activity_row(f) for f in self._v1_fills(q)[1]] if "TRADE" in types else []
        rows += [r for r in self.feed.visible_activity(user) if r["type"] in types]
        rows.sort(key=lambda r: -r["timestamp"])
        return rows

    def positions(self, q) -> list[dict]:
        user = (q.get("user") or "").lower()
        if not user:
            raise BadRequest("user is required")
        threshold = get_decimal(q, "sizeThreshold")
        threshold = 1 if threshold is None else threshold
        own = self.feed.visible(self.feed.by_wallet.get(user, [])) + self.venue_fills(user)
        rows = position_rows(user, own, self.feed.visible_activity(user), self.catalog,
                             self.clock, self.venue_positions(user))
        markets = set(get_list(q, "market"))
        return [r for r in rows if r["size"] >= threshold
                and (not markets or r["conditionId"] in markets)]


def reply_text(text: str, cache_s: float) -> web.Response:
    return web.Response(text=text, content_type="application/json",
                        headers={"Cache-Control": f"public, max-age={int(cache_s)}"})
