"""polymarket.com's geoblock check, for polysim: `GET /api/geoblock` answers
`{"blocked": bool, "ip", "country", "region"}` (docs.polymarket.com/api-reference/geoblock).

Tests change the answer with `POST /geoblock` (same JSON, any subset of the fields), and what
the venue enforces with `"api"`: "open", "close_only" (POST /order refuses BUYs and any order
that does not reduce a position the account holds with `403 {"error":"Trading restricted in
your region"}`, VENUE-2026-12.md §5) or "blocked" (every order). The answer and the enforcement
are separate knobs because the venue's are: a close-only country still answers `blocked: true`.
Mount it on a polysim app with `Geoblock().add_routes(app)`, or serve `Geoblock().app()` alone.
"""
from __future__ import annotations

from aiohttp import web

from polycopy.sim.httputil import BadRequest, app_with_errors, read_json, reply

FIELDS = {"blocked": bool, "ip": str, "country": str, "region": str}
API_MODES = ("open", "close_only", "blocked")


class Geoblock:
    def __init__(self, blocked: bool = False, country: str = "IE", region: str = "L",
                 venue_faults=None):
        self.answer = {"blocked": blocked, "ip": "127.0.0.1", "country": country, "region": region}
        self.venue_faults = venue_faults  # VenueFaults: `region` is what POST /order enforces

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
        api = body.pop("api", None)
        if api is not None and (api not in API_MODES or self.venue_faults is None):
            raise BadRequest(f"api: one of {list(API_MODES)} (polysim's venue only)")
        for k, v in body.items():
            if k not in FIELDS or not isinstance(v, FIELDS[k]):
                raise BadRequest(f"{k}: expected one of {sorted(FIELDS)} with the right type")
        self.answer.update(body)
        if api is not None:
            self.venue_faults.region = api
        return reply({**self.answer, **({"api": self.venue_faults.region}
                                        if self.venue_faults is not None else {})})
