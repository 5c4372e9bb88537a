"""The control API for tests and benchmarks (loopback only).

GET  /health                     {"ok": true, "t": scenario seconds}
GET  /records                    {"source_fills": [...], "clob": [...]}  (copy-delay inputs)
GET  /delays                     each POST /order joined to the source fill it copies
POST /fills                      inject a source fill now; returns its records
GET  /faults, POST /faults       show / apply a fault: {"kind", "for_s"?, "value"?, "type"?}
                                 (polygon_* kinds set the Polygon node's knobs)
POST /reset                      forget fills and records, faults back to the scenario's
GET  /api/geoblock, POST /geoblock   the venue's geoblock answer (and `api` enforcement)
GET  /stats                      RTDS sockets and frames sent, driver errors
GET  /legacy, POST /legacy       retired routes served again: {"data_api_v1", "gamma_lists"}
POST /resolve                    {"market": slug | condition id, "winner"?} resolve it now
POST /accounts                   {"address", "pusd"?, "positions"?}: set an account's balances
POST /hostile                    {"kind", "count"?}: hostile RTDS frames now (hostile.py)
"""
from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from polycopy.sim import chain_faults, faults
from polycopy.sim.delays import copy_delays
from polycopy.sim.control_venue import add_venue_routes
from polycopy.sim.geoblock import Geoblock
from polycopy.sim.driver import apply_polygon_fault
from polycopy.sim.httputil import BadRequest, app_with_errors, parse_body, read_json, reply
from polycopy.sim.plan import PlannedFill
from polycopy.sim.scenario import FaultSpec


class InjectFill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str | None = None  # or market + outcome
    market: str | None = None
    outcome: str | None = None
    side: Literal["BUY", "SELL"] = "BUY"
    price: Decimal = Field(gt=0, lt=1)
    size: Decimal = Field(gt=0)
    role: Literal["taker", "maker"] = "taker"
    tx_hash: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{64}$")
    repeat: int = Field(1, ge=1, le=100)


class Control:
    def __init__(self, sim):
        self.sim = sim  # the Polysim: feed, venue, driver, rtds, reset_faults()
        geo = sim.scenario.geoblock
        self.geoblock = Geoblock(geo.blocked, geo.country, geo.region, sim.venue.faults)

    def app(self) -> web.Application:
        app = app_with_errors()
        self.geoblock.add_routes(app)
        app.router.add_get("/health", self.health)
        app.router.add_get("/records", self.records)
        app.router.add_get("/delays", self.delays)
        app.router.add_post("/fills", self.fills)
        app.router.add_get("/faults", self.show_faults)
        app.router.add_post("/faults", self.set_fault)
        app.router.add_post("/reset", self.reset)
        app.router.add_get("/stats", self.stats)
        add_venue_routes(app, self.sim)
        return app

    async def health(self, _request) -> web.Response:
        return reply({"ok": True, "t": round(self.sim.clock.t(), 3)})

    async def records(self, _request) -> web.Response:
        return reply({"source_fills": list(self.sim.feed.records),
                      "clob": list(self.sim.venue.records)})

    async def delays(self, _request) -> web.Response:
        return reply(copy_delays(list(self.sim.feed.records), list(self.sim.venue.records)))

    async def fills(self, request: web.Request) -> web.Response:
        spec = parse_body(InjectFill, await read_json(request))
        if not spec.token and not (spec.market and spec.outcome):
            raise BadRequest("give token, or market and outcome")
        if spec.token and spec.token not in self.sim.catalog.by_token:
            raise BadRequest(f"unknown token {spec.token}")
        planned = PlannedFill(spec.market or "", spec.outcome or "", spec.side, spec.price,
                              spec.size, spec.role, spec.repeat, spec.token)
        try:
            records = self.sim.driver.emit(self.sim.clock.t(), [planned], spec.tx_hash)
        except KeyError as exc:
            raise BadRequest(str(exc).strip("'\"")) from None
        return reply({"records": records})

    async def show_faults(self, _request) -> web.Response:
        return reply(self._snapshot())

    async def set_fault(self, request: web.Request) -> web.Response:
        spec = parse_body(FaultSpec, await read_json(request))
        loop = asyncio.get_running_loop()
        if chain_faults.apply(spec, self.sim.chain_faults):
            pass
        elif not apply_polygon_fault(spec, self.sim.polygon.faults, loop):
            try:
                faults.apply(spec, self.sim.feed_faults, self.sim.venue.faults, loop)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return reply(self._snapshot())

    def _snapshot(self) -> dict:
        return {**faults.snapshot(self.sim.feed_faults, self.sim.venue.faults),
                "polygon": vars(self.sim.polygon.faults),
                "chain": chain_faults.snapshot(self.sim.chain_faults)}

    async def reset(self, _request) -> web.Response:
        self.sim.reset()
        return reply({"ok": True})

    async def stats(self, _request) -> web.Response:
        rtds = self.sim.rtds
        return reply({"rtds_sockets": len(rtds.conns), "rtds_frames_sent": rtds.sent,
                      "source_fills": len(self.sim.feed.records),
                      "clob_requests": len(self.sim.venue.records),
                      "driver_errors": list(self.sim.driver.errors),
                      "polygon_sockets": len(self.sim.polygon.conns),
                      "settlements_failed": len(self.sim.driver.failed),
                      "hostile_frames_sent": dict(self.sim.feed.hostile_sent),
                      "resolved": list(self.sim.resolver.resolved)})
