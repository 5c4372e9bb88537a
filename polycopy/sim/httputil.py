"""Small aiohttp helpers shared by the Data API, Gamma and control apps.

Errors are JSON `{"error": "..."}` with the real status; an unexpected exception is logged
here and answered 500 without a trace. Unknown query parameters are ignored, as the real APIs
do (clients add cache-busters like `&_=<ns>`).
"""
from __future__ import annotations

import json
import logging
from decimal import Decimal, InvalidOperation

from aiohttp import web

from polycopy.sim.wire import dumps

log = logging.getLogger(__name__)


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def reply(body, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(text=dumps(body), status=status, headers=headers,
                        content_type="application/json")


@web.middleware
async def json_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except BadRequest as exc:
        return reply({"error": str(exc)}, exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return reply({"error": exc.reason}, exc.status, headers={
            k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")})
    except Exception:  # noqa: BLE001 - last line of defence: log, never leak a trace
        log.exception("polysim %s %s failed", request.method, request.path)
        return reply({"error": "internal server error"}, 500)


def app_with_errors() -> web.Application:
    return web.Application(middlewares=[json_errors])


def get_int(q, name: str, default: int, low: int, high: int, clamp: bool = False) -> int:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"invalid {name}: {raw!r}") from None
    if clamp:
        return max(low, min(high, value))
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def get_bool(q, name: str, default: bool | None) -> bool | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequest(f"invalid {name}: {raw!r}")


def get_decimal(q, name: str) -> Decimal | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadRequest(f"invalid {name}: {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise BadRequest(f"invalid {name}: {raw!r}")
    return value


def get_list(q, name: str) -> list[str]:
    """Repeatable and comma-separated: `?a=1&a=2,3` -> ["1", "2", "3"]."""
    return [part.strip() for raw in q.getall(name, []) for part in raw.split(",")
            if part.strip()]


def parse_body(model, data):
    """Validate a JSON body with a pydantic model; a 400 that names each bad field."""
    from pydantic import ValidationError
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest("; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()))


async def read_json(request: web.Request):
    try:
        return json.loads(await request.text())
    except ValueError:
        raise BadRequest("invalid JSON body") from None
