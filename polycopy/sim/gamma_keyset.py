"""Gamma `GET /markets/keyset`: the only market listing the venue still serves (VENUE-2026-12.md
§1; the SDK's `list_markets_spec` in `_internal/actions/gamma.py`).

Filters (repeated or comma-separated): `id`, `slug`, `condition_ids`, `clob_token_ids`,
`position_ids`, `question_ids`, `closed`, `version` (v1, v2), `resolution_status`
(inactive, active, resolved). `slug` is a keyset filter in SDK 0.14.0 (`list_markets(slug=)`),
so polysim serves it. `limit` is 1..100 (default 20; more is a 400). Markets come in Gamma id
order; the answer is `{"markets": [...], "next_cursor": "..."}`, `next_cursor` left out on the
last page; `after_cursor` takes it back. The cursor names the last id served, so markets added
meanwhile never shift a page.
"""
from __future__ import annotations

import base64
import re

from aiohttp import web

from polycopy.sim.httputil import BadRequest, get_bool, get_list, reply

MAX_LIMIT = 100
RESOLUTION_STATUSES = ("inactive", "active", "resolved")


def _cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"gid:{last_id}".encode()).decode().rstrip("=")


def _after(raw: str | None) -> int:
    if not raw:
        return -1
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("invalid after_cursor") from None
    match = re.fullmatch(r"gid:(\d{1,12})", text)
    if not match:
        raise BadRequest("invalid after_cursor")
    return int(match.group(1))


class KeysetRoute:
    def __init__(self, gamma):
        self.gamma = gamma  # the Gamma app: catalog, _now(), body()

    def _wanted(self, q):
        sets = {name: set(get_list(q, name)) for name in (
            "id", "slug", "condition_ids", "clob_token_ids", "position_ids", "question_ids")}
        sets["condition_ids"] = {c.lower() for c in sets["condition_ids"]}
        versions = set(get_list(q, "version"))
        if versions - {"v1", "v2"}:
            raise BadRequest("version must be v1 or v2")
        status = q.get("resolution_status")
        if status is not None and status not in RESOLUTION_STATUSES:
            raise BadRequest(f"resolution_status must be one of {list(RESOLUTION_STATUSES)}")
        return sets, versions, status, get_bool(q, "closed", None)

    async def handle(self, request: web.Request) -> web.Response:
        q = request.query
        raw_limit = q.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
        after = _after(q.get("after_cursor"))
        sets, versions, status, closed = self._wanted(q)
        now = self.gamma._now()
        found = []
        for info in sorted(self.gamma.catalog.by_slug.values(), key=lambda i: int(i.gamma_id)):
            if int(info.gamma_id) <= after:
                continue
            body = self.gamma.body(info, now)
            if self._matches(body, info, sets, versions, status, closed):
                found.append(body)
                if len(found) > int(raw_limit):
                    break
        out = {"markets": found[:int(raw_limit)]}
        if len(found) > int(raw_limit):
            out["next_cursor"] = _cursor(int(found[int(raw_limit) - 1]["id"]))
        return reply(out)

    @staticmethod
    def _matches(body: dict, info, sets, versions, status, closed) -> bool:
        m = info.market
        checks = (("id", {info.gamma_id}), ("slug", {m.slug}),
                  ("condition_ids", {m.condition_id}),
                  ("clob_token_ids", set(m.tokens)),  # polysim lists them on v2 markets too
                  ("position_ids", set(m.tokens) if m.version == "v2" else set()),
                  ("question_ids", {body["questionID"]}))
        if any(sets[name] and not sets[name] & have for name, have in checks):
            return False
        if versions and m.version not in versions:
            return False
        if closed is not None and body["closed"] != closed:
            return False
        own = body.get("resolutionStatus") or (
            "resolved" if m.resolved else "active" if body["closed"] else "inactive")
        return status is None or own == status
