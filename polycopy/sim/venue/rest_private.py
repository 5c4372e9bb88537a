"""CLOB REST private routes: API keys (L1), orders, cancels, account reads (L2)."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from aiohttp import web
from eth_utils import to_checksum_address

from polycopy.sim.venue.auth import ApiKey, AuthError, verify_l1
from polycopy.sim.venue.lifecycle import live_orders
from polycopy.sim.venue import region
from polycopy.sim.venue.orders import EXCHANGE, EXCHANGE_V3, NEG_RISK_EXCHANGE
from polycopy.sim.venue.wallets import wallets_of
from polycopy.sim.venue.wire import order_json, trade_view

MAX_BATCH = 15
MAX_CANCEL_IDS = 1000  # DELETE /orders since 2026-06-15 (VENUE-2026-12.md §0.7)
RECORD = web.RequestKey("record", dict)  # this request's entry in venue.records
END_CURSOR = "LTE="


def error(status: int, message: str, headers: dict | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class Private:
    """Route handlers bound to the app's venue key."""

    def __init__(self, key: web.AppKey):
        self.key = key

    async def auth(self, request: web.Request) -> tuple[ApiKey, bytes]:
        """(API key, raw body) of an L2-authenticated request; 401 otherwise."""
        venue, body = request.app[self.key], await request.read()
        try:
            api = venue.keys.verify_l2(request.headers, request.method,
                                       request.rel_url.raw_path, body)
        except AuthError as e:
            raise web.HTTPUnauthorized(reason=e.message) from None
        skew = venue.max_clock_skew_s
        if skew is not None and abs(venue.clock() - int(request.headers["POLY_TIMESTAMP"])) > skew:
            raise web.HTTPUnauthorized(reason="Unauthorized/Invalid api key")
        request[RECORD]["api_key"] = api.key
        return api, body

    @staticmethod
    def parse(body: bytes) -> object:
        try:
            return json.loads(body) if body else None
        except ValueError:
            raise web.HTTPBadRequest(reason="Invalid payload") from None

    # -- L1 ------------------------------------------------------------------------------
    def l1(self, request: web.Request) -> tuple[str, int]:
        try:
            return verify_l1(request.headers, request.app[self.key].chain_id)
        except AuthError as e:
            raise web.HTTPUnauthorized(reason=e.message) from None

    async def create_key(self, request: web.Request) -> web.Response:
        address, nonce = self.l1(request)
        keys = request.app[self.key].keys
        if (address, nonce) in keys.by_owner:
            return error(400, "Could not create api key")
        return web.json_response(keys.derive(address, nonce).creds())

    async def derive_key(self, request: web.Request) -> web.Response:
        address, nonce = self.l1(request)
        return web.json_response(request.app[self.key].keys.derive(address, nonce).creds())

    async def list_keys(self, request: web.Request) -> web.Response:
        api, _ = await self.auth(request)
        keys = request.app[self.key].keys.by_key.values()
        return web.json_response({"apiKeys": [k.key for k in keys if k.address == api.address]})

    async def delete_key(self, request: web.Request) -> web.Response:
        api, _ = await self.auth(request)
        request.app[self.key].keys.remove(api.key)
        return web.json_response("OK")

    # -- orders --------------------------------------------------------------------------
    async def post_order(self, request: web.Request) -> web.StreamResponse:
        api, body = await self.auth(request)
        venue, payload = request.app[self.key], self.parse(body)
        order = payload.get("order") if isinstance(payload, dict) else None
        if isinstance(order, dict):
            request[RECORD]["token_id"] = str(order.get("tokenId"))
        if not region.allowed(venue, payload):
            return error(403, region.REGION_MSG)
        status, out = venue.place(api, payload)
        request[RECORD]["order_id"] = out.get("orderID")
        if status == 503:
            return web.json_response(out, status=503,
                                     headers={"Retry-After": str(out["retry_after_seconds"])})
        if status != 200:
            return web.json_response(out, status=status)
        return await self._deliver(request, out)

    async def _deliver(self, request: web.Request, out: object) -> web.StreamResponse:
        """The accepted-order reply, subject to the post-delay and drop faults."""
        faults = request.app[self.key].faults
        if faults.post_delay_ms:
            await asyncio.sleep(faults.post_delay_ms / 1000)
        if faults.drop_post_response:
            request[RECORD]["dropped"] = True
            request.transport.close()  # the order exists; the client sees a broken socket
        return web.json_response(out)

    async def post_orders(self, request: web.Request) -> web.StreamResponse:
        api, body = await self.auth(request)
        venue, payload = request.app[self.key], self.parse(body)
        if not isinstance(payload, list) or not payload:
            return error(400, "Invalid order payload")
        if len(payload) > MAX_BATCH:
            return error(400, f"Too many orders in payload: {len(payload)}, "
                              f"max allowed: {MAX_BATCH}")
        if not all(region.allowed(venue, item) for item in payload):
            return error(403, region.REGION_MSG)  # the whole batch: polysim's simplification
        results = []
        for item in payload:
            status, out = venue.place(api, item)
            if status == 200:
                results.append(out)
                continue
            results.append({"errorMsg": out.get("error", ""), "orderID": "", "takingAmount": "",
                            "makingAmount": "", "status": "", "success": status == 503,
                            "tradeIDs": [], "transactionsHashes": []})
        request[RECORD]["order_ids"] = [r["orderID"] for r in results]
        return await self._deliver(request, results)

    async def get_order(self, request: web.Request) -> web.Response:
        api, _ = await self.auth(request)
        rec = request.app[self.key].orders.get(request.match_info["order_id"])
        if rec is None or rec.key != api.key:
            return error(404, "order not found")
        return web.json_response(order_json(rec))

    async def get_orders(self, request: web.Request) -> web.Response:
        api, _ = await self.auth(request)
        q, venue = request.query, request.app[self.key]
        ids = live_orders(venue, api.key, q.get("market"), q.get("asset_id"))
        data = [order_json(venue.orders[i]) for i in ids if q.get("id") in (None, i)]
        return web.json_response({"data": data, "next_cursor": END_CURSOR,
                                  "limit": len(data), "count": len(data)})

    async def get_trades(self, request: web.Request) -> web.Response:
        api, _ = await self.auth(request)
        q, venue = request.query, request.app[self.key]
        data = []
        for t in venue.trades:
            owners = {t["owner"]} | {m["owner"] for m in t["maker_orders"]}
            if api.key not in owners:
                continue
            view = trade_view(t, api.key)
            if all(q.get(k) in (None, view[k]) for k in ("id", "market", "asset_id")) and (
                    q.get("before") is None or int(view["match_time"]) < int(q["before"])) and (
                    q.get("after") is None or int(view["match_time"]) > int(q["after"])):
                data.append(view)
        return web.json_response({"data": data, "next_cursor": END_CURSOR,
                                  "limit": len(data), "count": len(data)})

    # -- cancels and heartbeats ----------------------------------------------------------
    async def cancel_order(self, request: web.Request) -> web.Response:
        api, body = await self.auth(request)
        payload = self.parse(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("orderID"), str):
            return error(400, "Invalid payload")
        return web.json_response(request.app[self.key].cancel(api.key, [payload["orderID"]]))

    async def cancel_orders(self, request: web.Request) -> web.Response:
        api, body = await self.auth(request)
        payload = self.parse(body)
        if not isinstance(payload, list) or not all(isinstance(i, str) for i in payload):
            return error(400, "Invalid payload")
        if len(payload) > MAX_CANCEL_IDS:
            return error(400, f"Too many order ids: {len(payload)}, max allowed: {MAX_CANCEL_IDS}")
        return web.json_response(request.app[self.key].cancel(api.key, payload))

    async def cancel_all(self, request: web.Request) -> web.Response:
        api, _ = await self.auth(request)
        venue = request.app[self.key]
        return web.json_response(venue.cancel(api.key, live_orders(venue, api.key)))

    async def cancel_market(self, request: web.Request) -> web.Response:
        api, body = await self.auth(request)
        payload, venue = self.parse(body), request.app[self.key]
        if not isinstance(payload, dict) or not (payload.get("market") or payload.get("asset_id")):
            return error(400, "Invalid payload")
        ids = live_orders(venue, api.key, payload.get("market") or None,
                          payload.get("asset_id") or None)
        return web.json_response(venue.cancel(api.key, ids))

    async def post_heartbeat(self, request: web.Request) -> web.Response:
        api, body = await self.auth(request)
        payload = self.parse(body)
        hb_id = payload.get("heartbeat_id") if isinstance(payload, dict) else None
        status, out = request.app[self.key].heartbeat(api.key, hb_id)
        return web.json_response(out, status=status)

    async def balance_allowance(self, request: web.Request) -> web.Response:
        api, _ = await self.auth(request)
        venue, q = request.app[self.key], request.query
        try:
            sig_type = int(q.get("signature_type", "0"))
        except ValueError:
            return error(400, "Invalid signature_type")
        funder = venue.funders.get((api.address, sig_type)) or _funder(venue, api.address, sig_type)
        asset_type = q.get("asset_type", "COLLATERAL")
        if asset_type == "COLLATERAL":
            amount = venue.balance(funder)
        elif asset_type in ("CONDITIONAL", "CONDITIONAL-V2") and q.get("token_id"):
            amount = venue.positions(funder).get(q["token_id"], Decimal(0))
        else:
            return error(400, "Invalid asset_type")
        units = str(int(amount * 1_000_000))
        allowance = str(int(venue.allowances.get(funder, Decimal(0)) * 1_000_000))
        spenders = (EXCHANGE, NEG_RISK_EXCHANGE, EXCHANGE_V3)
        return web.json_response({"balance": units,
                                  "allowances": {s: allowance for s in spenders}})


