"""Data API v2 (`https://data-api.polymarket.com/v2`, VENUE-2026-12.md §1): `/v2/trades`,
`/v2/activity`, `/v2/positions`, `/v2/resolutions`, `/v2/value`.

Envelope `{"data": [...], "pagination": {"has_more", "next_cursor"}}`, cursor paging only
(`offset` is a 400), page size 1..1000 (default 100). Rows and params are snake_case as the SDK
sends and parses them (`polymarket/_internal/actions/data.py`, `models/data/*.py`); camelCase
params are accepted too, and the market filter is `condition` (aliases `condition_id`,
`conditionId`), at most 20 distinct ids. Errors are `{error, code, retryable, trace_id}` with an
`x-trace-id` header, as is every answer. A cursor is signed and counts rows from the end new
rows do not move (the oldest for newest-first lists), so a page never repeats or skips a row
that arrived meanwhile.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import uuid
from decimal import Decimal

from aiohttp import web

from polycopy.sim.httputil import BadRequest, reply
from polycopy.sim.positions_v2 import STATUSES, v2_position_rows, value_of
from polycopy.sim.resolution import resolution_rows
from polycopy.sim.wire import activity_row, trade_row, v2_row

ACTIVITY_TYPES = {"TRADE", "SPLIT", "MERGE", "REDEEM", "REWARD", "CONVERSION", "MIGRATION",
                  "DEPOSIT", "WITHDRAWAL", "YIELD", "MAKER_REBATE", "TAKER_REBATE",
                  "REFERRAL_REWARD", "TIP"}
ALIASES = {"condition_id": "condition"}  # after camelCase -> snake_case
MAX_CONDITIONS = 20
_CID = re.compile(r"^0x[0-9a-fA-F]{62}([0-9a-fA-F]{2})?$")
_USER = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SECRET = os.urandom(16)  # signs cursors: a forged or edited one is a 400


def v2_error(status: int, message: str, code: str, retryable: bool,
             headers: dict | None = None) -> web.Response:
    trace = uuid.uuid4().hex
    return reply({"error": message, "code": code, "retryable": retryable, "trace_id": trace},
                 status, headers={**(headers or {}), "x-trace-id": trace})


class Params:
    """A v2 query: snake_case or camelCase keys, repeated or comma-separated values."""

    def __init__(self, query):
        self.values: dict[str, list[str]] = {}
        for key, raw in query.items():
            name = re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
            name = ALIASES.get(name, name)
            self.values.setdefault(name, []).extend(
                p.strip() for p in raw.split(",") if p.strip())

    def one(self, name: str) -> str | None:
        got = self.values.get(name)
        return got[-1] if got else None

    def many(self, name: str) -> list[str]:
        return list(dict.fromkeys(self.values.get(name, [])))

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.one(name)
        if raw is None:
            return default
        if not re.fullmatch(r"-?\d{1,20}", raw) or not low <= int(raw) <= high:
            raise BadRequest(f"{name} must be an integer between {low} and {high}")
        return int(raw)

    def flag(self, name: str, default: bool | None) -> bool | None:
        raw = self.one(name)
        if raw is None:
            return default
        if raw.lower() not in ("true", "false", "1", "0"):
            raise BadRequest(f"invalid {name}: {raw[:40]!r}")
        return raw.lower() in ("true", "1")

    def amount(self, name: str) -> Decimal | None:
        raw = self.one(name)
        if raw is None:
            return None
        try:
            value = Decimal(raw)
        except ArithmeticError:
            raise BadRequest(f"invalid {name}") from None
        if not value.is_finite() or value < 0 or value > 10**15:
            raise BadRequest(f"invalid {name}")
        return value

    def choice(self, name: str, allowed, default=None):
        raw = self.one(name)
        if raw is not None and raw not in allowed:
            raise BadRequest(f"{name} must be one of {sorted(allowed)}")
        return raw if raw is not None else default

    def user(self, required: bool) -> str:
        raw = self.one("user") or ""
        if raw and not _USER.match(raw):
            raise BadRequest("invalid user address")
        if required and not raw:
            raise BadRequest("user is required")
        return raw.lower()

    def conditions(self) -> set[str]:
        ids = {c.lower() for c in self.many("condition")}
        if len(ids) > MAX_CONDITIONS:
            raise BadRequest(f"condition accepts at most {MAX_CONDITIONS} distinct ids")
        for cid in ids:
            if not _CID.match(cid):
                raise BadRequest(f"invalid condition id {cid[:70]!r}")
        return {c if len(c) == 66 else c + "00" for c in ids}  # a 31-byte V2 id, padded


def encode_cursor(route: str, anchor: int) -> str:
    body = f"{route}:{anchor}"
    sig = hmac.new(_SECRET, body.encode(), hashlib.sha256).hexdigest()[:16]
    return base64.urlsafe_b64encode(f"{body}:{sig}".encode()).decode().rstrip("=")


def decode_cursor(raw: str, route: str) -> int:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        body, sig = text.rsplit(":", 1)
        name, anchor = body.rsplit(":", 1)
        good = hmac.compare_digest(
            sig, hmac.new(_SECRET, body.encode(), hashlib.sha256).hexdigest()[:16])
        if not good or name != route:
            raise ValueError(raw)
        return int(anchor)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("invalid cursor") from None


def page(rows: list, p: Params, route: str, newest_first: bool, convert=None) -> dict:
    """One page of `rows` (each through `convert`, page rows only: a wallet may have thousands).
    The cursor anchors on the end that new rows do not move: the count of rows after the page
    for newest-first lists, the offset otherwise."""
    limit = p.integer("limit", 100, 1, 1000)
    raw = p.one("cursor")
    start = 0
    if raw:
        anchor = decode_cursor(raw, route)
        start = max(0, len(rows) - anchor) if newest_first else anchor
    end = start + limit
    more = end < len(rows)
    cursor = encode_cursor(route, len(rows) - end if newest_first else end) if more else None
    data = [convert(r) for r in rows[start:end]] if convert else rows[start:end]
    return {"data": data, "pagination": {"has_more": more, "next_cursor": cursor}}


def _window(p: Params) -> tuple[int, int]:
    return p.integer("start", 0, 0, 2**40), p.integer("end", 2**40, 0, 2**40)


class DataApiV2:
    def __init__(self, api):
        self.api = api  # the DataApi: feed, catalog, venue, clock, fills()

    def add_routes(self, app: web.Application) -> None:
        for path, handler in (("/v2/trades", self.trades), ("/v2/activity", self.activity),
                              ("/v2/positions", self.positions),
                              ("/v2/resolutions", self.resolutions), ("/v2/value", self.value)):
            app.router.add_get(path, self._guard(handler))

    def _guard(self, handler):
        async def run(request: web.Request) -> web.Response:
            if "offset" in request.query:
                return v2_error(400, "offset is not supported: page with cursor",
                                "invalid_request", False)
            try:
                body = handler(Params(request.query))
            except BadRequest as exc:
                return v2_error(exc.status, str(exc), "invalid_request", False)
            trace = uuid.uuid4().hex
            return reply(body, headers={"x-trace-id": trace})
        return run

    def _fills(self, p: Params, user: str):
        events = set(p.many("event_id"))
        side = p.choice("side", ("BUY", "SELL"))
        return self.api.fills(user, p.conditions(), side, *_window(p), events)

    def trades(self, p: Params) -> dict:
        user = p.user(required=False)
        taker_only = p.flag("taker_only", True)
        kind = p.choice("filter_type", ("CASH", "TOKENS"))
        amount = p.amount("filter_amount")
        if (kind is None) != (amount is None):
            raise BadRequest("filter_type and filter_amount go together")
        fills = [f for f in self._fills(p, user) if not (taker_only and f.role != "taker") and (
            amount is None or (f.size * f.price if kind == "CASH" else f.size) >= amount)]
        out = page(fills, p, "trades", True, lambda f: v2_row(trade_row(f)))
        if not p.one("cursor"):  # the hostile-rows knob: bad rows on the first page only
            out["data"] = self.api.hostile(user, out["data"], True)
        return out

    def activity(self, p: Params) -> dict:
        user = p.user(required=True)
        types = set(p.many("type")) or ACTIVITY_TYPES
        if types - ACTIVITY_TYPES:
            raise BadRequest(f"invalid type: {sorted(types - ACTIVITY_TYPES)[:3]}")
        ascending = p.choice("sort_direction", ("ASC", "DESC"), "DESC") == "ASC"
        p.flag("exclude_deposits_withdrawals", False)
        items = [(f.unix_ts, f) for f in self._fills(p, user)] if "TRADE" in types else []
        conditions, (start, end) = p.conditions(), _window(p)
        items += [(r["timestamp"], r) for r in self.api.feed.visible_activity(user)
                  if r["type"] in types and (not conditions or r["conditionId"] in conditions)
                  and start <= r["timestamp"] <= end]
        items.sort(key=lambda item: item[0], reverse=not ascending)
        return page(items, p, "activity", not ascending,
                    lambda item: v2_row(item[1] if isinstance(item[1], dict) else activity_row(item[1])))

    def positions(self, p: Params) -> dict:
        user, conditions = p.user(required=False), p.conditions()
        status = p.choice("status", STATUSES)
        if not user and len(conditions) != 1:
            raise BadRequest("give user or exactly one condition")
        if status in ("REDEEMABLE_LOST", "MERGEABLE") and not user:
            raise BadRequest(f"{status} requires user")
        rows = v2_position_rows(self.api, user, p, status, conditions)
        return page(rows, p, "positions", False)

    def resolutions(self, p: Params) -> dict:
        picked = [n for n in ("question_id", "condition", "event_id") if p.many(n)]
        if len(picked) != 1:
            raise BadRequest("give exactly one of question_id, condition or event_id")
        if len(p.many(picked[0])) > MAX_CONDITIONS:
            raise BadRequest(f"{picked[0]} accepts at most {MAX_CONDITIONS} values")
        wanted = p.conditions() if picked[0] == "condition" else set(p.many(picked[0]))
        return {"data": resolution_rows(self.api.catalog, picked[0], wanted)}

    def value(self, p: Params) -> dict:
        user = p.user(required=True)
        rows = v2_position_rows(self.api, user, p, None, p.conditions())
        return {"data": {"proxy_wallet": user, "value": str(value_of(rows))}}
