"""Control routes for the venue as it is now: retired routes, resolution, balances, hostile
frames (the rest of the control API is control.py).

GET  /legacy, POST /legacy   {"data_api_v1"?: bool, "gamma_lists"?: bool} -> the flags
POST /resolve                {"market": slug | condition id, "winner"?: outcome}
                             -> {"resolved": false if it already was, "payouts": [...]}
POST /accounts               {"address", "pusd"?, "positions"?: {token: shares}} -> balances
POST /hostile                {"kind": hostile.FRAME_KINDS, "count"?: 1..100, "type"?: RTDS type}
                             -> {"sent": n}
POST /relayer/keys           {"key", "address"} (a Relayer API key) or {"key", "secret",
                             "passphrase"} (a Builder key) -> {"ok": true}
GET  /relayer/transactions   every relayer transaction (calls left out)
"""
from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from polycopy.sim.hostile import FRAME_KINDS
from polycopy.sim.httputil import BadRequest, parse_body, read_json, reply


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LegacyBody(_Body):
    data_api_v1: bool | None = None
    gamma_lists: bool | None = None


class ResolveBody(_Body):
    market: str
    winner: str | None = None


class AccountBody(_Body):
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    pusd: Decimal | None = Field(None, ge=0, le=10**12)
    positions: dict[str, Decimal] = {}


class KeyBody(_Body):
    key: str = Field(min_length=8)
    address: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{40}$")
    secret: str | None = Field(None, min_length=8)
    passphrase: str | None = None


class HostileBody(_Body):
    kind: str
    count: int = Field(1, ge=1, le=100)
    type: Literal["orders_matched", "trades"] = "orders_matched"


def add_venue_routes(app: web.Application, sim) -> None:
    async def show_legacy(_request) -> web.Response:
        return reply(asdict(sim.legacy))

    async def set_legacy(request: web.Request) -> web.Response:
        body = parse_body(LegacyBody, await read_json(request))
        for name, value in body.model_dump(exclude_none=True).items():
            setattr(sim.legacy, name, value)
        sim.data_api.cache.clear()
        return reply(asdict(sim.legacy))

    async def resolve(request: web.Request) -> web.Response:
        body = parse_body(ResolveBody, await read_json(request))
        info = sim.catalog.by_slug.get(body.market) or sim.catalog.by_cid.get(body.market.lower())
        if info is None:
            raise BadRequest(f"unknown market {body.market[:80]!r}", 404)
        if body.winner is not None and body.winner not in info.market.outcomes:
            raise BadRequest(f"winner must be one of {info.market.outcomes}")
        done = sim.resolver.resolve(info, body.winner)
        return reply({"resolved": done, "condition_id": info.market.condition_id,
                      "payouts": [str(p) for p in info.market.payouts]})

    async def accounts(request: web.Request) -> web.Response:
        body = parse_body(AccountBody, await read_json(request))
        venue = sim.venue
        pusd = venue.balance(body.address) if body.pusd is None else body.pusd
        venue.fund(body.address, pusd, body.positions)
        return reply({"address": body.address, "pusd": str(venue.balance(body.address)),
                      "positions": {t: str(s) for t, s in venue.positions(body.address).items()}})

    async def hostile(request: web.Request) -> web.Response:
        body = parse_body(HostileBody, await read_json(request))
        if body.kind not in FRAME_KINDS:
            raise BadRequest(f"kind must be one of {list(FRAME_KINDS)}")
        sent = sum(sim.feed.send_hostile(body.kind, body.type) for _ in range(body.count))
        if not sent:
            raise BadRequest("no good frame sent yet to model a hostile one on", 409)
        return reply({"sent": sent})

    async def add_key(request: web.Request) -> web.Response:
        body = parse_body(KeyBody, await read_json(request))
        if body.address and not body.secret:
            sim.relayer.keys.add_relayer_key(body.key, body.address)
        elif body.secret and body.passphrase and not body.address:
            sim.relayer.keys.add_builder_key(body.key, body.secret, body.passphrase)
        else:
            raise BadRequest("give address (Relayer key) or secret and passphrase (Builder key)")
        return reply({"ok": True})

    async def transactions(_request) -> web.Response:
        return reply([{k: v for k, v in tx.items() if not k.startswith("_")}
                      for tx in sim.relayer.txs.values()])

    app.router.add_post("/relayer/keys", add_key)
    app.router.add_get("/relayer/transactions", transactions)
    app.router.add_get("/legacy", show_legacy)
    app.router.add_post("/legacy", set_legacy)
    app.router.add_post("/resolve", resolve)
    app.router.add_post("/accounts", accounts)
    app.router.add_post("/hostile", hostile)
