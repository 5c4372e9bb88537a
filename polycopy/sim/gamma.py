"""Gamma (`https://gamma-api.polymarket.com`): `/markets/keyset` (gamma_keyset.py),
`/markets/{id}`, `/markets/slug/{slug}`, `/events/{id}`, `/events/slug/{slug}`, and the
sunset list routes `/markets` and `/events` (§4; VENUE-2026-12.md §1).

The list routes answer 410 unless `legacy.gamma_lists` serves them again, then with the
`deprecation`/`sunset`/`warning` headers the venue sent. Single lookups by id or slug are not
lists (SDK 0.14.0 still calls them, `_internal/gamma_paths.py`) and stay served.
Field shapes follow gamma_market.json: `outcomes`, `outcomePrices` and `clobTokenIds` are
JSON-encoded strings; `positionIds` (a real array) only on version "v2" markets. A resolved
market is `closed` with `outcomePrices` "1"/"0", `closedTime`, and `umaResolutionStatus`
"resolved" (v1) or `resolutionStatus` inactive/active/resolved (v2, `models/gamma/market.py`).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from aiohttp import web

from polycopy.sim.httputil import (BadRequest, app_with_errors, get_bool, get_int,
                                   get_list, reply)
from polycopy.sim.gamma_keyset import KeysetRoute
from polycopy.sim.markets import Catalog, MarketInfo
from polycopy.sim.resolution import question_id

PRICE_TO_BEAT = {"btc": Decimal("116523.41"), "eth": Decimal("4321.55"),
                 "sol": Decimal("201.37"), "xrp": Decimal("2.9134")}
LIST_GONE = "Gamma list endpoints were sunset on 2026-05-01: use /markets/keyset"
DEPRECATION = {"deprecation": "true", "sunset": "Fri, 01 May 2026 00:00:00 GMT",
               "warning": '299 - "use /markets/keyset"'}
TAGS = [{"id": "102127", "slug": "up-or-down", "label": "Up or Down"},
        {"id": "1312", "slug": "crypto-prices", "label": "Crypto Prices"},
        {"id": "101757", "slug": "recurring", "label": "Recurring"}]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def market_json(info: MarketInfo, now_unix: float) -> dict:
    m = info.market
    closed = m.closed
    prices = [str(p) for p in info.mids]
    updown = "-updown-" in m.slug
    tick, best_bid = m.tick_size, info.mids[0] - m.tick_size
    body = {
        "id": info.gamma_id, "question": m.question, "conditionId": m.condition_id,
        "slug": m.slug, "resolutionSource": "https://data.chain.link/streams/"
        + m.slug.split("-")[0] + "-usd" if updown else "",
        "endDate": _iso(m.end_ts), "startDate": _iso(info.created_ts),
        "image": info.icon, "icon": info.icon, "description": m.question,
        "outcomes": json.dumps(m.outcomes), "outcomePrices": json.dumps(prices),
        "clobTokenIds": json.dumps(m.tokens),
        "volume": "0", "volumeNum": 0, "volume24hr": 0, "liquidity": "0", "liquidityNum": 0,
        "liquidityClob": 0, "active": True, "closed": closed, "archived": False,
        "acceptingOrders": m.accepting_orders and not closed,
        "acceptingOrdersTimestamp": _iso(info.created_ts), "enableOrderBook": True,
        "negRisk": m.neg_risk, "orderPriceMinTickSize": tick, "orderMinSize": m.min_order_size,
        "bestBid": best_bid, "bestAsk": best_bid + 2 * tick, "lastTradePrice": info.mids[0],
        "spread": 2 * tick, "oneHourPriceChange": 0, "feesEnabled": m.fee_rate > 0,
        "feeType": "crypto_fees_v2" if m.fee_rate > 0 else None,
        "feeSchedule": {"exponent": m.fee_exponent, "rate": m.fee_rate, "takerOnly": True,
                        "rebateRate": 0.2},
        "secondsDelay": 0, "questionID": question_id(m.condition_id), "version": m.version,
        "events": [{"id": info.event_id, "slug": m.event_slug, "title": m.question,
                    "eventMetadata": {"priceToBeat": PRICE_TO_BEAT.get(
                        m.slug.split("-")[0], Decimal(100))} if updown else {}}],
        "tags": TAGS if updown else [],
    }
    if updown:
        body["eventStartTime"] = _iso(m.end_ts - 900)
    if m.version == "v2":
        body["positionIds"] = list(m.tokens)
        body["resolutionStatus"] = "resolved" if m.resolved else "active" if (
            now_unix >= m.end_ts) else "inactive"
    else:
        body["umaResolutionStatus"] = "resolved" if m.resolved else ""
    if m.resolved_ts:
        body["closedTime"] = _iso(m.resolved_ts)
    return body


def event_json(infos: list[MarketInfo], now_unix: float) -> dict:
    first = infos[0].market
    markets = [market_json(i, now_unix) for i in infos]
    return {"id": infos[0].event_id, "slug": first.event_slug, "title": first.question,
            "startDate": markets[0]["startDate"], "endDate": markets[0]["endDate"],
            "active": True, "closed": all(m["closed"] for m in markets),
            "negRisk": first.neg_risk, "markets": markets}


class Gamma:
    def __init__(self, catalog: Catalog, clock, legacy=None):
        self.catalog, self.clock = catalog, clock
        self.legacy = legacy  # has .gamma_lists (bool), flipped by the control API

    def app(self) -> web.Application:
        app = app_with_errors()
        app.middlewares.append(self._sunset)
        app.router.add_get("/markets", self.markets)
        app.router.add_get("/markets/keyset", KeysetRoute(self).handle)
        app.router.add_get("/markets/slug/{slug}", self.market_by_slug)
        app.router.add_get("/markets/{id}", self.market_by_id)
        app.router.add_get("/events", self.events)
        app.router.add_get("/events/slug/{slug}", self.event_by_slug)
        app.router.add_get("/events/{id}", self.event_by_id)
        return app

    @web.middleware
    async def _sunset(self, request, handler):
        if request.path not in ("/markets", "/events"):
            return await handler(request)
        if not (self.legacy and self.legacy.gamma_lists):
            return reply({"error": LIST_GONE}, 410, headers=DEPRECATION)
        response = await handler(request)
        response.headers.update(DEPRECATION)
        return response

    def _now(self) -> float:
        return self.clock.unix(self.clock.t())

    @staticmethod
    def body(info: MarketInfo, now_unix: float) -> dict:
        return market_json(info, now_unix)

    def _select(self, q) -> list[MarketInfo]:
        slugs, ids = set(get_list(q, "slug")), set(get_list(q, "id"))
        cids = {c.lower() for c in get_list(q, "condition_ids")}
        tokens = set(get_list(q, "clob_token_ids"))
        closed, active = get_bool(q, "closed", None), get_bool(q, "active", None)
        out = []
        for info in list(self.catalog.by_slug.values()):
            m = info.market
            if (slugs and m.slug not in slugs) or (ids and info.gamma_id not in ids) or (
                    cids and m.condition_id not in cids) or (
                    tokens and not tokens.intersection(m.tokens)):
                continue
            if closed is not None and m.closed != closed:
                continue
            if active is False:
                continue  # every simulated market is active
            out.append(info)
        return out

    def _page(self, q, items: list) -> list:
        offset = get_int(q, "offset", 0, 0, 10**6)
        return items[offset:offset + get_int(q, "limit", 500, 0, 1000, clamp=True)]

    async def markets(self, request: web.Request) -> web.Response:
        now = self._now()
        return reply(self._page(request.query, [market_json(i, now)
                                                for i in self._select(request.query)]))

    async def market_by_id(self, request: web.Request) -> web.Response:
        info = next((i for i in self.catalog.by_slug.values()
                     if i.gamma_id == request.match_info["id"]), None)
        if info is None:
            raise BadRequest("market not found", 404)
        return reply(market_json(info, self._now()))

    async def market_by_slug(self, request: web.Request) -> web.Response:
        info = self.catalog.by_slug.get(request.match_info["slug"])
        if info is None:
            raise BadRequest("market not found", 404)
        return reply(market_json(info, self._now()))

    def _events(self, slugs: set[str]) -> list[dict]:
        groups: dict[str, list[MarketInfo]] = {}
        for info in list(self.catalog.by_slug.values()):
            if not slugs or info.market.event_slug in slugs:
                groups.setdefault(info.market.event_slug, []).append(info)
        now = self._now()
        return [event_json(infos, now) for infos in groups.values()]

    async def events(self, request: web.Request) -> web.Response:
        q = request.query
        return reply(self._page(q, self._events(set(get_list(q, "slug")))))

    async def event_by_id(self, request: web.Request) -> web.Response:
        infos = [i for i in self.catalog.by_slug.values()
                 if i.event_id == request.match_info["id"]]
        if not infos:
            raise BadRequest("event not found", 404)
        return reply(event_json(infos, self._now()))

    async def event_by_slug(self, request: web.Request) -> web.Response:
        found = self._events({request.match_info["slug"]})
        if not found:
            raise BadRequest("event not found", 404)
        return reply(found[0])
