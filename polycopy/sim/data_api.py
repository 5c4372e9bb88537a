"""Data API (`https://data-api.polymarket.com`): v1 `/trades`, `/activity`, `/positions` and
the `/v2/...` routes (snake_case, envelope, cursor pagination), §3.

Rows appear `data_api_lag_ms` after the fill; until `data_api_rate_limit_until` every call
is a 429 with Retry-After. With `cache_s` > 0 the same URL returns the same body for that
long, like the real CDN (clients bust it with a changing dummy parameter, §3.3). Our own
account's fills come from the venue's trades.
"""
from __future__ import annotations

import base64
import math
import time

from aiohttp import web

from polycopy.sim.feed import Feed
from polycopy.sim.httputil import (BadRequest, app_with_errors, get_bool, get_decimal,
                                   get_int, get_list, reply)
from polycopy.sim.markets import Catalog
from polycopy.sim.positions import position_rows
from polycopy.sim.venue_rows import venue_fills
from polycopy.sim.wire import activity_row, trade_row, v2_row

ACTIVITY_TYPES = {"TRADE", "SPLIT", "MERGE", "REDEEM", "REWARD", "CONVERSION"}


class DataApi:
    def __init__(self, feed: Feed, catalog: Catalog, venue, clock, cache_s: float = 0):
        self.feed, self.catalog, self.venue, self.clock = feed, catalog, venue, clock
        self.cache_s = cache_s
        self.cache: dict[str, tuple[float, str]] = {}

    def app(self) -> web.Application:
        app = app_with_errors()
        app.middlewares.append(self._rate_limit)
        app.middlewares.append(self._cached)
        for prefix, v2 in (("", False), ("/v2", True)):
            app.router.add_get(f"{prefix}/trades", self._route(self.trades, v2))
            app.router.add_get(f"{prefix}/activity", self._route(self.activity, v2))
            app.router.add_get(f"{prefix}/positions", self._route(self.positions, v2))
        return app

    @web.middleware
    async def _rate_limit(self, request, handler):
        left = self.feed.faults.data_api_rate_limit_until - time.monotonic()
        if left > 0:
            return reply({"error": "Too Many Requests"}, 429,
                         headers={"Retry-After": str(max(1, math.ceil(left)))})
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

    def _route(self, rows_of, v2: bool):
        async def handler(request: web.Request) -> web.Response:
            q = request.query
            if v2:
                if "offset" in q:
                    raise BadRequest("offset is not supported; use cursor")
                start = _cursor(q.get("cursor"))
                limit = get_int(q, "limit", 100, 1, 1000, clamp=True)
            else:
                start = get_int(q, "offset", 0, 0, 10_000)
                limit = get_int(q, "limit", 100, 0, 10_000, clamp=True)
            rows = rows_of(q, v2)
            page = rows[start:start + limit]
            if not v2:
                return reply(page)
            more = start + limit < len(rows)
            cursor = base64.b64encode(str(start + limit).encode()).decode() if more else None
            return reply({"data": [v2_row(r) for r in page],
                          "pagination": {"has_more": more, "next_cursor": cursor}})
        return handler

    def _fills(self, q, v2: bool):
        user = (q.get("user") or "").lower()
        fills = self.feed.by_wallet.get(user, []) if user else self.feed.rows
        fills = self.feed.visible(fills)
        if user:
            fills = sorted(fills + self._venue_fills(user),
                           key=lambda f: -f.sched_mono_ns)
        markets = set(get_list(q, "condition" if v2 else "market")
                      + get_list(q, "condition_id") + get_list(q, "conditionId"))
        side = q.get("side")
        if side and side not in ("BUY", "SELL"):
            raise BadRequest(f"invalid side: {side!r}")
        start, end = get_int(q, "start", 0, 0, 2**40), get_int(q, "end", 2**40, 0, 2**40)
        return [f for f in fills if (not markets or f.info.market.condition_id in markets)
                and (not side or f.side == side) and start <= f.unix_ts <= end]

    def _venue_fills(self, user: str):
        return self.feed.visible(venue_fills(self.venue, user, self.catalog, self.clock))

    def trades(self, q, v2: bool) -> list[dict]:
        taker_only = get_bool(q, "taker_only" if v2 else "takerOnly", True)
        kind = q.get("filter_type" if v2 else "filterType")
        amount = get_decimal(q, "filter_amount" if v2 else "filterAmount")
        if kind not in (None, "CASH", "TOKENS") or (kind is None) != (amount is None) and not v2:
            raise BadRequest("filterType and filterAmount go together; type CASH or TOKENS")
        rows = []
        for f in self._fills(q, v2):
            if taker_only and f.role != "taker":
                continue
            if amount is not None and (f.size * f.price if kind == "CASH" else f.size) < amount:
                continue
            rows.append(trade_row(f))
        return rows

    def activity(self, q, v2: bool) -> list[dict]:
        user = (q.get("user") or "").lower()
        if not user:
            raise BadRequest("user is required")
        types = set(get_list(q, "type")) or ACTIVITY_TYPES
        if types - ACTIVITY_TYPES:
            raise BadRequest(f"invalid type: {sorted(types - ACTIVITY_TYPES)}")
        rows = [activity_row(f) for f in self._fills(q, v2)] if "TRADE" in types else []
        rows += [r for r in self.feed.visible_activity(user) if r["type"] in types]
        rows.sort(key=lambda r: -r["timestamp"])
        return rows

    def positions(self, q, v2: bool) -> list[dict]:
        user = (q.get("user") or "").lower()
        if not user:
            raise BadRequest("user is required")
        threshold = get_decimal(q, "sizeThreshold")
        threshold = 1 if threshold is None else threshold
        own = self.feed.visible(self.feed.by_wallet.get(user, []))
        own += self._venue_fills(user)
        rows = position_rows(user, own, self.feed.visible_activity(user), self.catalog,
                             self.clock, _venue_positions(self.venue, user))
        markets = set(get_list(q, "market"))
        return [r for r in rows if r["size"] >= threshold
                and (not markets or r["conditionId"] in markets)]


def reply_text(text: str, cache_s: float) -> web.Response:
    return web.Response(text=text, content_type="application/json",
                        headers={"Cache-Control": f"public, max-age={int(cache_s)}"})


def _cursor(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        return max(0, int(base64.b64decode(raw, validate=True).decode()))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("invalid cursor") from None


def _venue_positions(venue, user: str):
    try:
        return venue.positions(user) if venue is not None else None
    except (KeyError, AttributeError):
        return None