def _funder(venue, eoa: str, sig_type: int) -> str:
    """The wallet `eoa` trades for with `sig_type` before any order told the venue: the
    derived proxy/Safe/deposit wallet (a funded one first), the EOA itself for type 0."""
    if sig_type not in (1, 2, 3):
        return eoa
    found = sorted(wallets_of(eoa, sig_type))
    funded = [w for w in found if venue.balance(w) > 0 or venue.positions(w)]
    return to_checksum_address((funded or found)[0])


def add_routes(app: web.Application, key: web.AppKey) -> None:
    p = Private(key)
    r = app.router
    r.add_post("/auth/api-key", p.create_key)
    r.add_get("/auth/derive-api-key", p.derive_key)
    r.add_get("/auth/api-keys", p.list_keys)
    r.add_delete("/auth/api-key", p.delete_key)
    r.add_post("/order", p.post_order)
    r.add_post("/orders", p.post_orders)
    r.add_get("/data/order/{order_id}", p.get_order)
    r.add_get("/data/orders", p.get_orders)
    r.add_get("/data/trades", p.get_trades)
    r.add_delete("/order", p.cancel_order)
    r.add_delete("/orders", p.cancel_orders)
    r.add_delete("/cancel-all", p.cancel_all)
    r.add_delete("/cancel-market-orders", p.cancel_market)
    r.add_post("/v1/heartbeats", p.post_heartbeat)
    r.add_get("/balance-allowance", p.balance_allowance)
    r.add_get("/balance-allowance/update", p.balance_allowance)
