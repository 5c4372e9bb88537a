"""polymarket.com's geoblock check, for polysim: `GET /api/geoblock` answers
`{"blocked": bool, "ip", "country", "region"}` (docs.polymarket.com/api-reference/geoblock).

Tests change the answer with `POST /geoblock` (same JSON, any subset of the fields).
Mount it on a polysim app with `Geoblock().add_routes(app)`, or serve `Geoblock().app()` alone.
"""
from __future__ import annotations

from aiohttp import web

from polycopy.sim.httputil import BadRequest, app_with_errors, read_json, reply

FIELDS = {"blocked": bool, "ip": str, "country": str, "region": str}


class Geoblock:
    def __init__(self, blocked: bool = False, country: str = "IE", region: str = "L"):
        self.answer = {"blocked": blocked, "ip": "127.0.0.1", "country": country, "region": region}

    def app(self) -> web.Application:
        """A stand-alone app (polysim mounts the routes on its control app instead)."""
        app = app_with_errors()
        self.add_routes(app)
        return app

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/geoblock", self.get)
        app.router.add_post("/geoblock", self.set)

    async def get(self, request: web.Request) -> web.Response:
        return reply({**self.answer, "ip": request.remote or self.answer["ip"]})

    async def set(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("send a JSON object")
        for k, v in body.items():
            if k not in FIELDS or not isinstance(v, FIELDS[k]):
                raise BadRequest(f"{k}: expected one of {sorted(FIELDS)} with the right type")
        self.answer.update(body)
        return reply(self.answer)
