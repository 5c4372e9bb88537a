"""CLOB REST app: middleware (records, faults, errors) and the public market-data routes.

Private (L1/L2) routes are in `rest_private.py`. Every error is `{"error": "..."}` with
the real status; nothing ever answers with a stack trace.
"""
from __future__ import annotations

import json
import math
import time
import traceback
from decimal import Decimal

from aiohttp import web
from loguru import logger

from polycopy.sim.venue import rest_private
from polycopy.sim.venue.rest_private import RECORD, error
from polycopy.sim.venue.state import Venue
from polycopy.sim.venue.wire import clob_market_json, dec

VENUE = web.AppKey("venue", Venue)
ORDER_CALLS = {("POST", "/order"), ("POST", "/orders"), ("DELETE", "/order"),
               ("DELETE", "/orders"), ("DELETE", "/cancel-all"),
               ("DELETE", "/cancel-market-orders")}
NO_BOOK = "No orderbook exists for the requested token id"


@web.middleware
async def guard(request: web.Request, handler) -> web.StreamResponse:
    venue = request.app[VENUE]
    record = {"method": request.method, "path": request.path, "status": None,
              "recv_mono_ns": time.monotonic_ns()}
    venue.records.append(record)
    request[RECORD] = record
    faults, now = venue.faults, time.monotonic()
    try:
        if now < faults.rate_limit_until:
            left = faults.retry_after_s or math.ceil(faults.rate_limit_until - now)
            resp = error(429, "Too Many Requests", {"Retry-After": str(left)})
        elif (request.method, request.path) in ORDER_CALLS and now < faults.engine_restart_until:
            retry = max(1, int(faults.engine_restart_until - now))
            resp = web.Response(status=425, headers={"Retry-After": str(retry)})
        else:
            resp = await handler(request)
    except web.HTTPException as e:
        resp = error(e.status, e.reason or "error")
    except Exception as e:  # noqa: BLE001 - the server must keep serving
        # the traceback without local variables: they may hold API secrets
        trace = "".join(traceback.format_exception(e))
        logger.error("polysim venue: unhandled error on {} {}\n{}", request.method,
                     request.path, trace)
        resp = error(500, "Internal server error")
    record["status"] = resp.status
    return resp


def _market(request: web.Request):
    """(market, token) for ?token_id=; raises the real 400/404."""
    token = request.query.get("token_id", "")
    if not token.isdigit():
        raise web.HTTPBadRequest(reason="Invalid token id")
    m = request.app[VENUE].market_for_token(token)
    if m is None:
        raise web.HTTPNotFound(reason=NO_BOOK)
    request[RECORD]["token_id"] = token
    return m, token


async def get_time(request: web.Request) -> web.Response:
    return web.json_response(int(request.app[VENUE].clock()))


async def get_ok(request: web.Request) -> web.Response:
    return web.json_response("OK")


async def get_version(request: web.Request) -> web.Response:
    return web.json_response({"version": 2})


async def get_tick_size(request: web.Request) -> web.Response:
    m, _ = _market(request)
    return web.json_response({"minimum_tick_size": float(m.tick_size)})


async def get_neg_risk(request: web.Request) -> web.Response:
    m, _ = _market(request)
    return web.json_response({"neg_risk": m.neg_risk})


async def get_fee_rate(request: web.Request) -> web.Response:
    m, _ = _market(request)
    return web.json_response({"base_fee": int(m.fee_rate * 10000)})


async def get_book(request: web.Request) -> web.Response:
    _, token = _market(request)
    return web.json_response(request.app[VENUE].book(token))


async def post_books(request: web.Request) -> web.Response:
    venue = request.app[VENUE]
    try:
        items = json.loads(await request.read())
        tokens = [str(i["token_id"]) for i in items]
    except (ValueError, TypeError, KeyError):
        return error(400, "Invalid payload")
    return web.json_response([venue.book(t) for t in tokens if venue.market_for_token(t)])


def _best(request: web.Request, token: str) -> tuple[Decimal | None, Decimal | None]:
    book = request.app[VENUE].books[token]
    return book.best("BUY"), book.best("SELL")


async def get_price(request: web.Request) -> web.Response:
    _, token = _market(request)
    side = request.query.get("side", "")
    if side not in ("BUY", "SELL"):
        return error(400, "Invalid side")
    bid, ask = _best(request, token)
    price = ask if side == "BUY" else bid
    return web.json_response({"price": dec(price) if price is not None else "0"})


async def get_midpoint(request: web.Request) -> web.Response:
    _, token = _market(request)
    bid, ask = _best(request, token)
    if bid is None or ask is None:
        return error(404, NO_BOOK)
    return web.json_response({"mid": dec((bid + ask) / 2)})


async def get_spread(request: web.Request) -> web.Response:
    _, token = _market(request)
    bid, ask = _best(request, token)
    if bid is None or ask is None:
        return error(404, NO_BOOK)
    return web.json_response({"spread": dec(ask - bid)})


async def get_last_trade_price(request: web.Request) -> web.Response:
    _, token = _market(request)
    last = request.app[VENUE].last_trade.get(token)
    return web.json_response({"price": dec(last[0]) if last else "0.5",
                              "side": last[1] if last else ""})


async def get_markets_by_token(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    m = request.app[VENUE].market_for_token(token)
    if m is None:
        return error(404, "market not found")
    return web.json_response({"condition_id": m.condition_id,
                              "primary_token_id": m.tokens[0],
                              "secondary_token_id": m.tokens[-1]})


async def get_clob_market(request: web.Request) -> web.Response:
    m = request.app[VENUE].markets.get(request.match_info["condition_id"])
    if m is None:
        return error(404, "market not found")
    return web.json_response(clob_market_json(m))


def build_clob_app(venue: Venue) -> web.Application:
    """The CLOB REST API on its real paths."""
    app = web.Application(middlewares=[guard])
    app[VENUE] = venue
    app.router.add_get("/", get_ok)
    app.router.add_get("/ok", get_ok)
    app.router.add_get("/time", get_time)
    app.router.add_get("/version", get_version)
    app.router.add_get("/tick-size", get_tick_size)
    app.router.add_get("/neg-risk", get_neg_risk)
    app.router.add_get("/fee-rate", get_fee_rate)
    app.router.add_get("/book", get_book)
    app.router.add_post("/books", post_books)
    app.router.add_get("/price", get_price)
    app.router.add_get("/midpoint", get_midpoint)
    app.router.add_get("/spread", get_spread)
    app.router.add_get("/last-trade-price", get_last_trade_price)
    app.router.add_get("/markets-by-token/{token}", get_markets_by_token)
    app.router.add_get("/clob-markets/{condition_id}", get_clob_market)
    rest_private.add_routes(app, VENUE)
    return app
